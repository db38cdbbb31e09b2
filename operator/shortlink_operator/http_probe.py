"""The one module that makes probe requests to link targets: one HTTP request, one `Answer`.

A probe is a single request on a connection of its own, made with h11 over asyncio streams so
every step is in our hands: the name is resolved here, each address is judged
(`probe_addresses`) and the connection goes to the address judged (a name cannot resolve to
another one in between); TLS certificates are verified as a browser would; only the status line
and headers are read, at most `MAX_HEAD_BYTES`, never a body; a redirect is an answer, never
followed; the whole request, resolution included, has one timeout; the connection is then
aborted. `prober` decides what to request and how often; this module never retries.
"""

import asyncio
import socket
import ssl
from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from urllib.parse import urlsplit

import h11

from shortlink_operator.probe_addresses import refusal

#: Status line and headers of an answer; a body is never read.
MAX_HEAD_BYTES: Final = 16 * 1024
READ_BYTES: Final = 4096
USER_AGENT: Final = "shortlink-operator-probe (link liveness check; no body is read)"


class Failure(StrEnum):
    """Why a probe got no HTTP answer; each is a `TargetReachable` reason."""

    TIMEOUT = "Timeout"
    DNS_FAILURE = "DNSFailure"
    CONNECTION_FAILED = "ConnectionFailed"
    TLS_ERROR = "TLSError"
    PROTOCOL_ERROR = "ProtocolError"
    ADDRESS_NOT_ALLOWED = "AddressNotAllowed"


@dataclass(frozen=True, slots=True)
class Answer:
    """What one request learned: an HTTP status, or the failure that kept it from one."""

    status: int | None
    failure: Failure | None
    #: Human text: "404 Not Found", "connection refused", "resolves to 10.0.0.5, a private ...".
    detail: str


class HttpProbe:
    """`await probe(method, url)`: one request to `url`, as `Answer`."""

    def __init__(
        self,
        *,
        timeout: float,
        allow_private: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._timeout = timeout
        self._allow_private = allow_private
        self._tls = tls if tls is not None else ssl.create_default_context()

    async def __call__(self, method: str, url: str) -> Answer:
        try:
            async with asyncio.timeout(self._timeout):
                return await self._request(method, url)
        except TimeoutError:
            return Answer(None, Failure.TIMEOUT, f"no answer within {self._timeout:g} s")

    async def _request(self, method: str, url: str) -> Answer:
        parts = urlsplit(url)
        host, secure = parts.hostname or "", parts.scheme == "https"
        port = parts.port or (443 if secure else 80)
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as error:
            return Answer(None, Failure.DNS_FAILURE, f"{host} does not resolve: {error}")
        addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
        allowed = [a for a in addresses if self._allow_private or refusal(a) is None]
        if not allowed:
            why = refusal(addresses[0]) if addresses else "no address"
            return Answer(
                None,
                Failure.ADDRESS_NOT_ALLOWED,
                f"{host} resolves to {addresses[0] if addresses else 'nothing'}, {why}; "
                "the operator probes only public addresses unless --probe-private-addresses",
            )
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        authority = parts.netloc.rsplit("@", 1)[-1]
        last: Answer | None = None
        for address in allowed:
            try:
                reader, writer = await asyncio.open_connection(
                    address,
                    port,
                    ssl=self._tls if secure else None,
                    server_hostname=host if secure else None,
                )
            except ssl.SSLError as error:
                return Answer(None, Failure.TLS_ERROR, f"TLS: {error.reason or error}")
            except OSError as error:
                last = Answer(None, Failure.CONNECTION_FAILED, _describe(error, address))
                continue
            try:
                return await _exchange(reader, writer, method, target, authority)
            finally:
                writer.transport.abort()  # no body is wanted, and no TLS goodbye waited for
        assert last is not None
        return last


async def _exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    method: str,
    target: str,
    authority: str,
) -> Answer:
    connection = h11.Connection(our_role=h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
    request = h11.Request(
        method=method,
        target=target,
        headers=[
            ("Host", authority),
            ("User-Agent", USER_AGENT),
            ("Accept", "*/*"),
            ("Connection", "close"),
        ],
    )
    writer.write(connection.send(request) + (connection.send(h11.EndOfMessage()) or b""))
    try:
        await writer.drain()
        received = 0
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                chunk = await reader.read(READ_BYTES)
                received += len(chunk)
                if received > MAX_HEAD_BYTES + READ_BYTES:
                    return Answer(None, Failure.PROTOCOL_ERROR, "answer head too large")
                connection.receive_data(chunk)  # b"" tells h11 the peer closed
            elif isinstance(event, h11.Response):
                phrase = event.reason.decode("latin-1", "replace")
                return Answer(event.status_code, None, f"{event.status_code} {phrase}".strip())
            elif isinstance(event, h11.InformationalResponse):
                continue  # 100 Continue and friends come before the real answer
            else:
                return Answer(None, Failure.PROTOCOL_ERROR, "the connection closed unanswered")
    except h11.RemoteProtocolError as error:
        return Answer(None, Failure.PROTOCOL_ERROR, f"not an HTTP answer: {error}")
    except ssl.SSLError as error:
        return Answer(None, Failure.TLS_ERROR, f"TLS: {error.reason or error}")
    except OSError as error:
        return Answer(None, Failure.CONNECTION_FAILED, _describe(error, ""))


def _describe(error: OSError, address: str) -> str:
    what = error.strerror or type(error).__name__
    return f"{what.lower()} ({address})" if address else what.lower()
