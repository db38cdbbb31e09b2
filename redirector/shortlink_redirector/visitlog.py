"""The visit log: one JSON line per redirect, written in batches off the hot path.

A redirect only appends a tuple of values it already has to a list; a background task turns the
pending records into JSON lines every `interval` seconds and writes them in one call. When the
writer falls behind by `max_pending` records, new ones are dropped and counted rather than letting
memory grow. The line holds no full client address (see `addresses`) and no query string: the
target is logged by host only, and the referrer by host only.

    {"event": "visit", "time": "2026-01-02T03:04:05.678Z", "host": "go.example.com",
     "slug": "docs", "namespace": "team", "name": "docs", "status": 302,
     "target_host": "example.com", "visitor": "mobile", "referrer": "external",
     "referrer_host": "news.example.org", "client": "203.0.113.0"}
"""

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from json.encoder import encode_basestring_ascii as _json
from typing import Final, TextIO
from urllib.parse import urlsplit

from shortlink_redirector.addresses import Network, client_network
from shortlink_redirector.classify import CACHE_SIZE, REFERRER_CLASSES, VISITOR_CLASSES

FLUSH_SECONDS: Final = 0.25
#: Lines formatted between two yields to the event loop (about 2 ms of work).
FLUSH_SLICE: Final = 256
MAX_PENDING: Final = 50_000

#: (unix time, Host, the route's `log_fields`, status, Location, visitor class, referrer class,
#: Referer, peer, X-Forwarded-For). Only strings, bytes and numbers: the collector stops tracking
#: such a tuple at its first pass, so thousands of pending records cost its later passes nothing.
#: With a reference to the route instead, every young-generation pass walked all of them, pausing
#: the event loop for up to 5 ms at 60,000 redirects/s.
Record = tuple[float, bytes, str, int, bytes, int, int, bytes, str | None, bytes]


class VisitLog:
    def __init__(
        self,
        *,
        stream: TextIO,
        trusted_proxies: Sequence[Network] = (),
        max_pending: int = MAX_PENDING,
        on_drop: Callable[[], None] = lambda: None,
    ) -> None:
        self._stream = stream
        self._trusted = tuple(trusted_proxies)
        self._max_pending = max_pending
        self._on_drop = on_drop
        self._pending: list[Record] = []

    def record(self, record: Record) -> None:
        """Keep a redirect for the next batch (the hot path: one append)."""
        if len(self._pending) < self._max_pending:
            self._pending.append(record)
        else:
            self._on_drop()

    def flush(self) -> int:
        """Write every pending record as a JSON line; return how many."""
        pending, self._pending = self._pending, []
        if pending:
            self._write(pending)
        return len(pending)

    async def run(self, interval: float = FLUSH_SECONDS) -> None:
        """Flush every `interval` seconds until cancelled, then once more.

        A batch is written in slices with the event loop let through in between, so a busy
        second's thousands of lines never hold requests up for more than a slice.
        """
        try:
            while True:
                await asyncio.sleep(interval)
                pending, self._pending = self._pending, []
                for start in range(0, len(pending), FLUSH_SLICE):
                    self._write(pending[start : start + FLUSH_SLICE])
                    await asyncio.sleep(0)
        finally:
            self.flush()

    def _write(self, records: list[Record]) -> None:
        self._stream.write("".join(self.line(record) for record in records))
        self._stream.flush()

    def line(self, record: Record) -> str:
        when, host, link, status, location, visitor, referrer, referer, peer, forwarded = record
        # Field by field rather than json.dumps of a dict: a third of the cost, and every value
        # that comes from outside passes through the same C string encoder json.dumps uses.
        return (
            f'{{"event":"visit","time":"{_timestamp(when)}","host":{_host_json(host)},'
            f'{link},"status":{status},'
            f'"target_host":{_location_host_json(location)},"visitor":"{VISITOR_CLASSES[visitor]}",'
            f'"referrer":"{REFERRER_CLASSES[referrer]}","referrer_host":{_referer_json(referer)},'
            f'"client":"{self._client(peer, forwarded)}"}}\n'
        )

    def _client(self, peer: str | None, forwarded: bytes) -> str:
        return client_network(peer, forwarded, self._trusted)


# Memoised helpers: a batch repeats the same clients, hosts, links and seconds over and over.


@lru_cache(maxsize=CACHE_SIZE)
def _host_json(host: bytes) -> str:
    return _json(_hostname("//" + host.decode("latin-1")) if host else "")


def _location_host_json(location: bytes) -> str:
    """The host of a Location we sent: "scheme://host[:port]/…", ASCII, never with credentials.

    Cut by position, not urlsplit: a table of many links misses any bounded cache, while its
    authorities (host and port) are few and repeat.
    """
    start = location.find(b"//") + 2
    end = location.find(b"/", start)
    return _authority_json(location[start:end] if end >= 0 else location[start:])


@lru_cache(maxsize=CACHE_SIZE)
def _authority_json(authority: bytes) -> str:
    host = authority.rsplit(b":", 1)[0] if not authority.endswith(b"]") else authority
    return _host_json(host)


@lru_cache(maxsize=CACHE_SIZE)
def _referer_json(referer: bytes) -> str:
    return _json(_hostname(referer.decode("latin-1")) if referer else "")


@lru_cache(maxsize=64)
def _second(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


@lru_cache(maxsize=1024)  # a batch's records come in time order, dozens in each millisecond
def _millisecond(millisecond: int) -> str:
    second, fraction = divmod(millisecond, 1000)
    return f"{_second(second)}.{fraction:03d}Z"


def _timestamp(when: float) -> str:
    """RFC 3339 UTC with milliseconds, e.g. 2026-01-02T03:04:05.678Z."""
    second = int(when)
    return _millisecond(second * 1000 + int((when - second) * 1000))


def _hostname(url: str) -> str:
    """The host of `url`, without port or user info: hosts are logged, never paths or queries."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""
