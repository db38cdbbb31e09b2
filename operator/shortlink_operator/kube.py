"""The operator's only door to the Kubernetes API: table ConfigMaps, ShortLink status, Events and
the Lease that elects the one writer.

Every write to a shard or the Lease carries the resourceVersion it was computed from, so a
concurrent writer makes the API server answer 409 (`Conflict`) instead of being silently
overwritten. Every error goes through `_call`, which turns the answers the caller acts on into
exceptions of their own: `Conflict`, `Gone`, `Throttled` (429, with the server's Retry-After), and
`Refused` for any other error answer.
"""

import contextlib
import json
import warnings
from collections.abc import Mapping
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
    PLURAL,
    POLICY_PLURAL,
    TABLE_LABEL,
    TABLE_LABEL_SELECTOR,
)
from shortlink_operator.metrics import OperatorMetrics, observed

REQUEST_TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)
MERGE_PATCH: Final = {"Content-Type": "application/merge-patch+json"}
#: Ask a LIST for metadata only (PartialObjectMetadataList), falling back to whole objects.
METADATA_ONLY: Final = {
    "Accept": "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"
}
LEASE_API: Final = "coordination.k8s.io/v1"


class Conflict(Exception):
    """The object changed since it was read; re-read it and compute the write again."""


class Gone(Exception):
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
    """A routing-table ConfigMap as it is in the cluster."""

    name: str
    resource_version: str
    data: Mapping[str, str]


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
        body = await self._call(
            "GET", "v1", "configmaps", params={"labelSelector": TABLE_LABEL_SELECTOR}
        )
        return {item["metadata"]["name"]: _shard(item) for item in body["items"]}

    @observed("create_shard")
    async def create_shard(self, name: str, data: Mapping[str, str]) -> Shard:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": name,
                "labels": {TABLE_LABEL: "true", MANAGED_BY_LABEL: MANAGED_BY},
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
        with contextlib.suppress(Gone):  # already deleted is deleted
            await self._call("DELETE", "v1", f"configmaps/{shard.name}", json=options)

    @observed("patch_status")
    async def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        """Merge `status` into a ShortLink's status; a link deleted meanwhile is not an error."""
        with contextlib.suppress(Gone):
            await self._call(
                "PATCH",
                API_VERSION,
                f"{PLURAL}/{name}/status",
                namespace=namespace,
                content=json.dumps({"status": status}),
                headers=MERGE_PATCH,
            )

    @observed("post_event")
    async def post_event(
        self, *, namespace: str, name: str, uid: str, type: str, reason: str, message: str, now: str
    ) -> None:
        """Record a core/v1 Event about a ShortLink, as `kubectl describe` shows it."""
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{name}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": API_VERSION,
                "kind": KIND,
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
    async def list_present(self, version: str, plural: str) -> tuple[set[tuple[str, str]], int]:
        """The (namespace, name) of every object of a kind, and the resourceVersion of that
        snapshot: metadata only, so a resync's listing of 100,000 links stays small."""
        present: set[tuple[str, str]] = set()
        params: dict[str, Any] = {"limit": 2000}
        snapshot = 0
        while True:
            body = await self._call(
                "GET", version, plural, namespace="", params=dict(params), headers=METADATA_ONLY
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
            params["fieldManager"] = FIELD_MANAGER
        if self._api is None:
            with warnings.catch_warnings():
                # kr8s warns about any Kubernetes newer than it was tested with; we test ours.
                warnings.filterwarnings("ignore", "Kubernetes version", UserWarning)
                self._api = await kr8s.asyncio.api()
        try:
            async with self._api.call_api(
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
                raise Gone(str(error)) from error
            if code == 429:
                raise Throttled(str(error), _retry_after(error.response)) from error
            if code is not None:
                raise Refused(str(error), code) from error
            raise


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
