"""Filling the operator's indexes from the API server, and forgetting what it no longer holds.

`seed` reads every ShortLink, policy, namespace and object a `targetRef` may name once at start-up
(retried with backoff until it works), so the first pass plans from a complete memory. `prune`
lists their names again (metadata only) and forgets the objects gone: kopf never reports a
deletion that happened during a watch gap (it lists again and yields what exists), so without it a
deleted link stayed planned and served until the operator restarted. The scheduler decides when a
prune runs (every resync); the publisher also runs one as soon as kopf lists a kind again.
"""

import asyncio
import logging
from typing import Final

from shortlink_core.api import API_VERSION, PLURAL, POLICY_PLURAL
from shortlink_core.backoff import Backoff
from shortlink_operator.kube import Kube, Listing, NotFound
from shortlink_operator.link_index import Indexes

#: Waits between failed start-up LISTs (the API server away, RBAC not there yet).
SEED_BACKOFF_SECONDS: Final = (0.5, 1, 2, 4, 8, 15, 30)
#: The API version and plural of each indexed kind (`Indexes.every`).
API_OF: Final = {
    "shortlinks": (API_VERSION, PLURAL),
    "shortlinkpolicies": (API_VERSION, POLICY_PLURAL),
    "namespaces": ("v1", "namespaces"),
    "ingresses": ("networking.k8s.io/v1", "ingresses"),
    "httproutes": ("gateway.networking.k8s.io/v1", "httproutes"),
    "gateways": ("gateway.networking.k8s.io/v1", "gateways"),
    "services": ("v1", "services"),
}

logger = logging.getLogger(__name__)


async def seed(
    *,
    kube: Kube,
    indexes: Indexes,
    backoff: Backoff | None = None,
) -> None:
    """Merge one complete LIST of each kind into `indexes`, retrying until it works."""
    backoff = backoff if backoff is not None else Backoff(SEED_BACKOFF_SECONDS)
    while True:
        try:
            for plural, index in indexes.every():
                if index.complete:
                    continue  # listed before a later kind failed
                try:
                    listing = await _list(kube, plural)
                except NotFound:  # an API not installed (Gateway API): none of them yet
                    index.seed(())
                    continue
                index.seed(listing.items, version=listing.resource_version)
        except Exception as error:
            delay = backoff.failed()
            logger.warning("cannot list ShortLinks (%s); retrying in %s s", error, delay)
            await asyncio.sleep(delay)
        else:
            logger.info("%d ShortLinks known; publishing", len(indexes.links))
            return


async def _list(kube: Kube, plural: str) -> Listing:
    if plural == PLURAL:
        return await kube.list_shortlinks()
    if plural == POLICY_PLURAL:
        return await kube.list_policies()
    if plural == "namespaces":
        return await kube.list_namespaces()
    return await kube.list_objects(*API_OF[plural])


async def prune(*, kube: Kube, indexes: Indexes) -> bool:
    """Forget every indexed object a fresh listing no longer has; True if any was forgotten.

    A failure is logged and waits for the next resync (a prune is a repair, not a pass).
    """
    if not indexes.complete:
        return False  # seeding has not finished: its own listing is the fresh one
    gone = False
    try:
        for plural, index in indexes.every():
            try:
                present, snapshot = await kube.list_present(*API_OF[plural])
            except NotFound:  # the API went away (its CRD deleted): so did its objects
                present, snapshot = set(), 0
            gone |= index.prune(present, version=snapshot)
    except Exception as error:
        logger.warning("cannot re-list to forget deleted objects (%s); at the next resync", error)
    if gone:
        logger.info("forgot objects deleted while the watch was away; publishing")
    return gone
