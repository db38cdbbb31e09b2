"""The uvicorn internals `shortlink_redirector.protocol` relies on are still there.

The redirect protocol subclasses uvicorn's httptools protocol and reads its private state. A
uvicorn release may rename or reshape any of it without notice, so uvicorn is pinned exactly; these
tests fail with a message pointing at the protocol module when the installed uvicorn is not the one
it was written against, or when a method, attribute or argument it uses has changed.
"""

import asyncio
import inspect
import tomllib
from typing import Any

import uvicorn
from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from shortlink_localcluster.stack import REPO
from shortlink_redirector.protocol import UVICORN_VERSION

SEE = (
    "redirector/shortlink_redirector/protocol.py subclasses uvicorn's HttpToolsProtocol: "
    "re-read it against uvicorn's protocols/http/httptools_impl.py, run "
    "tests/component/test_protocol.py, then update UVICORN_VERSION there and the pin in "
    "pyproject.toml together"
)

#: Methods the protocol overrides or calls, with the parameters it passes.
METHODS = {
    "__init__": ["self", "config", "server_state", "app_state", "_loop"],
    "on_message_begin": ["self"],
    "on_header": ["self", "name", "value"],
    "on_headers_complete": ["self"],
    "on_body": ["self", "body"],
    "on_message_complete": ["self"],
    "on_response_complete": ["self"],
    "_unset_keepalive_if_required": ["self"],
}

#: Attributes the protocol reads on a connected protocol.
ATTRIBUTES = (
    "root_path",
    "cycle",
    "flow",
    "parser",
    "url",
    "headers",
    "expect_100_continue",
    "scope",
    "transport",
    "server_state",
    "client",
    "access_log",
    "access_logger",
)

#: Methods of the httptools parser the protocol calls.
PARSER_METHODS = ("get_method", "get_http_version", "should_keep_alive", "should_upgrade")


class _Transport(asyncio.Transport):
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8080)}.get(name)

    def is_closing(self) -> bool:
        return False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def close(self) -> None:
        pass


def _pinned_in_pyproject() -> str:
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    (pin,) = [dep for dep in dependencies if dep.startswith("uvicorn")]
    return str(pin.partition("==")[2])


def test_the_installed_uvicorn_is_the_one_the_protocol_was_written_for() -> None:
    assert uvicorn.__version__ == UVICORN_VERSION, f"uvicorn {uvicorn.__version__}: {SEE}"
    assert _pinned_in_pyproject() == UVICORN_VERSION, f"pyproject.toml pin moved: {SEE}"


def test_every_uvicorn_method_the_protocol_uses_keeps_its_shape() -> None:
    for name, parameters in METHODS.items():
        method = getattr(HttpToolsProtocol, name, None)
        assert callable(method), f"HttpToolsProtocol.{name} is gone: {SEE}"
        assert list(inspect.signature(method).parameters) == parameters, (
            f"HttpToolsProtocol.{name} changed its parameters: {SEE}"
        )


async def test_every_uvicorn_attribute_the_protocol_reads_is_set_on_a_connection() -> None:
    config = Config(app=lambda scope, receive, send: None, http=HttpToolsProtocol, log_config=None)
    config.load()
    protocol = HttpToolsProtocol(config, ServerState(), app_state={})
    protocol.connection_made(_Transport())
    protocol.on_message_begin()  # uvicorn sets url, headers and scope per message
    for name in ATTRIBUTES:
        assert hasattr(protocol, name), f"HttpToolsProtocol has no {name!r} any more: {SEE}"
    assert isinstance(protocol.flow, FlowControl), SEE
    assert hasattr(protocol.flow, "write_paused"), f"FlowControl.write_paused is gone: {SEE}"
    assert hasattr(protocol.server_state, "default_headers"), SEE
    for name in PARSER_METHODS:
        assert callable(getattr(protocol.parser, name, None)), f"parser.{name} is gone: {SEE}"
    protocol.connection_lost(None)
