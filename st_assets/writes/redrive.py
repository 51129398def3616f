"""``writeback_redrive``: the reconciler and the alarm of the write-back (issue #18).

Every few seconds it finds the requests waiting longer than ``ST_WRITEBACK_REDRIVE_SECONDS``
(``st_resources.writeback.stuck``), logs each at error level, and launches the ones no
live run will finish (no run, run failed before sending, run died) again, in batches of
one kind like ``writeback_requests``: a new run key ``<first request id>:redrive:<n>``, the
same request ids, so the same Idempotency-Keys, and the tenant sees each write at most
once (the v2 backend looks before it writes).
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from st_assets.writes import jobs
from st_assets.writes.sensors import MAX_BATCH, run_request_for_batch
from st_resources.writeback.queue import WriteQueueResource
from st_resources.writeback.stuck import Stuck, find_stuck, record_redrive, redrive_seconds

# A request whose runs keep failing before the op (a broken deployment) is not launched
# forever: after this many re-drives it is only reported.
MAX_REDRIVES = 5


def redrive_request(stuck: Sequence[Stuck]) -> dg.RunRequest:
    """The next run of stuck requests of one kind: same job, their request ids, a new run
    key (the first request's next re-drive number is unique to this run)."""
    first = stuck[0]
    number = first.redrives + 1
    more = f"+{len(stuck) - 1}" if len(stuck) > 1 else ""
    run = run_request_for_batch(
        [s.request for s in stuck], run_key=f"{first.request.id}:redrive:{number}{more}"
    )
    return run.with_replaced_attrs(
        tags={
            **run.tags,
            "writeback/redrive": str(number),
            "writeback/redrive_reason": ",".join(sorted({s.reason for s in stuck})),
        }
    )


def redrive_batches(stuck: Sequence[Stuck]) -> list[list[Stuck]]:
    """The stuck requests to launch again, by kind, at most ``MAX_BATCH`` per run."""
    chosen = [s for s in stuck if s.redrivable and s.redrives < MAX_REDRIVES]
    by_kind: dict[str, list[Stuck]] = {}
    for item in chosen:
        by_kind.setdefault(item.request.kind, []).append(item)
    return [
        same[i : i + MAX_BATCH] for same in by_kind.values() for i in range(0, len(same), MAX_BATCH)
    ]


@dg.sensor(
    name="writeback_redrive",
    jobs=jobs.write_jobs,
    minimum_interval_seconds=15,
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
    for batch in redrive_batches(stuck):
        run = redrive_request(batch)
        assert run.run_key is not None
        for item in batch:
            record_redrive(queue, item, run.run_key)
        runs.append(run)
    if runs:
        return dg.SensorResult(run_requests=runs)
    names = "; ".join(item.describe() for item in stuck)
    return dg.SensorResult(
        skip_reason=dg.SkipReason(f"{len(stuck)} stuck write request(s), none re-driven: {names}")
    )
