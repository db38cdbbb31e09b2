"""`make node-up`: the node tier's release, started by hand and kept until Ctrl-C (or SIGTERM).

The same node and `helm install` as the node tier (`release.installed`), for running cluster tests
against it one module at a time in external mode, without starting a node for each run:

    SHORTLINK_TEST_KUBECONFIG=<the printed kubeconfig> .venv/bin/pytest tests/cluster/test_x.py

`--without-operator` scales the chart's operator to 0 once it is installed, as the node tier does
for its external run (two operators would both write every link's status). State lives in
`$SHORTLINK_CACHE/node-up` and starts fresh each time; the kubeconfig path is also written to
`$SHORTLINK_CACHE/node-up/kubeconfig-path`, for scripts.
"""

import argparse
import shutil
import signal
import threading
from collections.abc import Sequence

from shortlink_localcluster.release import RELEASE, installed
from shortlink_localcluster.tools import default_cache_dir


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shortlink_localcluster.node_up")
    parser.add_argument(
        "--without-operator",
        action="store_true",
        help="scale the chart's operator Deployment to 0 (for the cluster tier's own operator)",
    )
    args = parser.parse_args(argv)
    cache = default_cache_dir()
    workdir = cache / "node-up"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    with installed(workdir, cache) as release:
        if args.without_operator:
            deployment = f"deployment/{RELEASE}-operator"
            release.kubectl("scale", "-n", release.namespace, deployment, "--replicas=0")
        kubeconfig = release.plane.kubeconfig
        (workdir / "kubeconfig-path").write_text(f"{kubeconfig}\n")
        print(
            f"the node is up, release {RELEASE!r} in namespace {release.namespace!r}:\n\n"
            f"  SHORTLINK_TEST_KUBECONFIG={kubeconfig} .venv/bin/pytest tests/cluster/...\n\n"
            f"node logs: {release.node.logs}\nCtrl-C stops everything.",
            flush=True,
        )
        stopping.wait()
        print("stopping the node ...", flush=True)


if __name__ == "__main__":
    main()
