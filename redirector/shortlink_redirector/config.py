"""The redirector's settings, from command-line flags with environment-variable defaults."""

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from shortlink_redirector.addresses import Network, parse_networks
from shortlink_redirector.metrics import DEFAULT_MAX_LINK_SERIES
from shortlink_redirector.ratelimit import DEFAULT_BURST, DEFAULT_MAX_NETWORKS, DEFAULT_PER_SECOND

SERVICE_ACCOUNT_NAMESPACE: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


@dataclass(frozen=True, slots=True)
class RedirectorConfig:
    #: Where the routing-table ConfigMaps live (the operator's namespace).
    namespace: str
    host: str = "0.0.0.0"  # noqa: S104 - a server in a pod listens on all of the pod's addresses
    port: int = 8080
    metrics_host: str = "0.0.0.0"  # noqa: S104
    metrics_port: int = 9090
    log_level: str = "info"
    permanent_max_age: int = 3600
    country_header: str = ""
    #: At most this many links get a redirect series of their own; the rest share an overflow one.
    max_link_series: int = DEFAULT_MAX_LINK_SERIES
    #: Write one JSON line per redirect to standard output.
    visit_log: bool = True
    #: Peers whose X-Forwarded-For header is believed (e.g. the ingress controller's pods).
    trusted_proxies: tuple[Network, ...] = ()
    #: Not-found answers a client network may have at once (0: no limit), refilled per second;
    #: networks remembered at most (see `ratelimit`).
    not_found_burst: int = DEFAULT_BURST
    not_found_per_second: float = DEFAULT_PER_SECOND
    not_found_networks: int = DEFAULT_MAX_NETWORKS


def _default_namespace() -> str:
    if SERVICE_ACCOUNT_NAMESPACE.exists():
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
    return "shortlink-system"


def parse_config(argv: Sequence[str] | None = None) -> RedirectorConfig:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="shortlink-redirector",
        description="Serves shortlink redirects from the routing table.",
    )
    parser.add_argument(
        "--namespace",
        default=env("SHORTLINK_NAMESPACE") or _default_namespace(),
        help="namespace of the routing-table ConfigMaps [$SHORTLINK_NAMESPACE; in a pod, its own]",
    )
    parser.add_argument(
        "--host",
        default=env("SHORTLINK_HOST", "0.0.0.0"),  # noqa: S104 - all of the pod's addresses
        help="address to serve redirects on [$SHORTLINK_HOST]",
    )
    parser.add_argument(
        "--port", type=int, default=int(env("SHORTLINK_PORT", "8080")), help="[$SHORTLINK_PORT]"
    )
    parser.add_argument(
        "--metrics-host",
        default=env("SHORTLINK_METRICS_HOST", "0.0.0.0"),  # noqa: S104
        help="address of the Prometheus endpoint [$SHORTLINK_METRICS_HOST]",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=int(env("SHORTLINK_METRICS_PORT", "9090")),
        help="port of the Prometheus endpoint /metrics [$SHORTLINK_METRICS_PORT]",
    )
    parser.add_argument(
        "--log-level", default=env("SHORTLINK_LOG_LEVEL", "info"), help="[$SHORTLINK_LOG_LEVEL]"
    )
    parser.add_argument(
        "--permanent-max-age",
        type=int,
        default=int(env("SHORTLINK_PERMANENT_MAX_AGE", "3600")),
        help="Cache-Control max-age of 301/308 redirects, seconds [$SHORTLINK_PERMANENT_MAX_AGE]",
    )
    parser.add_argument(
        "--country-header",
        default=env("SHORTLINK_COUNTRY_HEADER", ""),
        help="trusted header with the visitor's country code, e.g. CF-IPCountry "
        "[$SHORTLINK_COUNTRY_HEADER]",
    )
    parser.add_argument(
        "--max-link-series",
        type=int,
        default=int(env("SHORTLINK_MAX_LINK_SERIES", str(DEFAULT_MAX_LINK_SERIES))),
        help="links with a redirect series of their own; more share one overflow series "
        "[$SHORTLINK_MAX_LINK_SERIES]",
    )
    parser.add_argument(
        "--visit-log",
        action=argparse.BooleanOptionalAction,
        default=env("SHORTLINK_VISIT_LOG", "true").lower() not in ("false", "0", "no", "off"),
        help="one JSON line per redirect on standard output [$SHORTLINK_VISIT_LOG=true|false]",
    )
    parser.add_argument(
        "--trusted-proxies",
        default=env("SHORTLINK_TRUSTED_PROXIES", ""),
        help="comma-separated CIDRs whose X-Forwarded-For names the client in the visit log "
        "and for the not-found limit "
        "[$SHORTLINK_TRUSTED_PROXIES]",
    )
    parser.add_argument(
        "--not-found-burst",
        type=int,
        default=int(env("SHORTLINK_NOT_FOUND_BURST", str(DEFAULT_BURST))),
        help="not-found answers a client network (IPv4 /24, IPv6 /48) may get at once before "
        "429; 0 switches the limit off [$SHORTLINK_NOT_FOUND_BURST]",
    )
    parser.add_argument(
        "--not-found-per-second",
        type=float,
        default=float(env("SHORTLINK_NOT_FOUND_PER_SECOND", str(DEFAULT_PER_SECOND))),
        help="not-found answers a client network gets back per second "
        "[$SHORTLINK_NOT_FOUND_PER_SECOND]",
    )
    parser.add_argument(
        "--not-found-networks",
        type=int,
        default=int(env("SHORTLINK_NOT_FOUND_NETWORKS", str(DEFAULT_MAX_NETWORKS))),
        help="client networks whose not-found budget is remembered, least recent dropped first "
        "[$SHORTLINK_NOT_FOUND_NETWORKS]",
    )
    args = parser.parse_args(argv)
    if args.max_link_series < 0:
        parser.error("--max-link-series must not be negative")
    if args.not_found_burst < 0:
        parser.error("--not-found-burst must not be negative")
    if not args.not_found_per_second > 0:
        parser.error("--not-found-per-second must be positive")
    if args.not_found_networks < 1:
        parser.error("--not-found-networks must be at least 1")
    try:
        trusted_proxies = parse_networks(args.trusted_proxies)
    except ValueError as error:
        parser.error(f"--trusted-proxies: {error}")
    return RedirectorConfig(
        namespace=args.namespace,
        host=args.host,
        port=args.port,
        metrics_host=args.metrics_host,
        metrics_port=args.metrics_port,
        log_level=args.log_level,
        permanent_max_age=args.permanent_max_age,
        country_header=args.country_header.lower(),
        max_link_series=args.max_link_series,
        visit_log=args.visit_log,
        trusted_proxies=trusted_proxies,
        not_found_burst=args.not_found_burst,
        not_found_per_second=args.not_found_per_second,
        not_found_networks=args.not_found_networks,
    )
