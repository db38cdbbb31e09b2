"""Child processes with their output in a log file, stopped cleanly and never leaked."""

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


class ProcessFailed(RuntimeError):
    pass


class Process:
    """A started child process; `stop()` sends SIGTERM, then SIGKILL after `grace` seconds."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            self._popen = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,  # its own process group: a Ctrl-C here stops us first
            )

    @property
    def pid(self) -> int:
        return self._popen.pid

    def running(self) -> bool:
        return self._popen.poll() is None

    def check_running(self) -> None:
        if not self.running():
            raise ProcessFailed(
                f"{self.name} exited with code {self._popen.returncode}; last lines of "
                f"{self.log_path}:\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def stop(self, grace: float = 10.0) -> int:
        if self.running():
            self._popen.send_signal(signal.SIGTERM)
            try:
                return self._popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.killpg(self._popen.pid, signal.SIGKILL)
        return self._popen.wait()


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    interval: float = 0.05,
    alive: Sequence[Process] = (),
) -> None:
    """Poll `condition` until it holds; fail early if one of `alive` dies meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        for process in alive:
            process.check_running()
        if condition():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
