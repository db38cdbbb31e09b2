"""The redirector's settings: each a flag with an environment variable (`shortlink_core.flags`)."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from shortlink_core.flags import base_url, between, flag, parse_flags, pod_namespace
from shortlink_redirector.addresses import Network, parse_networks
from shortlink_redirector.metrics import DEFAULT_MAX_LINK_SERIES
from shortlink_redirector.ratelimit import DEFAULT_BURST, DEFAULT_MAX_NETWORKS, DEFAULT_PER_SECOND
from shortlink_redirector.state import DEFAULT_MAX_LOCATION_BYTES

PORT: Final = between(1, 65535)


@dataclass(frozen=True, slots=True)
class RedirectorConfig:
    namespace: str = flag(
        "SHORTLINK_NAMESPACE",
        "namespace of the routing-table ConfigMaps (in a pod: its own)",
        default_factory=pod_namespace,
    )
    host: str = flag(
        "SHORTLINK_HOST",
        "address to serve redirects on",
        default="0.0.0.0",  # noqa: S104 - a server in a pod listens on all of the pod's addresses
    )
    port: int = flag("SHORTLINK_PORT", "port to serve redirects on", default=8080, check=PORT)
    metrics_host: str = flag(
        "SHORTLINK_METRICS_HOST",
        "address of the Prometheus endpoint",
        default="0.0.0.0",  # noqa: S104
    )
    metrics_port: int = flag(
        "SHORTLINK_METRICS_PORT",
        "port of the Prometheus endpoint /metrics",
        default=9090,
        check=PORT,
    )
    log_level: str = flag("SHORTLINK_LOG_LEVEL", "diagnostics log level", default="info")
    permanent_max_age: int = flag(
        "SHORTLINK_PERMANENT_MAX_AGE",
        "Cache-Control max-age of 301/308 redirects, seconds",
        default=3600,
        check=between(0, 10 * 365 * 86400),
    )
    country_header: str = flag(
        "SHORTLINK_COUNTRY_HEADER",
        "trusted header with the visitor's country code, e.g. CF-IPCountry",
        default="",
        parse=str.lower,
    )
    #: At most this many links get a redirect series of their own; the rest share an overflow one.
    max_link_series: int = flag(
        "SHORTLINK_MAX_LINK_SERIES",
        "links with a redirect series of their own; more share one overflow series",
        default=DEFAULT_MAX_LINK_SERIES,
        check=between(0, 10_000_000),
    )
    visit_log: bool = flag(
        "SHORTLINK_VISIT_LOG", "one JSON line per redirect on standard output", default=True
    )
    #: Peers whose X-Forwarded-For and X-Forwarded-Proto headers are believed (e.g. the ingress
    #: controller's pods).
    trusted_proxies: tuple[Network, ...] = flag(
        "SHORTLINK_TRUSTED_PROXIES",
        "comma-separated CIDRs whose X-Forwarded-For names the client (visit log, not-found "
        "limit) and whose X-Forwarded-Proto names the scheme on inspect pages",
        default=(),
        parse=parse_networks,
    )
    #: A redirect with a longer Location answers 414 URI Too Long instead.
    max_location_bytes: int = flag(
        "SHORTLINK_MAX_LOCATION_BYTES",
        "longest Location sent; a longer redirect answers 414 URI Too Long",
        default=DEFAULT_MAX_LOCATION_BYTES,
        check=between(1, 1024 * 1024),
    )
    #: Not-found answers a client network may have at once (0: no limit), refilled per second;
    #: networks remembered at most (see `ratelimit`).
    not_found_burst: int = flag(
        "SHORTLINK_NOT_FOUND_BURST",
        "not-found answers a client network (IPv4 /24, IPv6 /48) may get at once before 429; "
        "0 switches the limit off",
        default=DEFAULT_BURST,
        check=between(0, 10_000_000),
    )
    not_found_per_second: float = flag(
        "SHORTLINK_NOT_FOUND_PER_SECOND",
        "not-found answers a client network gets back per second",
        default=DEFAULT_PER_SECOND,
        check=between(0.001, 10_000_000),
    )
    not_found_networks: int = flag(
        "SHORTLINK_NOT_FOUND_NETWORKS",
        "client networks whose not-found budget is remembered, least recent dropped first",
        default=DEFAULT_MAX_NETWORKS,
        check=between(1, 10_000_000),
    )
    #: The public base of short URLs (the operator's --public-base-url), for inspect pages.
    public_base_url: str = flag(
        "SHORTLINK_PUBLIC_BASE_URL",
        "public base of short URLs, e.g. https://go.example.com (the operator's value), shown on "
        "inspect pages and in QR codes; default: from the request",
        default="",
        parse=base_url,
    )


def parse_config(argv: Sequence[str] | None = None) -> RedirectorConfig:
    return parse_flags(
        RedirectorConfig,
        argv,
        prog="shortlink-redirector",
        description="Serves shortlink redirects from the routing table.",
    )
