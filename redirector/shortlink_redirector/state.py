"""The redirector's mutable state: the table served, its ledger, and whether it was complete."""

from dataclasses import dataclass, field
from typing import Final

from shortlink_redirector.addresses import Network
from shortlink_redirector.manifest import ShardLedger
from shortlink_redirector.metrics import RedirectorMetrics
from shortlink_redirector.ratelimit import NotFoundLimiter
from shortlink_redirector.table import EMPTY_TABLE, RoutingTable
from shortlink_redirector.visitlog import VisitLog

#: The longest Location ever sent (`--max-location-bytes`); longer redirects answer 414.
DEFAULT_MAX_LOCATION_BYTES: Final = 8192


@dataclass(frozen=True, slots=True)
class ServingConfig:
    """How redirects are answered (from the redirector's configuration)."""

    #: Cache-Control max-age of permanent (301, 308) redirects, in seconds.
    permanent_max_age: int = 3600
    #: The request header holding the visitor's country (set by a trusted CDN or proxy); empty
    #: when there is none, so country rules never match.
    country_header: str = ""
    #: A redirect whose Location would be longer than this many bytes answers 414 instead.
    max_location_bytes: int = DEFAULT_MAX_LOCATION_BYTES
    #: The operator's public base URL (e.g. https://go.example.com), for the short URLs that
    #: inspect pages and QR codes show; empty to take them from the request (see `public`).
    public_base_url: str = ""
    #: Peers whose X-Forwarded-Proto (inspect pages) and X-Forwarded-For (visit log, the
    #: not-found limit's client networks) count.
    trusted_proxies: tuple[Network, ...] = ()


@dataclass
class RedirectorState:
    metrics: RedirectorMetrics = field(default_factory=RedirectorMetrics)
    serving: ServingConfig = field(default_factory=ServingConfig)
    #: Replaced whole, never changed in place (see `table`).
    table: RoutingTable = EMPTY_TABLE
    #: True once the table was complete (every shard the manifest lists, as it lists it); stays
    #: True while serving the last good one.
    ready: bool = False
    #: Which shards the manifest lists and which copies are served (see `manifest`).
    ledger: ShardLedger = field(default_factory=ShardLedger)
    #: Where each redirect is recorded, or None when the visit log is switched off.
    visit_log: VisitLog | None = None
    #: Not-found answers left per client network (see `ratelimit`).
    not_found_limiter: NotFoundLimiter = field(default_factory=NotFoundLimiter)
