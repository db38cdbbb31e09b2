"""Tables as kubectl prints them: upper-case headers, columns padded by three spaces, ages short.

`rows` turns ShortLink objects into the columns of `kubectl shortlink ls`; the VISITS column
appears only when some link has `status.visits` (written by the operator when it reads visits
from Prometheus), so the plugin works before and after that exists.
"""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from shortlink_plugin.lookup import ready_condition

#: Which count of `status.visits` the VISITS column shows, first found.
VISIT_WINDOWS = ("last7d", "last30d", "last24h", "total")


def visits(body: Mapping[str, Any]) -> int | None:
    """The link's visit count from `status.visits` (a number, or counts by window), or None."""
    value = (body.get("status") or {}).get("visits")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, Mapping):
        for window in VISIT_WINDOWS:
            count = value.get(window)
            if isinstance(count, int) and not isinstance(count, bool):
                return count
    return None


def target(body: Mapping[str, Any]) -> str:
    """Where the link redirects: its url, or the URL its targetRef resolved to, or while it has
    none, the object it names (`Ingress/web`)."""
    spec, status = body.get("spec") or {}, body.get("status") or {}
    if spec.get("url"):
        return str(spec["url"])
    ref = spec.get("targetRef") or {}
    resolved = status.get("resolvedURL")
    if resolved:
        return str(resolved)
    named = f"{ref.get('namespace')}/{ref.get('name')}" if ref.get("namespace") else ref.get("name")
    return f"{ref.get('kind', '')}/{named}" if ref else ""


def created(body: Mapping[str, Any]) -> datetime | None:
    stamp = (body.get("metadata") or {}).get("creationTimestamp")
    try:
        return datetime.fromisoformat(str(stamp)) if stamp else None
    except ValueError:
        return None


def age(body: Mapping[str, Any], now: datetime | None = None) -> str:
    """Like kubectl's AGE: 45s, 12m, 5h, 3d, 2y."""
    moment = created(body)
    if moment is None:
        return "<unknown>"
    seconds = max(0, int(((now or datetime.now(UTC)) - moment).total_seconds()))
    for unit, size in (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def rows(links: Sequence[Mapping[str, Any]], *, wide: bool, namespaces: bool) -> list[list[str]]:
    """The header and one row per link."""
    with_visits = any(visits(body) is not None for body in links)
    header = ["NAMESPACE"] if namespaces else []
    header += ["NAME", "SLUG", "URL", "READY", "REASON"]
    header += ["VISITS"] if with_visits else []
    header += ["AGE"]
    header += ["SHORT URL", "HOST", "ALIASES", "MESSAGE"] if wide else []
    table = [header]
    for body in links:
        metadata, spec = body.get("metadata") or {}, body.get("spec") or {}
        status, ready = body.get("status") or {}, ready_condition(body)
        row = [str(metadata.get("namespace", ""))] if namespaces else []
        row += [
            str(metadata.get("name", "")),
            str(status.get("slug") or spec.get("slug") or "<pending>"),
            target(body),
            str(ready.get("status", "Unknown")),
            str(ready.get("reason", "")),
        ]
        if with_visits:
            count = visits(body)
            row.append("" if count is None else str(count))
        row.append(age(body))
        if wide:
            row += [
                str(status.get("shortURL", "")),
                str(spec.get("host", "")),
                ",".join(spec.get("aliases") or ()),
                str(ready.get("message", "")),
            ]
        table.append(row)
    return table


def format_table(table: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = (
        "   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in table
    )
    return "".join(line.rstrip() + "\n" for line in lines)
