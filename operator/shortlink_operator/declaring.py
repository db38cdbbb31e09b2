"""Writing the ShortLinks that annotations declare: the last step of a pass (see `declared`).

`declared.declarations` says which links to create, change and delete; `DeclaredLinkWriter`
makes those writes and reports what could not be done as Warning Events on the annotated objects.
A write the API server refuses (the CRD's rules, an admission policy) is reported and not tried
again while the declaration stays the same; it never fails the pass. Each problem is posted once,
and again only after it went away.
"""

import contextlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from shortlink_operator.bounded import bounded
from shortlink_operator.declared import Problem, Write, declarations
from shortlink_operator.inputs import Inputs
from shortlink_operator.kube import Conflict, Kube, Refused

logger = logging.getLogger(__name__)


class DeclaredLinkWriter:
    def __init__(self, *, kube: Kube, concurrency: int, now: Callable[[], str]) -> None:
        self._kube = kube
        self._concurrency = concurrency
        self._now = now
        # Declared-link writes the API server refused (not tried again while the same), and the
        # problems already posted on annotated objects.
        self._refused_writes: set[str] = set()
        self._posted_problems: set[Problem] = set()

    async def write(self, inputs: Inputs) -> None:
        """Create, change and delete the ShortLinks that `inputs`' annotations declare.

        Only call it once every kind is listed, so a link is never deleted for an object not yet
        seen.
        """
        wanted = declarations(inputs.referents, inputs.links)
        problems = list(wanted.problems)
        attempts = {_fingerprint(write.body) for write in wanted.writes}

        async def attempt(write: Write) -> None:
            try:
                if write.name is None:
                    with contextlib.suppress(Conflict):  # created meanwhile: its event will come
                        await self._kube.create_shortlink(write.body)
                else:
                    await self._kube.patch_shortlink(write.about.namespace, write.name, write.body)
            except Refused as error:
                self._refused_writes.add(_fingerprint(write.body))
                message = f"the ShortLink it declares was refused: {error}"
                problems.append(Problem(write.about, "LinkRefused", message))

        self._refused_writes &= attempts
        calls = [
            attempt(write)
            for write in wanted.writes
            if _fingerprint(write.body) not in self._refused_writes
        ]

        async def delete(gone: tuple[str, str, str]) -> None:
            await self._kube.delete_shortlink(*gone)

        calls += [delete(gone) for gone in wanted.delete]
        await bounded(calls, limit=self._concurrency)
        await self._post_problems(problems)

    async def _post_problems(self, problems: Sequence[Problem]) -> None:
        current = set(problems)
        new, self._posted_problems = current - self._posted_problems, current
        timestamp = self._now()

        async def post(problem: Problem) -> None:
            about = problem.about
            try:
                await self._kube.post_event(
                    namespace=about.namespace,
                    name=about.name,
                    uid=about.uid,
                    type="Warning",
                    reason=problem.reason,
                    message=problem.message,
                    now=timestamp,
                    kind=about.kind,
                    api_version=about.api_version,
                )
            except Exception as error:  # a courtesy, as every Event
                logger.warning(
                    "could not post Event %s on %s: %s", problem.reason, about.name, error
                )

        await bounded(map(post, sorted(new, key=repr)), limit=self._concurrency)


def _fingerprint(body: Mapping[str, Any]) -> str:
    return json.dumps(body, sort_keys=True)
