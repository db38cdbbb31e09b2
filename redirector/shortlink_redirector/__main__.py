"""`python -m shortlink_redirector`: serve redirects and /metrics, and follow the table.

Two uvicorn servers (redirects, metrics), the table follower and the visit-log writer share one
event loop (the follower decodes shards and builds each new table in a worker thread, so
requests are answered meanwhile; see `follower`); visit-log lines go to standard output,
diagnostics to standard error. SIGTERM and SIGINT stop both servers; uvicorn's own signal
handling is switched off because each server would otherwise take the signal from the other.
"""

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Generator, Sequence

import uvicorn
import uvloop
from prometheus_client import make_asgi_app

from shortlink_redirector.app import create_app
from shortlink_redirector.config import RedirectorConfig, parse_config
from shortlink_redirector.follower import TableFollower
from shortlink_redirector.kube import ShardSource
from shortlink_redirector.metrics import RedirectorMetrics
from shortlink_redirector.protocol import redirect_protocol
from shortlink_redirector.ratelimit import NotFoundLimiter
from shortlink_redirector.state import RedirectorState, ServingConfig
from shortlink_redirector.visitlog import VisitLog


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None]:
        yield  # signals are handled once, for both servers, in `serve`


async def serve(config: RedirectorConfig) -> None:
    metrics = RedirectorMetrics(max_link_series=config.max_link_series)
    visit_log = (
        VisitLog(
            stream=sys.stdout,
            trusted_proxies=config.trusted_proxies,
            on_drop=metrics.visit_log_dropped.inc,
        )
        if config.visit_log
        else None
    )
    serving = ServingConfig(
        permanent_max_age=config.permanent_max_age,
        country_header=config.country_header,
        max_location_bytes=config.max_location_bytes,
        public_base_url=config.public_base_url,
        trusted_proxies=config.trusted_proxies,
    )
    limiter = NotFoundLimiter(
        burst=config.not_found_burst,
        per_second=config.not_found_per_second,
        max_networks=config.not_found_networks,
    )
    state = RedirectorState(
        metrics=metrics, serving=serving, visit_log=visit_log, not_found_limiter=limiter
    )
    follower = TableFollower(source=ShardSource(namespace=config.namespace), state=state)
    common = {"access_log": False, "lifespan": "off", "log_level": config.log_level}
    app = create_app(state)
    redirects = _Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            http=redirect_protocol(app),
            server_header=False,
            # The visit log and the not-found limit apply --trusted-proxies themselves; uvicorn's
            # rewrite of the client address would reach only the requests that take the app path.
            proxy_headers=False,
            **common,  # type: ignore[arg-type]
        )
    )
    metrics_server = _Server(
        uvicorn.Config(
            make_asgi_app(registry=state.metrics.registry),
            host=config.metrics_host,
            port=config.metrics_port,
            **common,  # type: ignore[arg-type]
        )
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _stop, redirects, metrics_server)
    background = [asyncio.create_task(follower.run(), name="table-follower")]
    if visit_log is not None:
        background.append(asyncio.create_task(visit_log.run(), name="visit-log"))
    try:
        await asyncio.gather(redirects.serve(), metrics_server.serve())
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)


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
