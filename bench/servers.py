"""The servers under test, each pinned to the same core: nginx, the Go peer and the redirector.

nginx is the physical limit, tuned as its users tune it for this job (one worker, access log off,
keep-alive connections never cut short); the Go peer is a net/http redirect server like the ones
Go shorteners run (`bench/gopeer`, GOMAXPROCS=1); the redirector runs as users run it.
"""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from shortlink_localcluster.controlplane import ControlPlane
from shortlink_localcluster.processes import Process, wait_until
from shortlink_localcluster.stack import http_status

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  map_hash_max_size 262144;
  map_hash_bucket_size 256;
  map $uri $target {{
    default "";
    include {prefix}/map.conf;
  }}
  server {{
    listen 127.0.0.1:{port} reuseport backlog=4096;
    location / {{
      if ($target = "") {{ return 404; }}
      return 302 $target;
    }}
  }}
}}
"""


def start_nginx(prefix: Path, *, port: int, core: int) -> Process:
    (prefix / "nginx.conf").write_text(NGINX_CONF.format(prefix=prefix, port=port))
    process = Process(
        "nginx",
        ["taskset", "-c", str(core), "nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
        log_path=prefix / "nginx.out",
    )
    wait_until(
        lambda: http_status(f"http://127.0.0.1:{port}/healthz") == 404,
        timeout=20,
        what="nginx",
        alive=[process],
    )
    return process


GOPEER_DIR = Path(__file__).parent / "gopeer"


def build_gopeer(cache: Path) -> Path:
    """The Go peer, built once per source with the Go toolchain that builds kube-apiserver."""
    digest = hashlib.sha256()
    for name in ("go.mod", "main.go"):
        digest.update((GOPEER_DIR / name).read_bytes())
    binary = cache / "bin" / f"bench-gopeer-{digest.hexdigest()[:12]}"
    if not binary.exists():
        go = shutil.which("go")
        if go is None:
            raise RuntimeError("Go is needed to build the bench's Go peer")
        binary.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [go, "build", "-trimpath", "-o", str(binary), "."],
            cwd=GOPEER_DIR,
            env=dict(os.environ, CGO_ENABLED="0"),
            check=True,
        )
    return binary


def start_gopeer(binary: Path, prefix: Path, *, port: int, core: int) -> Process:
    process = Process(
        "gopeer",
        [
            "taskset",
            "-c",
            str(core),
            str(binary),
            "-listen",
            f"127.0.0.1:{port}",
            "-table",
            str(prefix / "table.tsv"),
        ],
        log_path=prefix / "gopeer.out",
        env=dict(os.environ, GOMAXPROCS="1"),
    )
    wait_until(
        lambda: http_status(f"http://127.0.0.1:{port}/healthz") == 404,
        timeout=60,
        what="Go peer",
        alive=[process],
    )
    return process


def start_redirector(
    control_plane: ControlPlane,
    *,
    namespace: str,
    port: int,
    metrics_port: int,
    core: int,
    extra: tuple[str, ...],
    log: Path,
) -> Process:
    process = Process(
        "redirector",
        [
            "taskset",
            "-c",
            str(core),
            sys.executable,
            "-m",
            "shortlink_redirector",
            "--namespace",
            namespace,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--metrics-host",
            "127.0.0.1",
            "--metrics-port",
            str(metrics_port),
            *extra,
        ],
        log_path=log,
        env=control_plane.env(),
    )
    wait_until(
        lambda: http_status(f"http://127.0.0.1:{port}/readyz") == 200,
        timeout=120,
        what="redirector ready",
        alive=[process],
    )
    return process
