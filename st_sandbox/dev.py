"""``st-dev`` (``make dev``): the sandbox tenant, the webhook receiver and ``dg dev -w
workspace.yaml`` (the Dagster UI, the daemon and the code location) together, with the
sandbox's demo credentials in the environment and the sandbox subscribed to deliver every
webhook event to the receiver (a key generated for the session), and the outbound
webhooks' delivery worker (``st-notify deliver --forever``); Ctrl-C stops all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from st_sandbox.config import SandboxConfig
from st_sandbox.demo import ensure_dagster_home, sandbox_env
from st_sandbox.server import SandboxProcess
from st_sandbox.webhooks.process import ReceiverProcess

# The outbound webhooks' worker: its own process, so a slow subscriber never holds up Dagster.
NOTIFY_WORKER = [sys.executable, "-m", "st_resources.notify", "deliver", "--forever"]
# ``dg dev`` of this interpreter (``make`` runs without the virtualenv on PATH); the
# workspace file is the one the tests and a deployment load.
DG_DEV = [
    sys.executable,
    *("-m", "dagster_dg_cli.cli", "dev"),
    *("-w", "workspace.yaml", "-h", "127.0.0.1", "-p", "3000"),
]


def main() -> int:
    """Entry point of ``st-dev``."""
    os.environ.setdefault("ST_WAREHOUSE_DIR", str(Path("data").resolve()))
    Path(os.environ["ST_WAREHOUSE_DIR"]).mkdir(parents=True, exist_ok=True)
    home = ensure_dagster_home()
    with (
        SandboxProcess(
            SandboxConfig(customers=2000, activity_per_minute=30), log_file=home / "sandbox.log"
        ) as sandbox,
        ReceiverProcess(log_file=home / "webhooks.log") as receiver,
    ):
        receiver.subscribe(sandbox.base_url)
        env = {**os.environ, **sandbox_env(sandbox.base_url)}
        print(
            f"Sandbox tenant at {sandbox.base_url}; webhooks delivered to {receiver.url}; "
            "Dagster UI at http://127.0.0.1:3000 (Ctrl-C stops all)"
        )
        with open(home / "notify.log", "ab") as notify_log:
            worker = subprocess.Popen(
                NOTIFY_WORKER, env=env, stdout=notify_log, stderr=subprocess.STDOUT
            )
            dagster = subprocess.Popen(DG_DEV, env=env)
            try:
                return dagster.wait()
            except KeyboardInterrupt:
                dagster.terminate()
                dagster.wait(timeout=30)
                return 0
            finally:
                worker.terminate()
                worker.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
