"""The redirector's mutable state: the table being served, and whether one was ever loaded."""

from dataclasses import dataclass, field

from shortlink_redirector.metrics import RedirectorMetrics
from shortlink_redirector.table import EMPTY_TABLE, RoutingTable
from shortlink_redirector.visitlog import VisitLog


@dataclass
class RedirectorState:
    metrics: RedirectorMetrics = field(default_factory=RedirectorMetrics)
    #: Replaced whole, never changed in place (see `table`).
    table: RoutingTable = EMPTY_TABLE
    #: True once a complete table has been loaded; stays True while serving the last good one.
    ready: bool = False
    #: Where each redirect is recorded, or None when the visit log is switched off.
    visit_log: VisitLog | None = None
