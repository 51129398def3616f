"""Send a batch of queued requests in one run, each exactly once.

A run process costs far more than a write (a new interpreter, imports, loading the code
location), so one run sends every request of a batch. Each request keeps what makes it
safe on its own: its id as Idempotency-Key, its claim, its audit row per attempt and its
own outcome. Requests are sent by a few threads at once; dispatches go one after another,
in queue order, because the dispatch guard reads the dispatches already sent: two sent
together could both pass it (the server's 409 would still refuse the second, but the
guard could have picked another technician for an "any" request).

A transient failure of one request does not stop the others: the batch finishes, then
reports which requests the op's RetryPolicy should try again (with the same keys); the
requests already finished are skipped by the retry (``process`` returns them unchanged).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from st_resources.backend import Backend
from st_resources.writeback.queue import WriteQueue
from st_resources.writeback.sender import Attempt, TransientWriteError, process

DEFAULT_THREADS = 4
SERIAL_KINDS = frozenset({"dispatch"})


@dataclass
class BatchOutcome:
    """What a batch did: each request's attempt, and the requests left for a retry."""

    attempts: dict[str, Attempt] = field(default_factory=dict)
    transient: dict[str, str] = field(default_factory=dict)

    def statuses(self) -> dict[str, int]:
        """How many requests of the batch ended in each status (retried ones: ``retry``)."""
        counts: dict[str, int] = {}
        for attempt in self.attempts.values():
            counts[attempt.request.status] = counts.get(attempt.request.status, 0) + 1
        if self.transient:
            counts["retry"] = len(self.transient)
        return counts


def process_batch(
    queue: WriteQueue,
    backend: Backend,
    request_ids: Sequence[str],
    *,
    kind: str,
    run_id: str | None = None,
    final_attempt: bool = True,
    threads: int = DEFAULT_THREADS,
    report: Callable[[str, Attempt | None, str | None], None] | None = None,
) -> BatchOutcome:
    """Claim, guard, send and record one attempt of each request of ``kind``.

    Never raises for one request's transient failure: those are in ``transient`` (their
    attempt recorded), for the caller to retry. Other exceptions propagate after every
    request of the batch was tried. ``report(id, attempt, transient error)`` is called as
    each request ends: the run logs it then, so a long batch never looks silent (dead)
    to the reconciler.
    """
    outcome = BatchOutcome()
    errors: list[BaseException] = []

    def one(request_id: str) -> None:
        try:
            outcome.attempts[request_id] = process(
                queue, backend, request_id, run_id=run_id, final_attempt=final_attempt
            )
        except TransientWriteError as exc:
            outcome.transient[request_id] = str(exc)
        except Exception as exc:
            errors.append(exc)

    ids = list(dict.fromkeys(request_ids))  # a request twice in a batch is sent once
    _run_all(one, ids, 1 if kind in SERIAL_KINDS else threads)
    if errors:
        raise errors[0]
    return outcome


def _run_all(task: Callable[[str], None], ids: list[str], threads: int) -> None:
    """``task`` for each id, by ``threads`` threads (in order when one)."""
    if threads <= 1 or len(ids) <= 1:
        for request_id in ids:
            task(request_id)
        return
    with ThreadPoolExecutor(max_workers=min(threads, len(ids))) as pool:
        list(pool.map(task, ids))
