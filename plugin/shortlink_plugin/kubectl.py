"""The plugin's one way to the cluster: the kubectl binary, with the user's own flags.

Running kubectl (rather than an API client) keeps every kubectl convention for free: the
kubeconfig and its contexts, exec credential plugins, `--dry-run=server`, field validation and
error messages that users already know. kubectl sets `KUBECTL_PLUGINS_CALLER` to its own path
when it runs a plugin; that binary is used first.
"""

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class KubectlError(RuntimeError):
    """kubectl failed; the message is its own error output."""

    def __init__(self, message: str, *, forbidden: bool = False) -> None:
        super().__init__(message)
        self.forbidden = forbidden


def kubectl_binary() -> str:
    caller = os.environ.get("KUBECTL_PLUGINS_CALLER")
    if caller:
        return caller
    beside_python = Path(sys.executable).parent / "kubectl"
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("kubectl") or "kubectl"


@dataclass(frozen=True, slots=True)
class Kubectl:
    """kubectl with the global flags the user gave the plugin (`--kubeconfig`, `--context`)."""

    kubeconfig: str | None = None
    context: str | None = None
    #: `-n`; None means the context's namespace.
    namespace: str | None = None
    request_timeout: str | None = None

    def _flags(self) -> list[str]:
        flags = [f"--kubeconfig={self.kubeconfig}"] if self.kubeconfig else []
        flags += [f"--context={self.context}"] if self.context else []
        flags += [f"--request-timeout={self.request_timeout}"] if self.request_timeout else []
        return flags

    def run(self, *args: str, stdin: str | None = None, namespaced: bool = True) -> str:
        """kubectl's standard output; raises `KubectlError` with its error output."""
        scope = ["-n", self.namespace] if namespaced and self.namespace else []
        result = subprocess.run(
            [kubectl_binary(), *self._flags(), *scope, *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            error = result.stderr.strip() or f"kubectl exited with {result.returncode}"
            raise KubectlError(
                error,
                # kubectl's "Error from server (Reason): ...": the reason, not words in names.
                forbidden="(Forbidden)" in error,
            )
        return result.stdout

    def json(self, *args: str, namespaced: bool = True) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.run(*args, "-o", "json", namespaced=namespaced))
        return loaded

    def current_namespace(self) -> str:
        """`-n` if given, else the context's namespace, else "default" (as kubectl decides)."""
        if self.namespace:
            return self.namespace
        found = self.run(
            "config", "view", "--minify", "-o", "jsonpath={..namespace}", namespaced=False
        )
        return found.strip() or "default"
