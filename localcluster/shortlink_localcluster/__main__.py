"""`make run`: start the control plane, the operator and a redirector, apply the examples, wait.

Everything stops on Ctrl-C. State lives in `$SHORTLINK_CACHE/run` (default `.cache/run`) and starts
fresh each time.
"""

import argparse
import shutil
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from shortlink_localcluster.build import ensure_kube_apiserver
from shortlink_localcluster.controlplane import ControlPlane
from shortlink_localcluster.stack import REPO, Stack, install_crds, kubectl, kubectl_binary
from shortlink_localcluster.tools import default_cache_dir


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="shortlink-localcluster", description=__doc__)
    parser.add_argument("--port", type=int, default=8080, help="redirector port on 127.0.0.1")
    parser.add_argument("--metrics-port", type=int, default=9090, help="metrics port on 127.0.0.1")
    parser.add_argument(
        "--operator-metrics-port", type=int, default=9091, help="operator metrics on 127.0.0.1"
    )
    parser.add_argument("--examples", type=Path, default=REPO / "examples")
    args = parser.parse_args(argv)

    cache = default_cache_dir()
    workdir = cache / "run"
    shutil.rmtree(workdir, ignore_errors=True)
    control_plane = ControlPlane(workdir=workdir, kube_apiserver=ensure_kube_apiserver(cache))
    stack = Stack(
        control_plane,
        port=args.port,
        metrics_port=args.metrics_port,
        operator_metrics_port=args.operator_metrics_port,
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        print("starting kube-apiserver and etcd on 127.0.0.1 ...", flush=True)
        control_plane.start()
        install_crds(control_plane)
        print("starting the operator and a redirector ...", flush=True)
        stack.start()
        kubectl(control_plane, "apply", "-f", str(args.examples))
        kubectl(
            control_plane, "wait", "--for=condition=Ready", "--timeout=30s", "shortlinks", "--all"
        )
        print(kubectl(control_plane, "get", "shortlinks").stdout)
        kubectl_dir = Path(kubectl_binary()).parent
        print(
            "shortlink is running. In another shell:\n\n"
            f"  export KUBECONFIG={control_plane.kubeconfig} PATH={kubectl_dir}:$PATH\n"
            f"  curl -i {stack.base_url}/k8s-docs\n"
            "  kubectl get sl\n\n"
            f"metrics: {stack.metrics_url} (redirector), {stack.operator_metrics_url} (operator)\n"
            f"logs: {control_plane.logs}\n"
            "Ctrl-C stops everything.",
            flush=True,
        )
        while not stopping.wait(1):
            for process in (stack.operator, stack.redirector):
                if process is not None:
                    process.check_running()
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping ...", file=sys.stderr, flush=True)
        stack.stop()
        control_plane.stop()


if __name__ == "__main__":
    main()
