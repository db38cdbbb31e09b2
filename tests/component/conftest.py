"""In-process fixtures for the redirector: the real ASGI app, driven through httpx."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from shortlink_core.link import parse_link
from shortlink_core.table import Route, encode_shard
from shortlink_redirector.app import create_app
from shortlink_redirector.state import RedirectorState


def shard(*routes: Route) -> dict[str, str]:
    return encode_shard(routes)


def route(slug: str, url: str = "https://example.com/", code: int = 302, **fields: Any) -> Route:
    """A route as the operator writes it: the spec validated, UTM tags applied."""
    spec = {"url": url, "slug": slug, "redirectCode": code, **fields}
    return Route(slug=slug, link=parse_link(spec).with_utm_applied(), namespace="team", name=slug)


@pytest.fixture
def state() -> RedirectorState:
    return RedirectorState()


@pytest.fixture
async def client(state: RedirectorState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state), client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://short.test") as client:
        yield client
