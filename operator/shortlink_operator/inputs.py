"""What a pass plans from: one snapshot of the operator's indexes (see `link_index`).

The publisher takes the snapshot when a pass starts, not when a change is requested, so a burst
of changes is planned once, from the newest state.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from shortlink_operator.link_index import IndexedLink, Indexes
from shortlink_operator.policy import Policy
from shortlink_operator.resolution import Referents


@dataclass(frozen=True, slots=True)
class Inputs:
    """Everything a pass plans from: a snapshot of the operator's indexes."""

    links: Sequence[IndexedLink]
    policies: Sequence[Policy] = ()
    namespace_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    referents: Referents = field(default_factory=Referents)


#: Returns the complete, current inputs; called once per pass.
Source = Callable[[], Inputs]


def inputs_of(indexes: Indexes) -> Inputs:
    """What the operator's indexes hold now; notes in `indexes.referenced` what they refer to.

    Taken in one step (no await), so an object changed after it is either in this snapshot or
    seen as referenced by the handler that takes the change, which then asks for a pass.
    """
    links = indexes.links.snapshot()
    referents = Referents(
        ingresses=dict(indexes.ingresses.items()),
        httproutes=dict(indexes.httproutes.items()),
        gateways=dict(indexes.gateways.items()),
        services=dict(indexes.services.items()),
    )
    indexes.referenced = referenced_by(links, referents)
    return Inputs(
        links=links,
        policies=indexes.policies.snapshot(),
        namespace_labels={name: labels for (_, name), labels in indexes.namespaces.items()},
        referents=referents,
    )


def referenced_by(
    links: Iterable[IndexedLink], referents: Referents
) -> frozenset[tuple[str, str, str]]:
    """(kind, namespace, name) of each object the links name, and of their HTTPRoutes' Gateways."""
    named = {
        link.link.target.key(link.namespace)
        for link in links
        if link.link is not None and link.link.target is not None
    }
    gateways = {
        ("Gateway", parent.namespace, parent.name)
        for kind, namespace, name in named
        if kind == "HTTPRoute" and (route := referents.httproutes.get((namespace, name)))
        for parent in route.parents
    }
    return frozenset(named | gateways)
