"""Requests that wait too long, why, and what re-drove them.

A request is *stuck* when it has been ``pending`` or ``running`` longer than
``ST_WRITEBACK_REDRIVE_SECONDS`` (counted from its last change or its last re-drive).
Why it waits is read from the Dagster instance, by the run tag ``writeback_request/<id>``
(every run carries one per request of its batch; runs of one request made before batches
carry ``writeback/request_id``):

- ``no run``: no run was ever created for it (e.g. a queue the sensor's cursor skipped);
- ``run failed before sending``: its run ended while the request was still ``pending``
  (the code location did not load, the run was canceled before the op started);
- ``run died``: its run ended while the request was ``running`` (killed mid-send).

A run still ``STARTED`` but silent (no event) for the whole delay counts as ended: the
default run launcher never notices that a run's process was killed.
- ``run <status>``: a live run exists (queued or started): it is only slow.

The reconciler (``writeback_redrive`` sensor) launches the first three again, with the same
request id as Idempotency-Key; ``writeback_redrives`` keeps a row per re-drive.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg
import sqlalchemy as sa

from st_resources.writeback.queue import PENDING, RUNNING, WriteQueue, WriteRequest

REDRIVE_SECONDS_ENV = "ST_WRITEBACK_REDRIVE_SECONDS"
DEFAULT_REDRIVE_SECONDS = 120
REQUEST_TAG = "writeback/request_id"
REQUEST_TAG_PREFIX = "writeback_request/"
NO_RUN, FAILED_BEFORE_SENDING, RUN_DIED = "no run", "run failed before sending", "run died"
NO_RUN_INFORMATION = "no run information"
SCAN_LIMIT = 5000
LIVE_RUN_STATUSES = frozenset(
    {
        dg.DagsterRunStatus.QUEUED,
        dg.DagsterRunStatus.NOT_STARTED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
        dg.DagsterRunStatus.CANCELING,
        dg.DagsterRunStatus.MANAGED,
    }
)


def request_tag(request_id: str) -> str:
    """The run tag naming one request of the run's batch (its value is ``"1"``)."""
    return f"{REQUEST_TAG_PREFIX}{request_id}"


redrive_metadata = sa.MetaData()

redrives_table = sa.Table(
    "writeback_redrives",
    redrive_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(36), nullable=False, index=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("previous_run_id", sa.String(64)),
    sa.Column("run_key", sa.String(120), nullable=False),
)


def redrive_seconds() -> int:
    """How long a request may wait before it is re-driven (and reported stuck)."""
    text = os.environ.get(REDRIVE_SECONDS_ENV) or str(DEFAULT_REDRIVE_SECONDS)
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{REDRIVE_SECONDS_ENV} must be whole seconds, got {text!r}") from None
    if value < 0:
        raise ValueError(f"{REDRIVE_SECONDS_ENV} must not be negative, got {value}")
    return value


@dataclass(frozen=True)
class Stuck:
    """A request waiting longer than the setting, and why."""

    request: WriteRequest
    reason: str
    run_id: str | None
    redrives: int

    @property
    def redrivable(self) -> bool:
        """Whether no live run will finish it (so a new run must)."""
        return self.reason in (NO_RUN, FAILED_BEFORE_SENDING, RUN_DIED)

    def describe(self) -> str:
        """One line for logs and the CLI."""
        run = f" (run {self.run_id})" if self.run_id else ""
        return (
            f"{self.request.id} {self.request.kind} {self.request.status} since "
            f"{self.request.updated_at.isoformat()}: {self.reason}{run}, "
            f"re-driven {self.redrives} time(s)"
        )


def _history(queue: WriteQueue, ids: Sequence[str]) -> dict[str, tuple[int, datetime]]:
    """Per request: (re-drives so far, when the last one was)."""
    redrive_metadata.create_all(queue.engine)
    query = (
        sa.select(redrives_table.c.request_id, sa.func.count(), sa.func.max(redrives_table.c.at))
        .where(redrives_table.c.request_id.in_(ids))
        .group_by(redrives_table.c.request_id)
    )
    with queue.engine.connect() as conn:
        rows = conn.execute(query).all()
    return {r[0]: (r[1], _aware(r[2])) for r in rows}


def _aware(value: datetime) -> datetime:
    # SQLite hands timestamps back naive; they were stored as UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def last_activity(instance: dg.DagsterInstance, run: dg.DagsterRun) -> float:
    """When the run last wrote an event (or was created): a POSIX timestamp."""
    records = instance.get_records_for_run(run.run_id, limit=1, ascending=False).records
    if records:
        return records[0].event_log_entry.timestamp
    record = instance.get_run_record_by_id(run.run_id)
    return record.create_timestamp.timestamp() if record else 0.0


def _silent(instance: dg.DagsterInstance, run: dg.DagsterRun, cutoff: datetime) -> bool:
    # The default run launcher cannot tell that a run's process was killed: the run stays
    # STARTED. One that has written nothing for the whole delay is taken as dead. Should
    # it be alive after all (a long wait for a pool slot), the second run is harmless:
    # the same Idempotency-Key, and a finished request is never sent again.
    return run.status == dg.DagsterRunStatus.STARTED and (
        last_activity(instance, run) <= cutoff.timestamp()
    )


def run_state(
    instance: dg.DagsterInstance | None, request: WriteRequest, cutoff: datetime
) -> tuple[str, str | None]:
    """Why ``request`` waits, from its newest run: (reason, that run's id)."""
    if instance is None:
        return NO_RUN_INFORMATION, None
    run = newest_run(instance, request.id)
    if run is None:
        return NO_RUN, None
    if run.status in LIVE_RUN_STATUSES and not _silent(instance, run, cutoff):
        return f"run {run.status.value.lower()}", run.run_id
    return (FAILED_BEFORE_SENDING if request.status == PENDING else RUN_DIED), run.run_id


def newest_run(instance: dg.DagsterInstance, request_id: str) -> dg.DagsterRun | None:
    """The newest run given the request: by its batch tag (every run since batches, so
    every re-drive too), else by the tag of the single-request runs made before."""
    for tags in ({request_tag(request_id): "1"}, {REQUEST_TAG: request_id}):
        runs = instance.get_runs(filters=dg.RunsFilter(tags=tags), limit=1)
        if runs:
            return runs[0]
    return None


def waiting(queue: WriteQueue) -> list[WriteRequest]:
    """Every pending and running request, oldest first."""
    found = [r for s in (PENDING, RUNNING) for r in queue.recent(status=s, limit=SCAN_LIMIT)]
    return sorted(found, key=lambda r: r.seq)


def find_stuck(
    queue: WriteQueue,
    instance: dg.DagsterInstance | None,
    seconds: int,
    now: datetime | None = None,
) -> list[Stuck]:
    """The requests waiting longer than ``seconds`` since their last change or re-drive."""
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    candidates = [r for r in waiting(queue) if r.updated_at <= cutoff]
    history = _history(queue, [r.id for r in candidates])
    stuck = []
    for request in candidates:
        count, last = history.get(request.id, (0, request.updated_at))
        if max(last, request.updated_at) > cutoff:
            continue  # re-driven lately: its new run gets the whole delay
        reason, run_id = run_state(instance, request, cutoff)
        stuck.append(Stuck(request, reason, run_id, count))
    return stuck


def record_redrive(queue: WriteQueue, stuck: Stuck, run_key: str) -> None:
    """Keep that ``stuck`` was launched again as ``run_key`` (restarts its clock)."""
    redrive_metadata.create_all(queue.engine)
    with queue.engine.begin() as conn:
        conn.execute(
            redrives_table.insert().values(
                request_id=stuck.request.id,
                at=datetime.now(UTC),
                reason=stuck.reason,
                previous_run_id=stuck.run_id,
                run_key=run_key,
            )
        )


def redrives(queue: WriteQueue, request_ids: Iterable[str]) -> dict[str, int]:
    """How many times each request was re-driven (absent: never)."""
    return {k: v[0] for k, v in _history(queue, list(request_ids)).items()}
