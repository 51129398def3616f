"""A real Dagster daemon for a workspace, in its own process group (tests, benchmarks).

``dagster-daemon run`` starts a code server per location, which starts a process per run
(the default run launcher): all of them are in the daemon's process group, and the whole
group is SIGKILLed on exit (without a terminal the daemon ignores SIGINT/SIGTERM).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from st_sandbox.demo import LOCAL_INSTANCE_YAML

ROOT = Path(__file__).resolve().parent.parent
RUN_WORKER_MARK = "multiprocessing.spawn"
HELPER_MARK = "resource_tracker"


class DaemonProcess:
    """``dagster-daemon run -w <workspace>`` on ``home`` (a fresh local ``dagster.yaml``
    unless one exists) with ``env`` on top of this process's environment."""

    def __init__(
        self,
        home: Path,
        env: dict[str, str],
        workspace: Path | None = None,
        log: Path | None = None,
    ) -> None:
        self.home = home
        self.workspace = workspace or ROOT / "workspace.yaml"
        self.env = env
        self.log = log or home / "daemon.log"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> DaemonProcess:
        self.home.mkdir(parents=True, exist_ok=True)
        config = self.home / "dagster.yaml"
        if not config.exists():
            config.write_text(LOCAL_INSTANCE_YAML)
        env = {
            **os.environ,
            **self.env,
            "DAGSTER_HOME": str(self.home),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        command = [sys.executable, "-m", "dagster._daemon", "run", "-w", str(self.workspace)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """SIGKILL the daemon's whole process group (code servers and run workers too)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def run_workers(self, location_module: str | None = None) -> list[int]:
        """The pids of the run processes alive in the daemon's group (of the code server
        of ``location_module`` only, when given)."""
        import psutil

        if self.process is None:
            return []
        pids = []
        for proc in psutil.process_iter(["pid", "cmdline"]):
            try:
                if os.getpgid(proc.info["pid"]) != self.process.pid:
                    continue
                line = " ".join(proc.info["cmdline"] or [])
                if RUN_WORKER_MARK not in line or HELPER_MARK in line:
                    continue
                parent = proc.parent()
                server = " ".join(parent.cmdline()) if parent else ""
            except (ProcessLookupError, PermissionError, psutil.Error):
                continue
            if location_module is None or location_module in server:
                pids.append(proc.info["pid"])
        return pids


def wait_until(condition: object, timeout: float, what: str, poll: float = 0.2) -> None:
    """Poll ``condition()`` until true; ``TimeoutError`` naming ``what`` (a hang guard)."""
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(poll)
