"""The operator's only door to the Kubernetes API: table ConfigMaps (the shards, the manifest, and
a watch on both), ShortLink status (its `visits`, and the prober's `TargetReachable` condition),
Events, the Lease that elects the one writer, and reading (never writing) the objects a targetRef
may name.

Every write to a shard or the Lease carries the resourceVersion it was computed from, so a
concurrent writer makes the API server answer 409 (`Conflict`) instead of being silently
overwritten. Every error goes through `_call`, which turns the answers the caller acts on into
exceptions of their own: `Conflict` (409), `NotFound` (404), `Throttled` (429, with the server's
Retry-After), and `Refused` for any other error answer.
"""

import contextlib
import json
import warnings
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx
import kr8s
import kr8s.asyncio

from shortlink_core.api import (
    API_VERSION,
    FIELD_MANAGER,
    KIND,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    MANIFEST_LABEL_VALUE,
    MANIFEST_NAME,
    PLURAL,
    POLICY_PLURAL,
    TABLE_LABEL,
    TABLE_OBJECTS_SELECTOR,
)
from shortlink_core.table_watch import (
    WATCH_READ_MARGIN_SECONDS,
    WATCH_SECONDS,
    watch_table,
)
from shortlink_operator.metrics import OperatorMetrics, observed

REQUEST_TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)
MERGE_PATCH: Final = {"Content-Type": "application/merge-patch+json"}
APPLY_PATCH: Final = {"Content-Type": "application/apply-patch+yaml"}
#: The prober's own field manager: its server-side apply owns the TargetReachable condition only.
PROBER_FIELD_MANAGER: Final = "shortlink-operator-prober"
#: Asks a watch for each object's metadata only (the operator knows what its shards hold).
METADATA_ONLY_WATCH: Final = {
    "Accept": "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
}
#: Asks a LIST for metadata only (PartialObjectMetadataList), falling back to whole objects.
METADATA_ONLY_LIST: Final = {
    "Accept": "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"
}
LEASE_API: Final = "coordination.k8s.io/v1"
#: A read that waits past the server's end of the watch means the connection stalled silently.
WATCH_TIMEOUT: Final = httpx.Timeout(
    connect=10.0, read=WATCH_SECONDS + WATCH_READ_MARGIN_SECONDS, write=10.0, pool=10.0
)


class Conflict(Exception):
    """The object changed since it was read; re-read it and compute the write again."""


class NotFound(Exception):
    """The object does not exist (any more)."""


class Refused(Exception):
    """The API server answered with an error that retrying the same request will not cure soon
    (a 422 for an invalid object, a 403, an admission webhook's denial, a 5xx)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class Throttled(Exception):
    """The API server asked us to slow down (429); wait `retry_after` seconds before retrying."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Lease:
    """The coordination.k8s.io Lease that says which operator process may write."""

    name: str
    resource_version: str
    holder: str | None
    duration_seconds: int
    #: The raw renewTime; only ever compared for change, so clock skew does not matter.
    renew_time: str | None


@dataclass(frozen=True, slots=True)
class Listing:
    """The objects of a complete LIST and the resourceVersion of its snapshot."""

    items: list[dict[str, Any]]
    resource_version: int


@dataclass(frozen=True, slots=True)
class Shard:
    """A routing-table ConfigMap (a shard, or the manifest) as it is in the cluster."""

    name: str
    resource_version: str
    data: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class TableEvent:
    """A change to a routing-table ConfigMap, as the (metadata-only) watch reports it."""

    kind: str  # ADDED, MODIFIED, DELETED or BOOKMARK (a newer version to resume from, no change)
    name: str
    resource_version: str


class Kube:
    """Talks to the cluster of the in-cluster service account or the kubeconfig, as kubectl would.

    The connection is made on the first request, so an API server that is away at start-up is an
    error of that request (retried by the caller), not of the process.
    """

    def __init__(
        self, *, namespace: str, api: Any = None, metrics: OperatorMetrics | None = None
    ) -> None:
        self._api = api
        self.namespace = namespace
        self.metrics = metrics if metrics is not None else OperatorMetrics()

    @observed("list_shards")
    async def list_shards(self) -> dict[str, Shard]:
        """Every routing-table ConfigMap by name: the shards, and the manifest if there is one."""
        body = await self._call(
            "GET", "v1", "configmaps", params={"labelSelector": TABLE_OBJECTS_SELECTOR}
        )
        return {item["metadata"]["name"]: _shard(item) for item in body["items"]}

    async def table_version(self) -> str:
        """A resourceVersion to watch the table from (a LIST of one item: cheap at any size)."""
        params = {"labelSelector": TABLE_OBJECTS_SELECTOR, "limit": 1}
        body = await self._call("GET", "v1", "configmaps", params=params)
        return str(body["metadata"]["resourceVersion"])

    async def watch_table(self, resource_version: str) -> AsyncIterator[TableEvent]:
        """Changes to the routing-table ConfigMaps after `resource_version` (names and versions,
        not data), until the server ends the watch; `WatchExpired` when that version is too old."""
        changes = watch_table(
            await self._connected(),
            namespace=self.namespace,
            resource_version=resource_version,
            request_timeout=WATCH_TIMEOUT,
            headers=METADATA_ONLY_WATCH,
        )
        async for kind, obj in changes:
            meta = obj["metadata"]
            yield TableEvent(
                kind=kind, name=meta.get("name", ""), resource_version=meta["resourceVersion"]
            )

    @observed("create_shard")
    async def create_shard(self, name: str, data: Mapping[str, str]) -> Shard:
        """Create a shard, or the manifest when `name` is `MANIFEST_NAME`."""
        table_label = MANIFEST_LABEL_VALUE if name == MANIFEST_NAME else "true"
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": name,
                "labels": {TABLE_LABEL: table_label, MANAGED_BY_LABEL: MANAGED_BY},
            },
            "data": dict(data),
        }
        return _shard(await self._call("POST", "v1", "configmaps", json=body))

    @observed("update_shard")
    async def update_shard(self, shard: Shard, data: Mapping[str, str]) -> Shard:
        # A merge patch with metadata.resourceVersion is a precondition: 409 if it moved on.
        patch = {
            "metadata": {"resourceVersion": shard.resource_version},
            "data": _replacing(shard.data, data),
        }
        return _shard(
            await self._call(
                "PATCH",
                "v1",
                f"configmaps/{shard.name}",
                content=json.dumps(patch),
                headers=MERGE_PATCH,
            )
        )

    @observed("delete_shard")
    async def delete_shard(self, shard: Shard) -> None:
        options = {"preconditions": {"resourceVersion": shard.resource_version}}
        with contextlib.suppress(NotFound):  # already deleted is deleted
            await self._call("DELETE", "v1", f"configmaps/{shard.name}", json=options)

    @observed("patch_status")
    async def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        """Merge `status` into a ShortLink's status; a link deleted meanwhile is not an error."""
        with contextlib.suppress(NotFound):
            await self._call(
                "PATCH",
                API_VERSION,
                f"{PLURAL}/{name}/status",
                namespace=namespace,
                content=json.dumps({"status": status}),
                headers=MERGE_PATCH,
            )

    @observed("patch_visits")
    async def patch_visits(self, namespace: str, name: str, visits: Mapping[str, Any]) -> None:
        """Merge `visits` into a ShortLink's `status.visits`, leaving every other status field
        as it is; a link deleted meanwhile is not an error."""
        with contextlib.suppress(NotFound):
            await self._call(
                "PATCH",
                API_VERSION,
                f"{PLURAL}/{name}/status",
                namespace=namespace,
                content=json.dumps({"status": {"visits": dict(visits)}}),
                headers=MERGE_PATCH,
            )

    @observed("apply_condition")
    async def apply_condition(
        self, namespace: str, name: str, condition: Mapping[str, Any]
    ) -> None:
        """Set one condition of a ShortLink's status by server-side apply, leaving the others
        (the list is a map keyed by `type`) and every other field as they are; a link deleted
        meanwhile is not an error."""
        body = {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": name, "namespace": namespace},
            "status": {"conditions": [dict(condition)]},
        }
        with contextlib.suppress(NotFound):
            await self._call(
                "PATCH",
                API_VERSION,
                f"{PLURAL}/{name}/status",
                namespace=namespace,
                content=json.dumps(body),
                headers=APPLY_PATCH,
                params={"fieldManager": PROBER_FIELD_MANAGER, "force": "true"},
            )

    @observed("post_event")
    async def post_event(
        self,
        *,
        namespace: str,
        name: str,
        uid: str,
        type: str,
        reason: str,
        message: str,
        now: str,
        kind: str = KIND,
        api_version: str = API_VERSION,
    ) -> None:
        """Record a core/v1 Event about a ShortLink (or the object that declared one), as
        `kubectl describe` shows it."""
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{name}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": api_version,
                "kind": kind,
                "namespace": namespace,
                "name": name,
                "uid": uid,
            },
            "type": type,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": FIELD_MANAGER},
            "reportingComponent": FIELD_MANAGER,
            "reportingInstance": FIELD_MANAGER,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        await self._call("POST", "v1", "events", namespace=namespace, json=body)

    @observed("create_shortlink")
    async def create_shortlink(self, body: Mapping[str, Any]) -> None:
        """Create a ShortLink declared by annotations on an object."""
        namespace = body["metadata"]["namespace"]
        await self._call("POST", API_VERSION, PLURAL, namespace=namespace, json=dict(body))

    @observed("patch_shortlink")
    async def patch_shortlink(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        """Merge `patch` into a declared ShortLink (its spec and ownership, never its status)."""
        await self._call(
            "PATCH",
            API_VERSION,
            f"{PLURAL}/{name}",
            namespace=namespace,
            content=json.dumps(patch),
            headers=MERGE_PATCH,
        )

    @observed("delete_shortlink")
    async def delete_shortlink(self, namespace: str, name: str, uid: str) -> None:
        """Delete a declared ShortLink, only the one with `uid` (not a newer one of that name)."""
        options = {"preconditions": {"uid": uid}}
        with contextlib.suppress(NotFound):
            await self._call(
                "DELETE", API_VERSION, f"{PLURAL}/{name}", namespace=namespace, json=options
            )

    async def read_lease(self, name: str) -> Lease:
        return _lease(await self._call("GET", LEASE_API, f"leases/{name}"))

    async def create_lease(self, name: str, *, holder: str, duration: int, now: str) -> Lease:
        body = {
            "apiVersion": LEASE_API,
            "kind": "Lease",
            "metadata": {"name": name},
            "spec": _lease_spec(holder, duration, now, acquired=True),
        }
        return _lease(await self._call("POST", LEASE_API, "leases", json=body))

    async def write_lease(
        self, lease: Lease, *, holder: str | None, duration: int, now: str, acquired: bool
    ) -> Lease:
        """Replace the Lease's spec, guarded by its resourceVersion (409 if someone got there)."""
        patch = {
            "metadata": {"resourceVersion": lease.resource_version},
            "spec": _lease_spec(holder, duration, now, acquired=acquired),
        }
        return _lease(
            await self._call(
                "PATCH",
                LEASE_API,
                f"leases/{lease.name}",
                content=json.dumps(patch),
                headers=MERGE_PATCH,
            )
        )

    @observed("list_shortlinks")
    async def list_shortlinks(self) -> "Listing":
        """Every ShortLink in the cluster, read in pages (a consistent snapshot)."""
        return await self.list_all(API_VERSION, PLURAL)

    @observed("list_scope")
    async def list_policies(self) -> "Listing":
        return await self.list_all(API_VERSION, POLICY_PLURAL)

    @observed("list_scope")
    async def list_namespaces(self) -> "Listing":
        return await self.list_all("v1", "namespaces")

    @observed("list_scope")
    async def list_objects(self, version: str, plural: str) -> "Listing":
        """Every object of a kind a targetRef may name (cluster-wide, read-only)."""
        return await self.list_all(version, plural)

    @observed("list_scope")
    async def list_present(self, version: str, plural: str) -> tuple[set[tuple[str, str]], int]:
        """The (namespace, name) of every object of a kind, and the resourceVersion of that
        snapshot: metadata only, so a resync's listing of 100,000 links stays small."""
        present: set[tuple[str, str]] = set()
        params: dict[str, Any] = {"limit": 2000}
        snapshot = 0
        while True:
            body = await self._call(
                "GET",
                version,
                plural,
                namespace="",
                params=dict(params),
                headers=METADATA_ONLY_LIST,
            )
            snapshot = snapshot or int(body["metadata"].get("resourceVersion") or 0)
            for item in body.get("items") or ():  # null in an empty metadata-only list
                meta = item["metadata"]
                present.add((meta.get("namespace") or "", meta["name"]))
            token = body["metadata"].get("continue")
            if not token:
                return present, snapshot
            params["continue"] = token

    async def list_all(self, version: str, plural: str, *, page: int = 500) -> "Listing":
        """Every object of a kind, cluster-wide, read in pages of one consistent snapshot."""
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": page}
        snapshot = 0
        while True:
            body = await self._call("GET", version, plural, namespace="", params=dict(params))
            snapshot = snapshot or int(body["metadata"].get("resourceVersion") or 0)
            items.extend(body.get("items") or ())  # without kind and apiVersion of each item
            token = body["metadata"].get("continue")
            if not token:
                return Listing(items, snapshot)
            params["continue"] = token

    async def _call(
        self, method: str, version: str, url: str, *, namespace: str | None = None, **kwargs: Any
    ) -> Any:
        params = dict(kwargs.pop("params", {}))
        if method in {"POST", "PATCH", "PUT"}:
            params.setdefault("fieldManager", FIELD_MANAGER)
        api = await self._connected()
        try:
            async with api.call_api(
                method,
                version=version,
                namespace=self.namespace if namespace is None else namespace,
                url=url,
                params=params,
                timeout=REQUEST_TIMEOUT,
                **kwargs,
            ) as response:
                return response.json()
        except kr8s.ServerError as error:
            code = error.response.status_code if error.response is not None else None
            if code == 409:
                raise Conflict(str(error)) from error
            if code == 404:
                raise NotFound(str(error)) from error
            if code == 429:
                raise Throttled(str(error), _retry_after(error.response)) from error
            if code is not None:
                raise Refused(str(error), code) from error
            raise

    async def _connected(self) -> Any:
        if self._api is None:
            with warnings.catch_warnings():
                # kr8s warns about any Kubernetes newer than it was tested with; we test ours.
                warnings.filterwarnings("ignore", "Kubernetes version", UserWarning)
                self._api = await kr8s.asyncio.api()
        return self._api


def _shard(item: Mapping[str, Any]) -> Shard:
    meta = item["metadata"]
    return Shard(
        name=meta["name"], resource_version=meta["resourceVersion"], data=item.get("data") or {}
    )


def _lease(item: Mapping[str, Any]) -> Lease:
    spec = item.get("spec") or {}
    return Lease(
        name=item["metadata"]["name"],
        resource_version=item["metadata"]["resourceVersion"],
        holder=spec.get("holderIdentity") or None,
        duration_seconds=int(spec.get("leaseDurationSeconds") or 15),
        renew_time=spec.get("renewTime"),
    )


def _lease_spec(holder: str | None, duration: int, now: str, *, acquired: bool) -> dict[str, Any]:
    # MicroTime wants fractional seconds; `now` is whole seconds in RFC 3339.
    micro = now.replace("Z", ".000000Z")
    spec: dict[str, Any] = {
        "holderIdentity": holder,
        "leaseDurationSeconds": duration,
        "renewTime": micro,
    }
    if acquired:
        spec["acquireTime"] = micro
    return spec


def _retry_after(response: httpx.Response | None) -> float:
    try:
        return max(1.0, float(response.headers.get("Retry-After", "1"))) if response else 1.0
    except ValueError:
        return 1.0


def _replacing(old: Mapping[str, str], new: Mapping[str, str]) -> dict[str, str | None]:
    """A merge-patch `data` that turns `old` into `new` (null removes a key)."""
    patch: dict[str, str | None] = {key: None for key in old if key not in new}
    patch.update(new)
    return patch
