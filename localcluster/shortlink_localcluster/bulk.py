"""Many ShortLinks at once, through the API (not one `kubectl apply` each), and reading them back.

The scale test and the scale benchmark create thousands of links with a bounded number of
concurrent POSTs (the create-rate benchmark creates ConfigMaps beside them the same way), and read
the table and the links' readiness with paginated LISTs.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx

from shortlink_core.api import API_VERSION, PLURAL, TABLE_LABEL_SELECTOR
from shortlink_localcluster.access import ClusterAccess

PAGE: Final = 2000


def links_path(namespace: str) -> str:
    return f"/apis/{API_VERSION}/namespaces/{namespace}/{PLURAL}"


def bulk_url(prefix: str, index: int) -> str:
    return f"https://example.com/{prefix}/{index}"


async def create_links(
    control_plane: ClusterAccess, namespace: str, count: int, *, prefix: str, concurrency: int = 24
) -> None:
    """Create ShortLinks `<prefix>-<n>` for n in 0..count-1, serving `bulk_url(prefix, n)`."""
    bodies = (
        {
            "apiVersion": API_VERSION,
            "kind": "ShortLink",
            "metadata": {"name": f"{prefix}-{index}"},
            "spec": {"url": bulk_url(prefix, index)},
        }
        for index in range(count)
    )
    await create_objects(control_plane, links_path(namespace), bodies, concurrency=concurrency)


async def create_objects(
    control_plane: ClusterAccess,
    path: str,
    bodies: Iterable[Mapping[str, Any]],
    *,
    concurrency: int = 24,
) -> None:
    """POST each of `bodies` to the collection at `path`, `concurrency` at a time; a 429 is waited
    out and retried, a 409 (already there) is fine, any other error raises."""
    pending = iter(bodies)
    async with control_plane.admin_client(timeout=60) as client:

        async def worker() -> None:
            for body in pending:
                for _ in range(20):
                    response = await client.post(path, json=body)
                    if response.status_code != 429:
                        break
                    await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                if response.status_code != 409 and response.is_error:
                    raise RuntimeError(
                        f"creating {body['kind']} {body['metadata']['name']}: "
                        f"{response.status_code} {response.text[:500]}"
                    )

        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def delete_links(control_plane: ClusterAccess, namespace: str) -> None:
    """Delete every ShortLink of `namespace`, and return once none is left."""
    async with control_plane.admin_client(timeout=300) as client:
        for _ in range(10):
            await _delete_collection(client, namespace)
            for _ in range(30):
                listed = await client.get(links_path(namespace), params={"limit": "1"})
                listed.raise_for_status()
                if not listed.json()["items"]:
                    return
                await asyncio.sleep(1)
        raise TimeoutError(f"ShortLinks of {namespace} still there 300 s after their deletion")


async def _delete_collection(client: httpx.AsyncClient, namespace: str) -> None:
    """Ask for the whole collection's deletion, without waiting for the list of what went.

    A collection of thousands can outlast the server's own request timeout: it answers 504, or
    cuts the chunked list of deleted objects short. Neither undoes what was deleted, so the
    caller checks what is left and asks again.
    """
    try:
        async with client.stream("DELETE", links_path(namespace)) as response:
            if response.status_code != 504:
                response.raise_for_status()
    except httpx.RemoteProtocolError:
        pass


async def _paged(client: httpx.AsyncClient, path: str, **params: str) -> AsyncIterator[Any]:
    token = ""
    while True:
        query = {**params, "limit": str(PAGE), **({"continue": token} if token else {})}
        response = await client.get(path, params=query)
        response.raise_for_status()
        body = response.json()
        for item in body["items"]:
            yield item
        token = body["metadata"].get("continue") or ""
        if not token:
            return


@dataclass(frozen=True, slots=True)
class Readiness:
    total: int
    #: How many links have each Ready reason ("" for none yet).
    reasons: dict[str, int]


async def readiness(control_plane: ClusterAccess, namespace: str) -> Readiness:
    reasons: dict[str, int] = {}
    total = 0
    async with control_plane.admin_client(timeout=120) as client:
        async for item in _paged(client, links_path(namespace)):
            total += 1
            conditions = (item.get("status") or {}).get("conditions") or []
            reason = next((c["reason"] for c in conditions if c["type"] == "Ready"), "")
            reasons[reason] = reasons.get(reason, 0) + 1
    return Readiness(total=total, reasons=reasons)


async def table(control_plane: ClusterAccess, namespace: str) -> dict[str, dict[str, str]]:
    """The routing-table ConfigMaps' data, by name."""
    async with control_plane.admin_client(timeout=120) as client:
        path = f"/api/v1/namespaces/{namespace}/configmaps"
        return {
            item["metadata"]["name"]: item.get("data") or {}
            async for item in _paged(client, path, labelSelector=TABLE_LABEL_SELECTOR)
        }


def routes(shards: dict[str, dict[str, str]]) -> dict[str, dict[str, Any]]:
    """Every route in the table, by slug (entries are filed under their routing key)."""
    entries: dict[str, dict[str, Any]] = {}
    for data in shards.values():
        for entry in json.loads(data.get("routes.json", "{}")).values():
            entries[entry["slug"]] = entry
    return entries


async def api_writes(control_plane: ClusterAccess) -> dict[str, float]:
    """Writes the API server has served so far, by resource (from its own /metrics)."""
    async with control_plane.admin_client(timeout=30) as client:
        response = await client.get("/metrics")
        response.raise_for_status()
    writes: dict[str, float] = {}
    for line in response.text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels, value = line[len("apiserver_request_total{") :].rsplit("} ", 1)
        fields = dict(part.split("=", 1) for part in labels.split('",') if "=" in part)
        fields = {k: v.strip('"') for k, v in fields.items()}
        if fields.get("verb") in {"POST", "PATCH", "PUT", "DELETE", "APPLY"}:
            resource = fields.get("resource", "") + (
                "/" + fields["subresource"] if fields.get("subresource") else ""
            )
            key = f"{fields['verb']} {resource}"
            writes[key] = writes.get(key, 0.0) + float(value)
    return writes
