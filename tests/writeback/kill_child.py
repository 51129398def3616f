"""A write run in a process of its own, for the tests that SIGKILL it (issue #18).

    python -m tests.writeback.kill_child BASE_URL QUEUE_URL REQUEST_ID TMP

Executes the run the ``writeback_requests`` sensor would launch for the request, in the
Dagster instance of ``DAGSTER_HOME``, against the sandbox at ``BASE_URL``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import dagster as dg

from st_assets.writes.sensors import run_request_for
from st_resources.writeback.queue import WriteQueue
from tests.writeback.conftest import Harness


def main(argv: list[str]) -> int:
    base_url, queue_url, request_id, tmp = argv
    with dg.DagsterInstance.get() as instance:
        server = cast(Any, SimpleNamespace(base_url=base_url))
        harness = Harness(server, queue_url, instance, Path(tmp))
        request = WriteQueue(queue_url).get(request_id)
        return 0 if harness.execute(run_request_for(request)).success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
