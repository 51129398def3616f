"""Start the sandbox on a free loopback port: in a background thread (tests) or as a
subprocess (the demo and benchmarks, so the sandbox never competes for our GIL)."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx
import orjson
import uvicorn

from st_sandbox.app import create_app
from st_sandbox.config import SandboxConfig
from st_sandbox.tenant import Tenant


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until_up(
    base_url: str, timeout: float = 60.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Block until the sandbox answers ``/_sandbox/stats``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"the sandbox exited with code {process.returncode} before answering"
            )
        try:
            if httpx.get(f"{base_url}/_sandbox/stats", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"the sandbox at {base_url} did not answer within {timeout:.0f} s")


def write_dump(tenant: Tenant, out_dir: Path) -> None:
    """Write every entity as it stands to ``out_dir/<entity>.jsonl``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for entity in tenant.store.tables:
        with open(out_dir / f"{entity}.jsonl", "wb") as fh:
            for record in tenant.store.iter_records(entity):
                fh.write(orjson.dumps(record) + b"\n")


class _DroppedConnectionFilter(logging.Filter):
    """Injected dropped connections are deliberate: keep their tracebacks out of the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for the log records of an injected dropped connection."""
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, RuntimeError) and "Content-Length" in str(exc))


logging.getLogger("uvicorn.error").addFilter(_DroppedConnectionFilter())


class SandboxServer:
    """The sandbox in a background thread of this process."""

    def __init__(self, config: SandboxConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        self.host = host
        self.port = port or free_port(host)
        self.base_url = f"http://{host}:{self.port}"
        self.tenant = Tenant.build(config)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._activity_stop = threading.Event()

    def start(self) -> SandboxServer:
        """Serve on the port and return once the sandbox answers."""
        app = create_app(self.tenant)
        config = uvicorn.Config(
            app,
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="st-sandbox", daemon=True)
        self._thread.start()
        wait_until_up(self.base_url)
        if self.config.activity_per_minute > 0:
            threading.Thread(
                target=self._activity_loop, name="st-sandbox-activity", daemon=True
            ).start()
        return self

    def _activity_loop(self) -> None:
        interval = 60.0 / self.config.activity_per_minute
        while not self._activity_stop.wait(interval):
            self.tenant.activity.step(1)

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self._activity_stop.set()
        self.tenant.webhooks.close()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def dump(self, out_dir: Path) -> None:
        """Ground truth: every entity as it stands, as JSONL."""
        write_dump(self.tenant, Path(out_dir))

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ChildProcess:
    """A server run as a subprocess of ours: ``start`` (in subclasses) returns once it
    answers; ``stop`` terminates it (killed after 10 s); a context manager of both."""

    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> Self:
        """Start the server and return once it answers (within ``timeout`` seconds)."""
        raise NotImplementedError

    def stop(self) -> None:
        """Terminate the subprocess."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class SandboxProcess(ChildProcess):
    """The sandbox as a subprocess (``st-sandbox serve``)."""

    def __init__(self, config: SandboxConfig, port: int = 0, log_file: Path | None = None) -> None:
        self.config = config
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 180.0) -> Self:
        """Start the subprocess and return once it answers."""
        cmd = [sys.executable, "-m", "st_sandbox.cli", "serve", "--port", str(self.port), "--quiet"]
        cmd += self.config.to_cli_args()
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ)
        )
        try:
            wait_until_up(self.base_url, timeout, self.process)
        except BaseException:
            self.stop()
            raise
        return self
