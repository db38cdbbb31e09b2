"""The chart on a real node: pods, probes, Services, Lease handover, rollouts, namespace deletion,
metrics scraped by a real Prometheus, and `helm test`.

Every request goes to the node's own pod and Service addresses (10.244.0.0/24, 10.96.0.0/16), a
new connection each time (so that Service load-balancing and endpoint changes are seen), with a
bound on the count and on the time of every loop.
"""

import json
import re
import secrets
import threading
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from shortlink_localcluster.release import OPERATORS, REDIRECTORS, RELEASE, Release
from shortlink_localcluster.stack import kubectl
from tests.cluster.helpers import eventually, shortlink
from tests.prometheus.server import Prometheus

REDIRECTOR_SERVICE = f"{RELEASE}-redirector"


def get(url: str) -> tuple[int, str | None]:
    """One GET on a new connection, not following redirects: (status, Location)."""
    with httpx.Client(timeout=5, follow_redirects=False) as client:
        response = client.get(url)
        return response.status_code, response.headers.get("location")


def apply_link(release: Release, namespace: str, slug: str, url: str) -> None:
    release.kubectl("apply", "-n", namespace, "-f", "-", stdin=shortlink(slug, url))
    release.kubectl(
        "wait", "-n", namespace, "--for=condition=Ready", "--timeout=60s", f"shortlink/{slug}"
    )


def new_namespace(release: Release, prefix: str) -> str:
    name = f"{prefix}-{secrets.token_hex(3)}"
    release.kubectl("create", "namespace", name)
    return name


def test_every_pod_is_ready_as_non_root_on_a_read_only_root(release: Release) -> None:
    pods = release.pods("redirector") + release.pods("operator")
    assert len(pods) == REDIRECTORS + OPERATORS
    for pod in pods:
        conditions = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
        assert conditions["Ready"] == "True", pod["metadata"]["name"]
        name = pod["metadata"]["name"]
        probe = (
            "import os\n"
            "print(os.getuid(), os.getgid())\n"
            "try:\n"
            "    open('/probe', 'w')\n"
            "except OSError as error:\n"
            "    print(error.errno)\n"
        )
        output = release.kubectl(
            "exec", "-n", release.namespace, name, "--", "python3", "-c", probe
        )
        assert output.split() == ["65532", "65532", "30"]  # EROFS: the root is read-only


def test_the_namespace_enforces_pod_security_restricted(release: Release) -> None:
    """The release's namespace really refuses a pod that is not restricted."""
    loose = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "loose"},
        "spec": {"containers": [{"name": "c", "image": "shortlink-pause:v1"}]},
    }
    refused = kubectl(
        release.plane,
        "create",
        "-n",
        release.namespace,
        "-f",
        "-",
        stdin=json.dumps(loose),
        check=False,
    )
    assert refused.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in refused.stderr


def test_the_images_report_the_installed_version(release: Release) -> None:
    for component, port in (("redirector", 9090), ("operator", 9091)):
        pod = release.pods(component)[0]
        body = httpx.get(f"http://{pod['status']['podIP']}:{port}/metrics", timeout=5).text
        # shortlink_build_info (redirector), shortlink_operator_build_info (operator)
        (line,) = [x for x in body.splitlines() if re.match(r"shortlink_(\w+_)?build_info\{", x)]
        assert 'version="unknown"' not in line
        assert 'version="0.' in line or 'version="1.' in line, line


def test_a_link_is_served_by_every_replica_and_through_the_service(release: Release) -> None:
    namespace = new_namespace(release, "links")
    slug = f"node-{secrets.token_hex(3)}"
    apply_link(release, namespace, slug, "https://example.com/node")
    for base in release.redirector_urls():
        eventually(partial(_served, base, slug, "https://example.com/node"), timeout=30)
    service = f"http://{release.service_ip(REDIRECTOR_SERVICE)}"
    for _ in range(3 * REDIRECTORS):
        assert get(f"{service}/{slug}") == (302, "https://example.com/node")


def test_helm_test_passes(release: Release) -> None:
    result = release.helm_run("test", RELEASE, "--namespace", release.namespace, "--timeout", "3m")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Phase:          Succeeded" in result.stdout


def test_prometheus_scrapes_every_target_of_the_charts_service_monitors(
    release: Release, tmp_path: Path
) -> None:
    """A real Prometheus scrapes exactly the endpoints the chart's ServiceMonitors select (a
    static config generated from them: this node runs no prometheus-operator)."""
    jobs = service_monitor_targets(release)
    assert set(jobs) == {f"{RELEASE}-redirector", f"{RELEASE}-operator"}
    assert len(jobs[f"{RELEASE}-redirector"]) == REDIRECTORS
    assert len(jobs[f"{RELEASE}-operator"]) == OPERATORS
    prometheus = Prometheus(tmp_path / "prometheus", jobs=jobs)
    try:

        def all_up() -> None:
            up = prometheus.query("up")
            assert len(up) == REDIRECTORS + OPERATORS
            assert {sample["value"][1] for sample in up} == {"1"}

        eventually(all_up, timeout=30, interval=1)
        # The alert that fired forever while the chart gave the operator no metrics is quiet.
        assert prometheus.query(f'up{{job="{RELEASE}-operator"}} == 0') == []
        assert prometheus.query("shortlink_operator_build_info")
    finally:
        prometheus.stop()


def test_deleting_the_lease_holder_hands_the_writer_role_over(release: Release) -> None:
    lease = release.get("lease", "-n", release.namespace, "shortlink-operator")
    holder = lease["spec"]["holderIdentity"]
    operators = {pod["metadata"]["name"] for pod in release.pods("operator")}
    assert holder in operators
    release.kubectl("delete", "pod", "-n", release.namespace, holder, "--wait=false")

    def handed_over() -> None:
        # The standby, or the Deployment's replacement pod if it is quicker to the Lease: either
        # way another running operator writes, and the deleted one never again.
        now = release.get("lease", "-n", release.namespace, "shortlink-operator")["spec"]
        running = {pod["metadata"]["name"] for pod in release.pods("operator")} - {holder}
        assert now.get("holderIdentity") in running

    eventually(handed_over, timeout=60, interval=0.5)
    # The new holder writes: a link created now is served.
    namespace = new_namespace(release, "handover")
    slug = f"after-{secrets.token_hex(3)}"
    apply_link(release, namespace, slug, "https://example.com/after")
    service = f"http://{release.service_ip(REDIRECTOR_SERVICE)}"
    eventually(lambda: _served(service, slug, "https://example.com/after"), timeout=30)


def test_a_rolling_update_of_the_redirector_loses_no_request(release: Release) -> None:
    namespace = new_namespace(release, "rollout")
    slug = f"roll-{secrets.token_hex(3)}"
    apply_link(release, namespace, slug, "https://example.com/roll")
    service = f"http://{release.service_ip(REDIRECTOR_SERVICE)}"
    eventually(lambda: _served(service, slug, "https://example.com/roll"), timeout=30)
    before = {pod["metadata"]["name"] for pod in release.pods("redirector")}

    outcomes: Counter[str] = Counter()
    stop = threading.Event()

    def client_loop() -> None:
        deadline = time.monotonic() + 240
        for _ in range(20_000):  # bounded in count and in time
            if stop.is_set() or time.monotonic() > deadline:
                return
            try:
                status, location = get(f"{service}/{slug}")
                outcomes[f"{status} {location}"] += 1
            except httpx.HTTPError as error:
                outcomes[type(error).__name__] += 1
            time.sleep(0.01)

    client = threading.Thread(target=client_loop)
    client.start()
    try:
        release.kubectl(
            "rollout", "restart", "-n", release.namespace, f"deployment/{REDIRECTOR_SERVICE}"
        )
        release.kubectl(
            "rollout",
            "status",
            "-n",
            release.namespace,
            f"deployment/{REDIRECTOR_SERVICE}",
            "--timeout=180s",
        )
        eventually(lambda: _replaced(release, before), timeout=60, interval=1)
    finally:
        stop.set()
        client.join()
    assert set(outcomes) == {"302 https://example.com/roll"}, outcomes
    assert outcomes["302 https://example.com/roll"] > 50  # the loop ran through the rollout


def test_deleting_a_namespace_with_links_finishes_and_its_links_leave(release: Release) -> None:
    namespace = new_namespace(release, "gone")
    slugs = [f"gone-{secrets.token_hex(3)}" for _ in range(3)]
    for slug in slugs:
        apply_link(release, namespace, slug, f"https://example.com/{slug}")
    urls = release.redirector_urls()
    for base in urls:
        for slug in slugs:
            eventually(partial(_served, base, slug, f"https://example.com/{slug}"), timeout=30)
    release.kubectl("delete", "namespace", namespace, "--timeout=120s")
    assert release.kubectl("get", "namespace", namespace, check=False) == ""
    for base in urls:
        for slug in slugs:
            eventually(partial(_gone, base, slug), timeout=30)


def test_a_link_declared_on_a_service_is_served_and_collected_with_it(release: Release) -> None:
    """The chart's operator (its own RBAC) creates the ShortLink an annotation declares; the
    node's garbage collector deletes it with its Service, and every replica stops serving it."""
    namespace = new_namespace(release, "declared")
    slug = f"svc-{secrets.token_hex(3)}"
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "web",
            "annotations": {
                "shortlink.dev/slug": slug,
                "shortlink.dev/base-url": "https://web.example.com/",
            },
        },
        "spec": {"type": "ClusterIP", "ports": [{"port": 80}]},
    }
    release.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(service))
    release.kubectl(
        "wait", "-n", namespace, "--for=create", "--timeout=60s", "shortlink/service-web"
    )
    release.kubectl(
        "wait", "-n", namespace, "--for=condition=Ready", "--timeout=60s", "shortlink/service-web"
    )
    urls = release.redirector_urls()
    for base in urls:
        eventually(partial(_served, base, slug, "https://web.example.com/"), timeout=30)
    release.kubectl("delete", "service", "-n", namespace, "web")

    def collected() -> None:
        found = release.kubectl("get", "shortlinks", "-n", namespace, "-o", "name")
        assert found.strip() == "", found

    eventually(collected, timeout=60)
    for base in urls:
        eventually(partial(_gone, base, slug), timeout=30)


def service_monitor_targets(release: Release) -> dict[str, list[str]]:
    """For each of the release's ServiceMonitors: the address of every endpoint of the port it
    names, on every Service it selects, as prometheus-operator would discover them."""
    jobs: dict[str, list[str]] = {}
    monitors = release.get("servicemonitors", "-n", release.namespace)["items"]
    for monitor in monitors:
        selector = ",".join(
            f"{k}={v}" for k, v in monitor["spec"]["selector"]["matchLabels"].items()
        )
        port_names = {endpoint["port"] for endpoint in monitor["spec"]["endpoints"]}
        targets: list[str] = []
        for service in release.get("services", "-n", release.namespace, "-l", selector)["items"]:
            slices = release.get(
                "endpointslices",
                "-n",
                release.namespace,
                "-l",
                f"kubernetes.io/service-name={service['metadata']['name']}",
            )["items"]
            for endpoint_slice in slices:
                ports = [p["port"] for p in endpoint_slice["ports"] if p["name"] in port_names]
                for endpoint in endpoint_slice["endpoints"]:
                    if endpoint["conditions"].get("ready"):
                        targets += [
                            f"{ip}:{port}" for ip in endpoint["addresses"] for port in ports
                        ]
        jobs[monitor["metadata"]["name"]] = sorted(targets)
    return jobs


def _served(base: str, slug: str, url: str) -> None:
    assert get(f"{base}/{slug}") == (302, url)


def _gone(base: str, slug: str) -> None:
    assert get(f"{base}/{slug}")[0] == 404


def _replaced(release: Release, before: set[str]) -> None:
    now = release.get(
        "pods",
        "-n",
        release.namespace,
        "-l",
        f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component=redirector",
    )["items"]
    assert not {pod["metadata"]["name"] for pod in now} & before


@pytest.fixture(autouse=True)
def _node_logs_on_failure(release: Release) -> Any:
    """Every test here uses the release (and so shows the node's logs when it fails)."""
    return release
