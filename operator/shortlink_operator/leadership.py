"""Which operator process may write: a coordination.k8s.io Lease, as Kubernetes controllers use.

During a rolling update two operator pods run at once. Only the holder of the Lease publishes; the
other waits on standby with a complete index, ready to take over. The holder renews the Lease well
within its duration; a standby takes it over when it sees no renewal for a whole duration, timed on
its own monotonic clock from the moment it last saw the Lease change (so clocks that disagree
between nodes do not matter). A holder that shuts down releases the Lease, so a rollout hands over
at once. Writes stay guarded by resourceVersion anyway: a holder that stalls past its Lease and
wakes up to write gets a 409, never a silent overwrite.
"""

import logging
import time
from collections.abc import Awaitable, Callable

from shortlink_operator.kube import Conflict, Kube, Lease, NotFound

logger = logging.getLogger(__name__)


class Leadership:
    def __init__(
        self,
        *,
        kube: Kube,
        name: str,
        identity: str,
        duration: int,
        clock: Callable[[], str],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kube = kube
        self._name = name
        self.identity = identity
        self._duration = duration
        self._clock = clock
        self._monotonic = monotonic
        self._lease: Lease | None = None
        self._renewed_at = -float("inf")  # when we last renewed (monotonic)
        self._seen: tuple[str | None, str | None, str] | None = None
        self._seen_at = 0.0  # when the Lease last changed in our eyes (monotonic)

    @property
    def renew_interval(self) -> float:
        return self._duration / 3

    @property
    def holding(self) -> bool:
        """Whether we renewed the Lease recently enough that nobody else may have taken it."""
        held = self._lease is not None and self._lease.holder == self.identity
        return held and self._monotonic() - self._renewed_at < self._duration

    async def ensure(self) -> bool:
        """True if this process holds the Lease, acquiring or renewing it when due."""
        if self.holding and self._monotonic() - self._renewed_at < self.renew_interval:
            return True
        try:
            lease = await self._kube.read_lease(self._name)
        except NotFound:
            return await self._write(
                self._kube.create_lease(
                    self._name, holder=self.identity, duration=self._duration, now=self._clock()
                )
            )
        if lease.holder == self.identity or self._expired(lease):
            if lease.holder != self.identity:
                logger.info("taking over the writer Lease from %s", lease.holder or "nobody")
            return await self._write(
                self._kube.write_lease(
                    lease,
                    holder=self.identity,
                    duration=self._duration,
                    now=self._clock(),
                    acquired=lease.holder != self.identity,
                )
            )
        self._lease = lease
        return False

    async def release(self) -> None:
        """Give the Lease up (on shutdown), so a standby takes over without waiting."""
        if self._lease is None or self._lease.holder != self.identity:
            return
        try:
            await self._kube.write_lease(
                self._lease, holder=None, duration=self._duration, now=self._clock(), acquired=False
            )
        except Exception as error:  # shutting down: the Lease will expire on its own
            logger.warning("could not release the writer Lease: %s", error)
        self._lease = None

    async def _write(self, write: Awaitable[Lease]) -> bool:
        try:
            self._lease = await write
        except Conflict:  # another process wrote it between our read and our write
            self._lease = None
            return False
        self._renewed_at = self._monotonic()
        return True

    def _expired(self, lease: Lease) -> bool:
        if lease.holder is None:
            return True
        seen = (lease.holder, lease.renew_time, lease.resource_version)
        if seen != self._seen:
            self._seen, self._seen_at = seen, self._monotonic()
        return self._monotonic() - self._seen_at > lease.duration_seconds
