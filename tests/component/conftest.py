"""In-process fixtures for the redirector: the real ASGI app, driven through httpx."""

from collections.abc import AsyncIterator

import httpx
import pytest

from shortlink_core.table import Route, encode_shard
from shortlink_redirector.app import create_app
from shortlink_redirector.state import RedirectorState


def shard(*routes: Route) -> dict[str, str]:
    return encode_shard(routes)


def route(
    slug: str, url: str = "https://example.com/", code: int = 302, name: str | None = None
) -> Route:
    return Route(slug=slug, url=url, code=code, namespace="team", name=name or slug)


@pytest.fixture
def state() -> RedirectorState:
    return RedirectorState()


@pytest.fixture
async def client(state: RedirectorState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://short.test") as client:
        yield client
