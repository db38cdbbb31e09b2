"""The operator's settings, from command-line flags with environment-variable defaults."""

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
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
        help="kopf liveness endpoint, [$SHORTLINK_LIVENESS_ENDPOINT]",
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
    args = parser.parse_args(argv)
    if not 0 <= args.metrics_port <= 65535:
        parser.error("--metrics-port must be between 0 and 65535")
    if not 1 <= args.shards <= 1000:
        parser.error("--shards must be between 1 and 1000")
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
    )
