"""kopf settings for this operator, all explicit: what it writes, how it waits for the API."""

import itertools
from collections.abc import Iterator
from typing import Final

import kopf

from shortlink_core.api import ANNOTATION_PREFIX

#: The API server can be away for minutes (an upgrade, a control-plane restart): keep retrying,
#: at most every 30 s, instead of giving up after kopf's default eight attempts.
RETRY_DELAYS: Final = (1, 1, 2, 3, 5, 8, 13, 21)
RETRY_DELAY_MAX: Final = 30


class _EndlessBackoff:
    """An iterable kopf can restart for every request (a bare iterator would be used up)."""

    def __iter__(self) -> Iterator[float]:
        return itertools.chain(RETRY_DELAYS, itertools.repeat(RETRY_DELAY_MAX))


def configure(settings: kopf.OperatorSettings) -> None:
    # Our own prefix for anything kopf stores. The operator registers no change-detecting
    # handlers, so in practice kopf writes no annotation and no finalizer to a ShortLink.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=ANNOTATION_PREFIX
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATION_PREFIX, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{ANNOTATION_PREFIX}/finalizer"
    settings.posting.reporting_component = "shortlink-operator"
    # The API server ends a watch after server_timeout; the client gives up a little later, so a
    # silently stalled connection is noticed and re-established instead of waiting forever. A
    # "410 Gone" (resourceVersion too old) makes kopf list again, yielding only what still
    # exists; the handlers notice the new listing and the publisher re-lists names to forget what
    # was deleted meanwhile (and does so at every resync, when it also re-reads the table), so
    # nothing depends on an unbroken watch.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    settings.watching.inactivity_timeout = 600
    settings.networking.request_timeout = 30
    settings.networking.connect_timeout = 10
    settings.networking.error_backoffs = _EndlessBackoff()
