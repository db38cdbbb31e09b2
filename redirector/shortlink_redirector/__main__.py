"""`python -m shortlink_redirector`: serve redirects and /metrics, and follow the table.

Two uvicorn servers (redirects, metrics) and the table follower share one event loop. SIGTERM and
SIGINT stop both servers; uvicorn's own signal handling is switched off because each server would
otherwise take the signal from the other.
"""

import asyncio
import contextlib
import logging
import signal
from collections.abc import Generator, Sequence

import uvicorn
import uvloop
from prometheus_client import make_asgi_app

from shortlink_redirector.app import create_app
from shortlink_redirector.config import RedirectorConfig, parse_config
from shortlink_redirector.follower import TableFollower
from shortlink_redirector.kube import ShardSource
from shortlink_redirector.state import RedirectorState, ServingSettings


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None]:
        yield  # signals are handled once, for both servers, in `serve`


async def serve(config: RedirectorConfig) -> None:
    state = RedirectorState(
        serving=ServingSettings(
            permanent_max_age=config.permanent_max_age, country_header=config.country_header
        )
    )
    follower = TableFollower(source=ShardSource(namespace=config.namespace), state=state)
    common = {"access_log": False, "lifespan": "off", "log_level": config.log_level}
    redirects = _Server(
        uvicorn.Config(
            create_app(state),
            host=config.host,
            port=config.port,
            http="httptools",
            server_header=False,
            **common,  # type: ignore[arg-type]
        )
    )
    metrics = _Server(
        uvicorn.Config(
            make_asgi_app(registry=state.metrics.registry),
            host=config.metrics_host,
            port=config.metrics_port,
            **common,  # type: ignore[arg-type]
        )
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _stop, redirects, metrics)
    following = asyncio.create_task(follower.run(), name="table-follower")
    try:
        await asyncio.gather(redirects.serve(), metrics.serve())
    finally:
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)


def _stop(*servers: uvicorn.Server) -> None:
    for server in servers:
        server.should_exit = True


def main(argv: Sequence[str] | None = None) -> None:
    config = parse_config(argv)
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per API request is noise
    uvloop.run(serve(config))


if __name__ == "__main__":
    main()
