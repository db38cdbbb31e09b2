"""Incremental planning (`incremental.Planner`) gives the plan `planning.plan` gives, at every step.

Random sequences of changes (links created, changed and deleted, slugs contested, generated codes,
aliases, hosts, loops back at the shortener, policies, targets appearing and going, time passing,
shards near their budget, statuses and shards written in full or in part, a shard deleted by
hand) are planned both ways after each change, and the two plans must be equal: the incremental
path may not drift from the full one.
"""

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from shortlink_operator.incremental import Planner
from shortlink_operator.link_index import IndexedLink, index_link
from shortlink_operator.planning import Plan, PlanConfig, plan
from shortlink_operator.policy import Policy, index_policy
from shortlink_operator.referents import read_ingress
from shortlink_operator.resolution import Referents
from shortlink_operator.table_state import TableReader

BASE = "https://go.example"
NAMES = [f"l{i}" for i in range(4)]
NAMESPACES = ["a", "a", "b"]
SLUGS = [None, None, "x", "x", "X", "wiki", "team-a-x"]
HOSTS = ["", "", "s.example"]
URLS = [
    "https://example.com/",
    "https://example.com/long/" + "p" * 120,
    "https://s.example/loop",  # back at a host some link serves, when one does
    f"{BASE}/x",  # back at the shortener
]
POLICY = index_policy(
    {"metadata": {"name": "p"}, "spec": {"namespaces": ["a"], "allowedSlugPrefixes": ["team-a-"]}}
)


def ingress(host: str) -> Referents:
    body = {"metadata": {"name": "web", "namespace": "a"}, "spec": {"rules": [{"host": host}]}}
    return Referents(ingresses={("a", "web"): read_ingress(body)})


spec_strategy = st.fixed_dictionaries(
    {
        "slug": st.sampled_from(SLUGS),
        "aliases": st.lists(st.sampled_from(["al", "x", "wiki", "b"]), max_size=2, unique=True),
        "host": st.sampled_from(HOSTS),
        "url": st.sampled_from(URLS),
        "target": st.sampled_from([False, False, False, True]),
        "suspended": st.sampled_from([False, False, True]),
        "expires": st.sampled_from([None, None, 30, 200]),
    }
)

#: Writes come often: most of what the incremental planner keeps is only kept once a status is
#: written and seen back.
write = st.tuples(st.just("write"), st.sampled_from([1.0, 1.0, 1.0, 0.5, 0.0]))
change = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(NAMES), st.sampled_from(NAMESPACES), spec_strategy),
    st.tuples(st.just("delete"), st.sampled_from(NAMES), st.sampled_from(NAMESPACES)),
    write,
    write,
    write,
    st.tuples(st.just("tick"), st.sampled_from([1, 40, 300])),
    st.tuples(st.just("policy"), st.booleans()),
    st.tuples(st.just("ingress"), st.sampled_from([None, "app.example", "s.example"])),
    st.tuples(st.just("hand-delete")),
)


@dataclass
class World:
    """The cluster as the planners see it: objects, their statuses, the table, the clock."""

    config: PlanConfig
    now: float = 1_900_000_000.0
    bodies: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    indexed: dict[tuple[str, str], IndexedLink] = field(default_factory=dict)
    shards: dict[str, dict[str, str]] = field(default_factory=dict)
    policies: list[Policy] = field(default_factory=list)
    referents: Referents = field(default_factory=Referents)
    created: int = 0

    def put(self, name: str, ns: str, spec: dict[str, Any]) -> None:
        body = self.bodies.get((ns, name))
        raw: dict[str, Any] = {"url": spec["url"]}
        if spec["target"]:
            raw = {"targetRef": {"kind": "Ingress", "name": "web", "namespace": "a"}}
        for key in ("slug", "host"):
            if spec[key]:
                raw[key] = spec[key]
        if spec["aliases"]:
            raw["aliases"] = spec["aliases"]
        if spec["suspended"]:
            raw["suspended"] = True
        if spec["expires"] is not None:
            moment = self.now + spec["expires"]
            raw["expiresAt"] = _iso(moment)
        if body is None:
            self.created += 1
            body = {
                "metadata": {
                    "namespace": ns,
                    "name": name,
                    "uid": f"{ns}-{name}",
                    # Two links a second: ties are broken by namespace/name.
                    "creationTimestamp": _iso(1_800_000_000 + self.created // 2),
                    "generation": 1,
                },
                "spec": raw,
            }
        else:
            meta = {**body["metadata"], "generation": body["metadata"]["generation"] + 1}
            body = {**body, "metadata": meta, "spec": raw}
        self.bodies[(ns, name)] = body
        self.indexed[(ns, name)] = index_link(body)

    def delete(self, name: str, ns: str) -> None:
        self.bodies.pop((ns, name), None)
        self.indexed.pop((ns, name), None)

    def write(self, result: Plan, share: float) -> None:
        """Write the plan's shards, and `share` of its statuses (a pass that gave way)."""
        self.shards = {name: dict(data) for name, data in result.shards.items()}
        keys = sorted(result.statuses)
        for key in keys[: int(len(keys) * share)]:
            body = {**self.bodies[key], "status": result.statuses[key]}
            self.bodies[key] = body
            self.indexed[key] = index_link(body)  # the status coming back through the watch


def _iso(moment: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(moment, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def spec(**given: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "slug": None,
        "aliases": [],
        "host": "",
        "url": URLS[0],
        "target": False,
    }
    return {**defaults, "suspended": False, "expires": None, **given}


WRITTEN = [("write", 1.0), ("write", 1.0)]


@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    changes=st.lists(change, min_size=1, max_size=40),
    budget=st.sampled_from([256 * 1024, 1200, 700]),
    grace=st.sampled_from([0.0, 60.0]),
    shard_count=st.sampled_from([1, 3]),
)
# The loser of a slug gets it once the owner is gone, though nothing of its own changed.
@example(
    changes=[
        ("put", "l0", "a", spec(slug="x")),
        ("put", "l1", "a", spec(slug="x")),
        *WRITTEN,
        ("delete", "l0", "a"),
        *WRITTEN,
    ],
    budget=256 * 1024,
    grace=0.0,
    shard_count=1,
)
# An expiry passes while nothing changes.
@example(
    changes=[("put", "l0", "a", spec(expires=30)), *WRITTEN, ("tick", 40), *WRITTEN],
    budget=256 * 1024,
    grace=0.0,
    shard_count=1,
)
# A full shard: the newer link waits, and gets in once the older one goes.
@example(
    changes=[
        ("put", "l0", "a", spec(url=URLS[1])),
        ("put", "l1", "a", spec(url=URLS[1])),
        *WRITTEN,
        ("delete", "l0", "a"),
        *WRITTEN,
    ],
    budget=700,
    grace=0.0,
    shard_count=1,
)
# A grace-period hold ends.
@example(
    changes=[
        ("put", "l0", "a", spec(slug="x")),
        *WRITTEN,
        ("delete", "l0", "a"),
        *WRITTEN,
        ("put", "l1", "a", spec(slug="x")),
        *WRITTEN,
        ("tick", 300),
        *WRITTEN,
    ],
    budget=256 * 1024,
    grace=60.0,
    shard_count=1,
)
def test_incremental_and_full_planning_give_the_same_plan(
    changes: list[tuple[Any, ...]], budget: int, grace: float, shard_count: int
) -> None:
    config = PlanConfig(
        base_url=BASE,
        shard_count=shard_count,
        slug_key=b"k",
        shard_budget=budget,
        grace_seconds=grace,
    )
    world = World(config)
    planner = Planner()
    reader = TableReader()
    last: Plan | None = None
    for step in changes:
        match step:
            case ("put", name, ns, spec):
                world.put(name, ns, spec)
            case ("delete", name, ns):
                world.delete(name, ns)
            case ("write", share):
                if last is not None:
                    world.write(last, share)
            case ("tick", seconds):
                world.now += seconds
            case ("policy", on):
                world.policies = [POLICY] if on else []
            case ("ingress", host):
                world.referents = ingress(host) if host else Referents()
            case ("hand-delete",):
                world.shards.pop(min(world.shards, default=""), None)
        links = list(world.indexed.values())
        table = reader.read(world.shards)
        arguments: dict[str, Any] = {
            "settings": config,
            "now": world.now,
            "table": table,
            "policies": world.policies,
            "namespace_labels": {},
            "referents": world.referents,
        }
        full = plan(links, **arguments)
        incremental = planner.plan(links, **arguments)
        assert incremental.shards == full.shards, step
        assert incremental.statuses == full.statuses, step
        assert incremental.events == full.events, step
        assert incremental.next_change == full.next_change, step
        assert incremental.depends_on == full.depends_on, step
        for name, owners in incremental.served.items():  # what the table reader would read
            assert TableReader().read({name: incremental.shards[name]}).served == owners, step
        last = full
