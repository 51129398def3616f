"""``writeback_redrive``: the reconciler and the alarm of the write-back (issue #18).

Every minute it finds the requests waiting longer than ``ST_WRITEBACK_REDRIVE_SECONDS``
(``st_resources.writeback.stuck``), logs each at error level, and launches the ones no
live run will finish (no run, run failed before sending, run died) again: a new run key
``<request id>:redrive:<n>``, the same request id, so the same Idempotency-Key, and the
tenant sees at most one write (the v2 backend looks before it writes).
"""

from __future__ import annotations

import dagster as dg

from st_assets.defs.writeback import jobs
from st_assets.defs.writeback.sensors import run_request_for
from st_resources.writeback.queue import WriteQueueResource
from st_resources.writeback.stuck import Stuck, find_stuck, record_redrive, redrive_seconds

# A request whose runs keep failing before the op (a broken deployment) is not launched
# forever: after this many re-drives it is only reported.
MAX_REDRIVES = 5


def redrive_request(stuck: Stuck) -> dg.RunRequest:
    """The next run of a stuck request: same job, config and request id, a new run key."""
    first = run_request_for(stuck.request)
    number = stuck.redrives + 1
    return dg.RunRequest(
        run_key=f"{stuck.request.id}:redrive:{number}",
        job_name=first.job_name,
        run_config=first.run_config,
        tags={
            **first.tags,
            "writeback/redrive": str(number),
            "writeback/redrive_reason": stuck.reason,
        },
    )


@dg.sensor(
    name="writeback_redrive",
    jobs=jobs.write_jobs,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Re-drives write requests that no live run will finish; alarms on stuck ones.",
)
def writeback_redrive(
    context: dg.SensorEvaluationContext, writeback_queue: WriteQueueResource
) -> dg.SensorResult:
    """A new run for each stuck request without a live run; every stuck request logged."""
    queue = writeback_queue.get_queue()
    stuck = find_stuck(queue, context.instance, redrive_seconds())
    if not stuck:
        return dg.SensorResult(skip_reason=dg.SkipReason("no stuck write requests"))
    for item in stuck:
        context.log.error(f"stuck write request {item.describe()}")
    runs = []
    for item in stuck:
        if item.redrivable and item.redrives < MAX_REDRIVES:
            run = redrive_request(item)
            assert run.run_key is not None
            record_redrive(queue, item, run.run_key)
            runs.append(run)
    if runs:
        return dg.SensorResult(run_requests=runs)
    names = "; ".join(item.describe() for item in stuck)
    return dg.SensorResult(
        skip_reason=dg.SkipReason(f"{len(stuck)} stuck write request(s), none re-driven: {names}")
    )
