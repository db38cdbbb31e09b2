"""One probe request against a real HTTP server on 127.0.0.1: what it reads, what it refuses.

The server is loopback, so every test that expects an answer allows private addresses
explicitly (`allow_private=True`); the default refuses them, which is tested too.
"""

import asyncio
from collections.abc import Iterator

import pytest

from shortlink_localcluster.controlplane import free_port
from shortlink_operator.http_probe import MAX_HEAD_BYTES, Answer, Failure, HttpProbe
from tests.probe_targets import TargetServer, target_server


@pytest.fixture(scope="module")
def server() -> Iterator[TargetServer]:
    with target_server() as running:
        yield running


def probe(*, allow_private: bool = True, timeout: float = 5.0) -> HttpProbe:
    return HttpProbe(timeout=timeout, allow_private=allow_private)


async def test_an_answer_is_its_status_line(server: TargetServer) -> None:
    assert await probe()("HEAD", server.url("/ok")) == Answer(200, None, "200 OK")
    assert (await probe()("HEAD", server.url("/missing"))).status == 404


async def test_a_redirect_is_an_answer_and_never_followed(server: TargetServer) -> None:
    answer = await probe()("HEAD", server.url("/moved"))
    assert answer.status == 302
    assert server.requests[("HEAD", "/moved")] >= 1  # only the server saw a request


async def test_a_get_reads_the_head_and_no_body(server: TargetServer) -> None:
    # 100,000 bytes of body follow the headers; the probe returns at the headers and hangs up.
    answer = await probe()("GET", server.url("/ok"))
    assert answer.status == 200


async def test_a_server_that_does_not_answer_is_a_timeout(server: TargetServer) -> None:
    answer = await probe(timeout=0.5)("HEAD", server.url("/slow"))
    assert answer.failure is Failure.TIMEOUT


async def test_a_refused_connection_is_a_connection_failure() -> None:
    answer = await probe()("HEAD", f"http://127.0.0.1:{free_port()}/")
    assert answer.failure is Failure.CONNECTION_FAILED


async def test_https_to_a_plain_http_server_is_a_tls_error(server: TargetServer) -> None:
    answer = await probe()("HEAD", f"https://127.0.0.1:{server.port}/ok")
    assert answer.failure is Failure.TLS_ERROR


async def test_something_that_is_not_http_is_a_protocol_error() -> None:
    async def banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
        await writer.drain()
        writer.close()

    port = free_port()
    server = await asyncio.start_server(banner, "127.0.0.1", port)
    async with server:
        answer = await probe(timeout=2)("HEAD", f"http://127.0.0.1:{port}/")
    assert answer.failure is Failure.PROTOCOL_ERROR


async def test_loopback_is_refused_by_default_and_never_connected(server: TargetServer) -> None:
    before = sum(server.requests.values())
    answer = await probe(allow_private=False)("HEAD", server.url("/ok"))
    assert answer.failure is Failure.ADDRESS_NOT_ALLOWED
    assert "loopback" in answer.detail
    assert sum(server.requests.values()) == before


async def test_a_name_that_resolves_to_loopback_is_refused(server: TargetServer) -> None:
    answer = await probe(allow_private=False)("HEAD", f"http://localhost:{server.port}/ok")
    assert answer.failure is Failure.ADDRESS_NOT_ALLOWED


async def test_a_name_that_does_not_resolve_is_a_dns_failure() -> None:
    answer = await probe(timeout=10)("HEAD", "http://no-such-host.invalid/")
    assert answer.failure in (Failure.DNS_FAILURE, Failure.TIMEOUT)


async def test_an_answer_head_over_the_limit_is_refused_unread() -> None:
    hung_up = asyncio.Event()

    async def bloated(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\n" + b"X-Padding: " + b"a" * (MAX_HEAD_BYTES * 2))
        try:
            await writer.drain()
            await reader.read()  # until the probe hangs up
        except OSError:
            pass  # a reset: the probe hung up
        finally:
            writer.close()
            hung_up.set()

    port = free_port()
    server = await asyncio.start_server(bloated, "127.0.0.1", port)
    async with server:
        answer = await probe(timeout=5)("HEAD", f"http://127.0.0.1:{port}/")
        await hung_up.wait()
    assert answer.failure is Failure.PROTOCOL_ERROR
