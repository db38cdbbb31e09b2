"""The operator's settings: each a flag with an environment variable (`shortlink_core.flags`)."""

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from shortlink_core.flags import base_url, between, flag, parse_flags, pod_namespace


def _optional_base_url(text: str) -> str | None:
    return base_url(text) if text.strip() else None


def _default_identity() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True, slots=True)
class OperatorConfig:
    #: Where the routing-table ConfigMaps live (the operator's own namespace).
    namespace: str = flag(
        "SHORTLINK_NAMESPACE",
        "namespace of the routing-table ConfigMaps (in a pod: its own)",
        default_factory=pod_namespace,
    )
    #: The public base of short URLs, e.g. https://go.example.com; status.shortURL starts with it.
    public_base_url: str = flag(
        "SHORTLINK_PUBLIC_BASE_URL",
        "base of the short URLs shown in status",
        default="http://127.0.0.1:8080",
        parse=base_url,
    )
    #: How many ConfigMaps the table is split into. Changing it moves links between shards.
    shard_count: int = flag(
        "SHORTLINK_SHARDS",
        "number of routing-table ConfigMaps",
        default=64,
        check=between(1, 1000),
        name="shards",
    )
    #: How often to re-read the table from the cluster and repair drift, in seconds.
    resync_seconds: float = flag(
        "SHORTLINK_RESYNC_SECONDS",
        "how often to re-read the table and repair drift, seconds",
        default=60.0,
        check=between(0.1, 86400),
    )
    #: The key of generated slugs (HMAC-SHA256); clusters sharing it generate the same codes.
    slug_key: str = flag(
        "SHORTLINK_SLUG_KEY",
        "key for generated slugs; set it from a Secret in production",
        default="shortlink",
    )
    #: kopf's liveness endpoint, e.g. http://0.0.0.0:8081/healthz; None to serve none.
    liveness_endpoint: str | None = flag(
        "SHORTLINK_LIVENESS_ENDPOINT",
        "kopf liveness endpoint, e.g. http://0.0.0.0:8081/healthz",
        default=None,
    )
    #: Where Prometheus metrics are served (/metrics); port 0 serves none.
    metrics_host: str = flag(
        "SHORTLINK_OPERATOR_METRICS_HOST",
        "address of the Prometheus endpoint",
        default="0.0.0.0",  # noqa: S104 - a server in a pod listens on all its addresses
    )
    metrics_port: int = flag(
        "SHORTLINK_OPERATOR_METRICS_PORT",
        "port of the Prometheus endpoint /metrics, 0 for none",
        default=9091,
        check=between(0, 65535),
    )
    #: How long a deleted owner's slug is held for it (a delete-and-recreate), in seconds.
    slug_grace_seconds: float = flag(
        "SHORTLINK_SLUG_GRACE_SECONDS",
        "how long a deleted link's slug is held for it, in case it is re-created; 0 for none",
        default=300.0,
        check=between(0, 30 * 86400),
    )
    #: Most bytes of data in one shard; newer links beyond it get CapacityExceeded, and one link
    #: may take a quarter of it.
    shard_budget_bytes: int = flag(
        "SHORTLINK_SHARD_BUDGET_BYTES",
        "most bytes of data per shard ConfigMap (under the 1 MiB object limit); one link may "
        "take a quarter of it",
        default=256 * 1024,
        check=between(4096, 900 * 1024),
    )
    #: How many status writes (and Events) are in flight at once.
    status_concurrency: int = flag(
        "SHORTLINK_STATUS_CONCURRENCY",
        "status writes in flight at once",
        default=16,
        check=between(1, 256),
    )
    #: Prometheus, queried for each link's visits (`visits`); None: status.visits is not written.
    prometheus_url: str | None = flag(
        "SHORTLINK_PROMETHEUS_URL",
        "Prometheus base URL, e.g. http://prometheus:9090; when set, status.visits is kept",
        default=None,
        parse=_optional_base_url,
    )
    #: How often visits are read from Prometheus, in seconds.
    visits_interval_seconds: float = flag(
        "SHORTLINK_VISITS_INTERVAL_SECONDS",
        "how often to read visits from Prometheus, seconds",
        default=300.0,
        check=between(1, 86400),
    )
    #: The most status.visits writes per second, over all links (the API server's cost of visits).
    visits_writes_per_second: float = flag(
        "SHORTLINK_VISITS_WRITES_PER_SECOND",
        "most status.visits writes per second, over all links",
        default=10.0,
        check=between(0.1, 1000),
    )
    #: Probe each distinct link target and record TargetReachable (`prober`); off by default.
    probe_targets: bool = flag(
        "SHORTLINK_PROBE_TARGETS",
        "probe every link's target (HEAD, GET on 405) and record the TargetReachable condition; "
        "requests come from the operator's pod (see the README's SSRF notes)",
        default=False,
    )
    #: The most probe requests per second, over all targets.
    probe_rate: float = flag(
        "SHORTLINK_PROBE_RATE",
        "most probe requests per second, over all targets",
        default=5.0,
        check=between(0.01, 1000),
    )
    #: How often each distinct target is probed again, in seconds (the rate may stretch it).
    probe_interval_seconds: float = flag(
        "SHORTLINK_PROBE_INTERVAL_SECONDS",
        "how often each distinct target is probed again, seconds",
        default=3600.0,
        check=between(1, 30 * 86400),
    )
    #: Probe requests in flight at once.
    probe_concurrency: int = flag(
        "SHORTLINK_PROBE_CONCURRENCY",
        "probe requests in flight at once",
        default=8,
        check=between(1, 256),
    )
    #: Time for one probe request, name resolution to answer head, in seconds.
    probe_timeout_seconds: float = flag(
        "SHORTLINK_PROBE_TIMEOUT_SECONDS",
        "time for one probe request, from name resolution to the answer's headers, seconds",
        default=5.0,
        check=between(0.1, 60),
    )
    #: Also probe targets that resolve to loopback, private, link-local or other non-public
    #: addresses. Off: such a target is `Unknown` with reason AddressNotAllowed.
    probe_private_addresses: bool = flag(
        "SHORTLINK_PROBE_PRIVATE_ADDRESSES",
        "also probe targets at loopback, private, link-local and other non-public addresses "
        "(the cluster's own network: do not enable where internal endpoints are sensitive)",
        default=False,
    )
    #: The most TargetReachable condition writes per second, over all links.
    probe_writes_per_second: float = flag(
        "SHORTLINK_PROBE_WRITES_PER_SECOND",
        "most TargetReachable status writes per second, over all links",
        default=10.0,
        check=between(0.1, 1000),
    )
    #: Who we are in the Lease: the pod name in a cluster, host and pid elsewhere.
    identity: str = flag(
        "POD_NAME", "this process's name in the writer Lease", default_factory=_default_identity
    )
    #: How long to gather a burst of changes into one table write, in seconds (not a flag).
    debounce_seconds: float = 0.05
    #: The coordination.k8s.io Lease that elects the one writing operator process (not flags).
    lease_name: str = "shortlink-operator"
    lease_seconds: int = 15


def parse_config(argv: Sequence[str] | None = None) -> OperatorConfig:
    return parse_flags(
        OperatorConfig,
        argv,
        prog="shortlink-operator",
        description="Reconciles ShortLink objects into the shortlink routing table.",
    )
