"""The operator's Prometheus client against canned HTTP answers: a vector, or one exception.

The prometheus tier runs it against a real Prometheus, up and away; these cover the answers a real
one gives only when misconfigured (a bad query, a proxy's error page, a scalar).
"""

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from shortlink_operator.prometheus import Prometheus, PrometheusUnavailable

VECTOR = {
    "status": "success",
    "data": {
        "resultType": "vector",
        "result": [{"metric": {"namespace": "a", "name": "b"}, "value": [1.0, "2"]}],
    },
}


def client(answer: Callable[[httpx.Request], httpx.Response]) -> Prometheus:
    return Prometheus("http://prometheus:9090/", transport=httpx.MockTransport(answer))


async def test_an_instant_query_is_posted_with_its_time_and_returns_the_vector() -> None:
    asked: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(200, json=VECTOR)

    prometheus = client(answer)
    result = await prometheus.query("up > 0", at=1700000000.5)
    await prometheus.close()
    assert result == VECTOR["data"]["result"]  # type: ignore[index]
    (request,) = asked
    assert (request.method, str(request.url)) == ("POST", "http://prometheus:9090/api/v1/query")
    assert request.content == b"query=up+%3E+0&time=1700000000.500"


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (400, {"status": "error", "errorType": "bad_data", "error": "parse error"}, "bad_data"),
        (200, {"status": "success", "data": {"resultType": "scalar", "result": []}}, "scalar"),
        (200, {"status": "error", "errorType": "timeout", "error": "slow"}, "timeout: slow"),
        (502, "<html>bad gateway</html>", "JSONDecodeError"),
        (200, [1, 2], "not a JSON object"),
    ],
)
async def test_anything_but_a_vector_is_prometheus_unavailable(
    status: int, body: Any, message: str
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    prometheus = client(answer)
    with pytest.raises(PrometheusUnavailable, match=message):
        await prometheus.query("up", at=0)
    await prometheus.close()


async def test_no_answer_at_all_is_prometheus_unavailable() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    prometheus = client(answer)
    with pytest.raises(PrometheusUnavailable, match="ConnectError"):
        await prometheus.query("up", at=0)
    await prometheus.close()
