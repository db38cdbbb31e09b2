"""`python -m shortlink_operator`: run the operator against the cluster of the kubeconfig or pod."""

import logging
from collections.abc import Sequence

import kopf
from prometheus_client import start_http_server

from shortlink_operator import handlers
from shortlink_operator.config import parse_config
from shortlink_operator.metrics import OperatorMetrics


def main(argv: Sequence[str] | None = None) -> None:
    config = parse_config(argv)
    kopf.configure(verbose=False)  # kopf sets up logging for the whole process
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per API request is noise
    # kopf logs "Handler succeeded" for every watch event: at 100,000 links, that is CPU and noise.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    assert handlers.link_changed  # the import above registers the handlers with kopf
    metrics = OperatorMetrics(shard_capacity_bytes=config.shard_budget_bytes)
    if config.metrics_port:
        # A thread of its own: a scrape is answered even while the event loop is busy planning.
        start_http_server(config.metrics_port, addr=config.metrics_host, registry=metrics.registry)
    kopf.run(
        clusterwide=True,
        standalone=True,
        liveness_endpoint=config.liveness_endpoint,
        memo=kopf.Memo(config=config, metrics=metrics),
    )


if __name__ == "__main__":
    main()
