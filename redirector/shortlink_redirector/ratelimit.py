"""A token bucket per client network for not-found answers, so probing random slugs is limited.

Someone enumerating slugs gets a 404 for almost every request; each one costs the redirector work
(and a suggestion lookup for a browser). Every network (the anonymised IPv4 /24 or IPv6 /48 of
the client, behind `--trusted-proxies` as the visit log finds it: see `addresses`) holds `burst`
tokens, refilled at `per_second`; a not-found answer takes one, and a network with none left gets
429 with the seconds until its next token in `Retry-After`. Redirects of existing links never
touch a bucket, so a limited network still reaches every real link, and other networks are not
affected at all.

Memory is bounded: at most `max_networks` buckets are kept, least recently used first out. A
bucket that is dropped would have refilled anyway unless its network is still probing, and then
it comes back full, at worst `burst` more answers per eviction; many networks probing at once
are the case a per-network limit cannot address in any case.
"""

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from time import monotonic
from typing import Final

#: Generous enough for a busy office behind one NAT, tight enough to stop enumeration at 10/s.
DEFAULT_BURST: Final = 1000
DEFAULT_PER_SECOND: Final = 10.0
DEFAULT_MAX_NETWORKS: Final = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class NotFoundLimiter:
    """Not-found tokens per client network; `burst` 0 switches the limit off."""

    def __init__(
        self,
        *,
        burst: int = DEFAULT_BURST,
        per_second: float = DEFAULT_PER_SECOND,
        max_networks: int = DEFAULT_MAX_NETWORKS,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        if burst < 0 or per_second <= 0 or max_networks < 1:
            raise ValueError("burst must be >= 0, per_second > 0 and max_networks >= 1")
        self.burst = burst
        self.per_second = per_second
        self.max_networks = max_networks
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, network: str) -> int:
        """Take a token for one not-found answer to `network`: 0 if granted, else the seconds
        (at least 1) until the network has a token again, for `Retry-After`."""
        if not self.burst:
            return 0
        now = self._clock()
        buckets = self._buckets
        bucket = buckets.get(network)
        if bucket is None:
            bucket = buckets[network] = _Bucket(float(self.burst), now)
            if len(buckets) > self.max_networks:
                buckets.popitem(last=False)
        else:
            buckets.move_to_end(network)
            bucket.tokens = min(
                float(self.burst), bucket.tokens + (now - bucket.updated) * self.per_second
            )
            bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0
        return max(1, math.ceil((1 - bucket.tokens) / self.per_second))
