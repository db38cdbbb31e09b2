"""The offline lint refuses whatever the real API server refuses at `kubectl apply`.

Each manifest goes to the API server as `kubectl apply --dry-run=server` (the CRD's schema and CEL
rules, strict field validation) and through `python -m shortlink_core.lint`; both must refuse it.
The lint may refuse more (the operator's own rules, e.g. `https://bad..host/`), never less.
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.helpers import Cluster

REFUSED: list[dict[str, Any]] = [
    {"url": "javascript:alert(1)"},
    {"url": "https://admin:secret@example.com/"},
    {"url": "https://example.com/a b"},
    {"url": "https:///path-only"},
    {"url": "https://example.com/" + "a" * 2048},
    {"url": "https://example.com/", "slug": "Team-Docs"},
    {"url": "https://example.com/", "slug": "x" * 101},
    {"url": "https://example.com/", "slug": "readyz"},
    {"url": "https://example.com/", "redirectCode": 303},
    {"slug": "no-url"},
    {"url": "https://example.com/", "aliasses": ["d"]},
    {"url": "https://example.com/", "redirectCode": "302"},
    {"url": "https://example.com/", "match": "exact"},
    {"url": "https://example.com/", "aliases": ["Upper"]},
    {"url": "https://example.com/", "rules": [{"url": "https://a/", "whne": {}}]},
    {"url": "https://example.com/", "slug": "a", "aliases": ["a"]},
    {"url": "https://example.com/", "expiredURL": "https://example.com/old"},
    {"url": "https://example.com/", "utm": {"source": 5}},
    {"url": "https://example.com/", "targetRef": {"kind": "Service", "name": "web"}},
    {"targetRef": {"kind": "Pod", "name": "web"}},
    {"targetRef": {"kind": "Service"}},
    {"targetRef": {"kind": "Service", "name": "Web"}},
    {"targetRef": {"kind": "Service", "name": "web", "path": "docs"}},
    {"targetRef": {"kind": "Service", "name": "web", "port": 0}},
    {"targetRef": {"kind": "Service", "name": "web", "namespace": "a.b"}},
    {"targetRef": {"kind": "Service", "name": "web", "host": "x"}},
]


@pytest.mark.parametrize("spec", REFUSED, ids=lambda spec: json.dumps(spec)[:60])
def test_what_the_api_server_refuses_the_lint_refuses(
    cluster: Cluster, tmp_path: Path, spec: dict[str, Any]
) -> None:
    body = {"apiVersion": "shortlink.dev/v1alpha1", "kind": "ShortLink"}
    manifest = json.dumps(body | {"metadata": {"name": "bad"}, "spec": spec})
    server = cluster.kubectl("apply", "--dry-run=server", "-f", "-", stdin=manifest, check=False)
    assert server.returncode != 0, "the API server accepts this one: not a case for this test"
    path = tmp_path / "bad.yaml"
    path.write_text(manifest)
    lint = subprocess.run(
        [sys.executable, "-m", "shortlink_core.lint", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 1, (server.stderr, lint.stdout)
