"""A real Prometheus (Debian's `prometheus` package) on 127.0.0.1, for the observability tier.

It scrapes the given targets every second, evaluates the shipped alert rules every second, keeps
its data in a temporary directory, and is queried through its HTTP API.
"""

import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import httpx

from shortlink_localcluster.controlplane import free_port
from shortlink_localcluster.processes import Process, wait_until
from shortlink_localcluster.stack import REPO

RULES: Final = REPO / "charts/shortlink/files/alerts/shortlink.rules.yaml"
DASHBOARD: Final = REPO / "charts/shortlink/files/dashboards/shortlink.json"


def binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: `make test` installs Debian's prometheus package")
    return found


class Prometheus:
    def __init__(self, workdir: Path, *, jobs: Mapping[str, Sequence[str]]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "evaluation_interval": "1s",
            },
            "rule_files": [str(RULES)],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": list(targets)}]}
                for job, targets in jobs.items()
            ],
        }
        workdir.mkdir(parents=True, exist_ok=True)
        config_file = workdir / "prometheus.yml"
        config_file.write_text(json.dumps(config))  # JSON is YAML
        self.process = Process(
            "prometheus",
            [
                binary("prometheus"),
                f"--config.file={config_file}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            log_path=workdir / "prometheus.log",
        )
        wait_until(self._ready, timeout=30, what="Prometheus to be ready", alive=[self.process])

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def api(self, path: str, **params: str) -> Any:
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = response.json()
        assert body.get("status") == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector `expr` evaluates to now (a scalar comes back as one series)."""
        data = self.api("query", query=expr)
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def stop(self) -> None:
        self.process.stop()
