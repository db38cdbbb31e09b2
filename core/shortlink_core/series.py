"""The redirectors' Prometheus series that other components read: names and label values.

The redirector writes them (`shortlink_redirector.metrics`); the operator (`status.visits`) and
the kubectl plugin (`stats`) query them through Prometheus. Declared once here so a rename
cannot leave a reader asking for a series nobody writes.
"""

from typing import Final

#: Redirects served per link: labels namespace, name, code. Exposed with the `_total` suffix.
REDIRECTS: Final = "shortlink_redirects"
#: Redirects served per visitor class (label `class`), over all links.
VISITS_BY_VISITOR_CLASS: Final = "shortlink_visits_by_visitor_class"
#: Redirects served per referrer class (label `class`), over all links.
VISITS_BY_REFERRER_CLASS: Final = "shortlink_visits_by_referrer_class"
#: The namespace and name labels of links beyond the redirector's series cap.
OVERFLOW: Final = "_overflow"

VISITOR_CLASSES: Final = ("desktop", "mobile", "tablet", "bot")
REFERRER_CLASSES: Final = ("direct", "same-site", "external")


def total(counter: str) -> str:
    """The name of a counter's sample as Prometheus stores it."""
    return f"{counter}_total"
