"""All-replica propagation on a real node: `make bench-node`.

Installs the chart as the node tier does (`shortlink_localcluster.release`: images built from this
repository, a kubelet node, 3 redirector and 2 operator replicas), creates a table of existing
links, waits until they are all Ready, then changes one link's URL `--updates` times through the
API and times each change from the API server's answer until every redirector pod answers with the
new target (`bench.propagation.time_updates`, polling each pod's own address).

Prints the results and writes them as JSON to `.cache/bench/node-propagation.json`.
"""

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from bench.propagation import time_updates
from shortlink_localcluster import bulk
from shortlink_localcluster.release import installed
from shortlink_localcluster.tools import default_cache_dir

NAMESPACE = "bench-node"
PREFIX = "n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=100)
    parser.add_argument("--existing", type=int, default=1000, help="links in the table")
    args = parser.parse_args()
    cache = default_cache_dir()
    with (
        tempfile.TemporaryDirectory(prefix="bench-node-") as workdir,
        installed(Path(workdir), cache) as release,
    ):
        release.kubectl("create", "namespace", NAMESPACE)
        asyncio.run(bulk.create_links(release.plane, NAMESPACE, args.existing, prefix=PREFIX))
        # Time a settled operator, not one still writing its first statuses.
        deadline = time.monotonic() + 600
        while (
            asyncio.run(bulk.readiness(release.plane, NAMESPACE)).reasons.get("Published", 0)
            < args.existing
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{args.existing} links not all Published within 600 s")
            time.sleep(2)
        redirectors = release.redirector_urls()
        results = {
            "existing_links": args.existing,
            **time_updates(
                release.plane, NAMESPACE, f"{PREFIX}-0", redirectors, updates=args.updates
            ),
        }
    out = cache / "bench" / "node-propagation.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    for key, value in results.items():
        print(f"{key:16} {value}")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
