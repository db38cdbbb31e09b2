"""The operator's door to Prometheus's HTTP API: instant queries, nothing else.

Only `visit_reporter` uses it. Every failure (no answer, a non-2xx status, an answer that is not
a successful vector) is one exception, `PrometheusUnavailable`, which the caller logs, counts and
retries later; nothing here retries by itself.
"""

from collections.abc import Mapping
from typing import Any, Final

import httpx

TIMEOUT: Final = httpx.Timeout(60.0, connect=5.0)


class PrometheusUnavailable(Exception):
    """Prometheus did not answer a query with a vector."""


class Prometheus:
    """A client of one Prometheus server's `/api/v1/query`; the connection is made on first use."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: httpx.Timeout = TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._transport = transport  # None: the network
        self._client: httpx.AsyncClient | None = None

    async def query(self, expr: str, *, at: float) -> list[Mapping[str, Any]]:
        """The instant vector `expr` evaluates to at Unix time `at` (Prometheus's `data.result`)."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self._base_url, timeout=self._timeout, transport=self._transport
            )
        try:
            # POST with a form body: a long query never meets a URL length limit.
            response = await self._client.post(
                "/api/v1/query", data={"query": expr, "time": f"{at:.3f}"}
            )
            body = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise PrometheusUnavailable(f"{type(error).__name__}: {error}") from error
        if response.status_code != 200 or not isinstance(body, dict):
            raise PrometheusUnavailable(f"HTTP {response.status_code}: {_error_of(body)}")
        data = body.get("data")
        if body.get("status") != "success" or not isinstance(data, dict):
            raise PrometheusUnavailable(_error_of(body))
        if data.get("resultType") != "vector" or not isinstance(data.get("result"), list):
            raise PrometheusUnavailable(f"not a vector: {data.get('resultType')!r}")
        result: list[Mapping[str, Any]] = data["result"]
        return result

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _error_of(body: object) -> str:
    if isinstance(body, dict):
        return f"{body.get('errorType', 'error')}: {body.get('error', 'no error message')}"
    return "an answer that is not a JSON object"
