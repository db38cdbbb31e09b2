"""The operator's settings, from command-line flags with environment-variable defaults."""

import argparse
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

SERVICE_ACCOUNT_NAMESPACE: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


@dataclass(frozen=True, slots=True)
class OperatorConfig:
    #: Where the routing-table ConfigMaps live (the operator's own namespace).
    namespace: str
    #: The public base of short URLs, e.g. https://go.example.com; status.shortURL starts with it.
    public_base_url: str
    #: How many ConfigMaps the table is split into. Changing it moves links between shards.
    shard_count: int = 64
    #: How long to gather a burst of changes into one table write, in seconds.
    debounce_seconds: float = 0.05
    #: How often to re-read the table from the cluster and repair drift, in seconds.
    resync_seconds: float = 60.0
    #: The key of generated slugs (HMAC-SHA256); clusters sharing it generate the same codes.
    slug_key: str = "shortlink"
    #: kopf's liveness endpoint, e.g. http://0.0.0.0:8081/healthz; None to serve none.
    liveness_endpoint: str | None = None
    #: Where Prometheus metrics are served (/metrics); port 0 serves none.
    metrics_host: str = "0.0.0.0"  # noqa: S104 - a server in a pod listens on all its addresses
    metrics_port: int = 9091
    #: How long a deleted owner's slug is held for it (a delete-and-recreate), in seconds.
    slug_grace_seconds: float = 300.0
    #: Most bytes of routes in one shard; newer links beyond it get CapacityExceeded.
    shard_budget_bytes: int = 256 * 1024
    #: How many status writes (and Events) are in flight at once.
    status_concurrency: int = 16
    #: The coordination.k8s.io Lease that elects the one writing operator process.
    lease_name: str = "shortlink-operator"
    lease_seconds: int = 15
    #: Who we are in the Lease: the pod name in a cluster, host and pid elsewhere.
    identity: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")


def _default_namespace() -> str:
    if SERVICE_ACCOUNT_NAMESPACE.exists():
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
    return "shortlink-system"


def parse_config(argv: Sequence[str] | None = None) -> OperatorConfig:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="shortlink-operator",
        description="Reconciles ShortLink objects into the shortlink routing table.",
    )
    parser.add_argument(
        "--namespace",
        default=env("SHORTLINK_NAMESPACE") or _default_namespace(),
        help="namespace of the routing-table ConfigMaps [$SHORTLINK_NAMESPACE; in a pod, its own]",
    )
    parser.add_argument(
        "--public-base-url",
        default=env("SHORTLINK_PUBLIC_BASE_URL", "http://127.0.0.1:8080"),
        help="base of the short URLs shown in status [$SHORTLINK_PUBLIC_BASE_URL]",
    )
    parser.add_argument(
        "--shards",
        type=int,
        default=int(env("SHORTLINK_SHARDS", "64")),
        help="number of routing-table ConfigMaps [$SHORTLINK_SHARDS]",
    )
    parser.add_argument(
        "--resync-seconds",
        type=float,
        default=float(env("SHORTLINK_RESYNC_SECONDS", "60")),
        help="how often to re-read the table and repair drift [$SHORTLINK_RESYNC_SECONDS]",
    )
    parser.add_argument(
        "--slug-key",
        default=env("SHORTLINK_SLUG_KEY", "shortlink"),
        help="key for generated slugs; set it from a Secret in production [$SHORTLINK_SLUG_KEY]",
    )
    parser.add_argument(
        "--liveness-endpoint",
        default=env("SHORTLINK_LIVENESS_ENDPOINT"),
        help="kopf liveness endpoint, e.g. http://0.0.0.0:8081/healthz "
        "[$SHORTLINK_LIVENESS_ENDPOINT]",
    )
    parser.add_argument(
        "--metrics-host",
        default=env("SHORTLINK_OPERATOR_METRICS_HOST", "0.0.0.0"),  # noqa: S104
        help="address of the Prometheus endpoint [$SHORTLINK_OPERATOR_METRICS_HOST]",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=int(env("SHORTLINK_OPERATOR_METRICS_PORT", "9091")),
        help="port of the Prometheus endpoint /metrics, 0 for none "
        "[$SHORTLINK_OPERATOR_METRICS_PORT]",
    )
    parser.add_argument(
        "--slug-grace-seconds",
        type=float,
        default=float(env("SHORTLINK_SLUG_GRACE_SECONDS", "300")),
        help="how long a deleted link's slug is held for it, in case it is re-created; 0 for "
        "no grace period [$SHORTLINK_SLUG_GRACE_SECONDS]",
    )
    parser.add_argument(
        "--shard-budget-bytes",
        type=int,
        default=int(env("SHORTLINK_SHARD_BUDGET_BYTES", str(256 * 1024))),
        help="most bytes of routes per shard ConfigMap [$SHORTLINK_SHARD_BUDGET_BYTES]",
    )
    parser.add_argument(
        "--status-concurrency",
        type=int,
        default=int(env("SHORTLINK_STATUS_CONCURRENCY", "16")),
        help="status writes in flight at once [$SHORTLINK_STATUS_CONCURRENCY]",
    )
    parser.add_argument(
        "--identity",
        default=env("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}",
        help="this process's name in the writer Lease [$POD_NAME]",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.metrics_port <= 65535:
        parser.error("--metrics-port must be between 0 and 65535")
    if not 1 <= args.shards <= 1000:
        parser.error("--shards must be between 1 and 1000")
    if not 4096 <= args.shard_budget_bytes <= 900 * 1024:
        parser.error("--shard-budget-bytes must be between 4096 and 921600 (under 1 MiB)")
    if not 1 <= args.status_concurrency <= 256:
        parser.error("--status-concurrency must be between 1 and 256")
    if args.slug_grace_seconds < 0:
        parser.error("--slug-grace-seconds must not be negative")
    if not args.public_base_url.startswith(("http://", "https://")):
        parser.error("--public-base-url must start with http:// or https://")
    return OperatorConfig(
        namespace=args.namespace,
        public_base_url=args.public_base_url.rstrip("/"),
        shard_count=args.shards,
        resync_seconds=args.resync_seconds,
        slug_key=args.slug_key,
        liveness_endpoint=args.liveness_endpoint,
        metrics_host=args.metrics_host,
        metrics_port=args.metrics_port,
        slug_grace_seconds=args.slug_grace_seconds,
        shard_budget_bytes=args.shard_budget_bytes,
        status_concurrency=args.status_concurrency,
        identity=args.identity,
    )
