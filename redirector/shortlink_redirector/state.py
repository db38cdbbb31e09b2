"""The redirector's mutable state: the table served, its ledger, and whether it was complete."""

from dataclasses import dataclass, field

from shortlink_redirector.manifest import ShardLedger
from shortlink_redirector.metrics import RedirectorMetrics
from shortlink_redirector.table import EMPTY_TABLE, RoutingTable
from shortlink_redirector.visitlog import VisitLog


@dataclass(frozen=True, slots=True)
class ServingSettings:
    """How redirects are answered (from the redirector's configuration)."""

    #: Cache-Control max-age of permanent (301, 308) redirects, in seconds.
    permanent_max_age: int = 3600
    #: The request header holding the visitor's country (set by a trusted CDN or proxy); empty
    #: when there is none, so country rules never match.
    country_header: str = ""


@dataclass
class RedirectorState:
    metrics: RedirectorMetrics = field(default_factory=RedirectorMetrics)
    serving: ServingSettings = field(default_factory=ServingSettings)
    #: Replaced whole, never changed in place (see `table`).
    table: RoutingTable = EMPTY_TABLE
    #: True once the table was complete (every shard the manifest lists, as it lists it); stays
    #: True while serving the last good one.
    ready: bool = False
    #: Which shards the manifest lists and which copies are served (see `manifest`).
    ledger: ShardLedger = field(default_factory=ShardLedger)
    #: Where each redirect is recorded, or None when the visit log is switched off.
    visit_log: VisitLog | None = None
