"""The product's webhook receiver (``python -m st_resources.webhooks``) as a subprocess
with a freshly generated HMAC key, subscribed to a sandbox's events: what ``make dev``
and the webhook lag benchmark run beside Dagster. The sandbox never imports the product;
it starts it by module name, like ``make dev`` starts ``dg dev``."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Self

import httpx

from st_contract.webhooks import EVENT_TYPES
from st_sandbox.server import ChildProcess, free_port

RECEIVER_MODULE = "st_resources.webhooks"
RECEIVER_PATH = "/servicetitan/webhooks"
KEY_ENV = "ST_WEBHOOK_HMAC_KEY"


class ReceiverProcess(ChildProcess):
    """The receiver on a free loopback port, with its own key (never printed)."""

    def __init__(
        self, port: int = 0, log_file: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}{RECEIVER_PATH}"
        self.log_file = log_file
        self.env = dict(env or {})
        self._key = secrets.token_urlsafe(36)  # 48 characters: within ServiceTitan's 32-64
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> Self:
        """Start the receiver and return once ``/healthz`` answers."""
        cmd = [sys.executable, "-m", RECEIVER_MODULE, "--port", str(self.port)]
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        # The key travels in the environment, never on the command line (visible in ps).
        env = {**os.environ, **self.env, KEY_ENV: self._key}
        self.process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the webhook receiver exited with {self.process.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).is_success:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"the webhook receiver did not answer within {timeout:.0f} s")

    def subscribe(self, sandbox_url: str, event_types: tuple[str, ...] = EVENT_TYPES) -> None:
        """Subscribe the sandbox at ``sandbox_url`` to deliver ``event_types`` here."""
        answer = httpx.post(
            f"{sandbox_url}/_sandbox/webhooks/subscriptions",
            json={"eventTypes": list(event_types), "url": self.url, "hmacKey": self._key},
            timeout=10,
        )
        if answer.status_code != 201:
            raise RuntimeError(f"the sandbox refused the subscription: {answer.text[:300]}")
