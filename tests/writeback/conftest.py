"""Write-back fixtures: a queue on each backend (SQLite in a temp folder, PostgreSQL in a
fresh database), a fresh sandbox per test (writes change it), the code location's
definitions pointed at both, and a helper that ticks the sensor and executes its runs
in a real Dagster instance."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest

from st_assets.definitions import ingest_defs, writeback_defs
from st_assets.resources import build_resources
from st_resources.resource import ServiceTitanResource, SessionApiResource
from st_resources.warehouse import WarehouseResource
from st_resources.writeback.queue import WriteQueue, WriteQueueResource
from st_sandbox.auth import DEMO_TOTP_SECRET
from st_sandbox.cli import outbox_code_command
from st_sandbox.server import SandboxServer
from tests.helpers import PASSWORDS, auth_client, v2_resource

WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")
LOGIN_ROUTES = ("sessions", "connect")  # session logins and v2 tokens are not writes


@pytest.fixture(params=["sqlite", "postgres"])
def queue_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The queue's URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'queue.sqlite'}"
    return str(request.getfixturevalue("pg_database"))


@pytest.fixture(
    params=[("session", "sqlite"), ("session", "postgres"), ("v2", "sqlite")],
    ids=["session-sqlite", "session-postgres", "v2-sqlite"],
)
def backend_queue(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(API backend, queue URL): the session API on both queues, the official v2 API on
    SQLite (the queue's backend does not depend on the API's, so v2 x PostgreSQL would
    add minutes and no coverage)."""
    backend, queue = request.param
    if queue == "sqlite":
        return backend, f"sqlite:///{tmp_path / 'queue.sqlite'}"
    return backend, str(request.getfixturevalue("pg_database"))


@pytest.fixture
def sqlite_queue_url(tmp_path: Path) -> str:
    """A SQLite queue, for tests whose point is not the backend."""
    return f"sqlite:///{tmp_path / 'queue.sqlite'}"


@pytest.fixture
def server(sandbox_factory: Callable[..., SandboxServer]) -> SandboxServer:
    """A fresh sandbox (300 customers, no rate limit)."""
    return sandbox_factory()


def api_resource(base_url: str, user: str, token_dir: Path, **extra: Any) -> SessionApiResource:
    """The session API resource for a sandbox user (SMS and e-mail codes read from the
    sandbox's outbox by the code command)."""
    return SessionApiResource(
        base_url=base_url,
        username=user,
        password=PASSWORDS[user],
        mfa_method={"demo": "totp", "dispatcher": "sms", "accountant": "email"}.get(user, "none"),
        totp_secret=DEMO_TOTP_SECRET if user == "demo" else None,
        mfa_code_command=outbox_code_command(base_url),
        rate_limit=1000,
        token_cache_dir=str(token_dir / user),
        **extra,
    )


@dataclass
class Harness:
    """The code location wired to one sandbox and one queue, in a real Dagster instance."""

    server: SandboxServer
    queue_url: str
    instance: dg.DagsterInstance
    tmp: Path
    user: str = "demo"
    # "v2": the official API as the demo app with every scope ("v2-readonly": read scopes);
    # "env": the code location's own wiring from ST_* variables (st_assets/resources.py).
    backend: str = "session"
    api_options: dict[str, Any] = field(default_factory=dict)
    cursors: dict[str, str | None] = field(default_factory=dict)
    _defs: dg.Definitions | None = None

    @property
    def queue(self) -> WriteQueue:
        return WriteQueue(self.queue_url)

    def api(self) -> ServiceTitanResource:
        """The ServiceTitan resource of this harness's backend (a session user, a v2 demo
        app, or the code location's own wiring)."""
        if self.backend == "env":
            return build_resources()["servicetitan"]  # type: ignore[no-any-return]
        if self.backend.startswith("v2"):
            app = 1 if self.backend == "v2-readonly" else 0
            return v2_resource(  # type: ignore[no-any-return]
                self.server.base_url, self.tmp / "tokens" / self.backend, app, **self.api_options
            )
        return api_resource(
            self.server.base_url, self.user, self.tmp / "tokens", **self.api_options
        )

    def resources(self) -> dict[str, Any]:
        return {
            "servicetitan": self.api(),
            "warehouse": WarehouseResource(warehouse_dir=str(self.tmp / "warehouse")),
            "writeback_queue": WriteQueueResource(db_url=self.queue_url),
        }

    def defs(self) -> dg.Definitions:
        if self._defs is None:
            self._defs = dg.Definitions.merge(
                ingest_defs("2024-01-01"),
                writeback_defs(),
                dg.Definitions(resources=self.resources()),
            )
        return self._defs

    def tick(self, sensor: str = "writeback_requests") -> dg.SensorResult:
        """One evaluation of a sensor, keeping its cursor like the daemon does."""
        defs = self.defs()
        sensor_def = defs.resolve_sensor_def(sensor)
        with dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursors.get(sensor),
            resources=self.resources(),
            definitions=defs,
        ) as context:
            result = sensor_def(context)
        assert isinstance(result, dg.SensorResult)
        if result.cursor is not None:
            self.cursors[sensor] = result.cursor
        return result

    def execute(self, request: dg.RunRequest, **kwargs: Any) -> dg.ExecuteInProcessResult:
        """Execute one run request of the sensor, as the daemon would launch it."""
        assert request.job_name is not None
        job = self.defs().resolve_job_def(request.job_name)
        return job.execute_in_process(
            run_config=request.run_config,
            partition_key=request.partition_key,
            asset_selection=request.asset_selection,
            instance=self.instance,
            tags=request.tags,
            raise_on_error=False,
            **kwargs,
        )

    def tick_and_run(self) -> list[dg.ExecuteInProcessResult]:
        """One tick of ``writeback_requests`` and every run it asked for."""
        return [self.execute(r) for r in self.tick().run_requests or []]


@pytest.fixture
def harness_factory(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    """Build harnesses sharing one Dagster instance with in-memory storage (a run writes
    a dozen events; on a file-backed test instance each is a synchronous SQLite commit)."""
    with dg.DagsterInstance.ephemeral() as instance:

        def make(server: SandboxServer, queue_url: str, **kwargs: Any) -> Harness:
            return Harness(server, queue_url, instance, tmp_path, **kwargs)

        yield make


def dump(server: SandboxServer, entity: str) -> list[dict[str, Any]]:
    """The sandbox's ground truth for an entity."""
    text = httpx.get(f"{server.base_url}/_sandbox/dump", params={"entity": entity}).text
    return [json.loads(line) for line in text.splitlines() if line]


def writes_sent(server: SandboxServer) -> int:
    """How many write requests (POST/PATCH, logins excluded) reached the sandbox."""
    return sum(
        n
        for (method, route), n in _route_counts(server).items()
        if method in WRITE_METHODS and route not in LOGIN_ROUTES
    )


def _route_counts(server: SandboxServer) -> dict[tuple[str, str], int]:
    """Requests per (method, first path segment), the sandbox's own routes left out."""
    counters = httpx.get(f"{server.base_url}/_sandbox/stats").json()["requests"]
    counts: dict[tuple[str, str], int] = {}
    for key, n in counters.items():
        parts = key.split(" ")
        if len(parts) == 3 and parts[0].isupper() and parts[1] != "_sandbox":
            counts[(parts[0], parts[1])] = counts.get((parts[0], parts[1]), 0) + n
    return counts


def api_calls(server: SandboxServer) -> int:
    """Every API request the sandbox answered (sessions included)."""
    return sum(_route_counts(server).values())


def future_slot(days: int, hour: int, minutes: int = 120) -> tuple[str, str]:
    """A window far enough ahead that the seeded schedule does not reach it."""
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = day + timedelta(days=days, hours=hour)
    return start.isoformat(), (start + timedelta(minutes=minutes)).isoformat()


def create_jobs(server: SandboxServer, count: int) -> list[dict[str, Any]]:
    """``count`` new Scheduled jobs without technicians (set-up, straight over HTTP)."""
    locations = [loc for loc in dump(server, "locations") if loc["active"]]
    job_type = dump(server, "job_types")[0]
    start, end = future_slot(200, 8)
    jobs = []
    with auth_client(server.base_url, "demo") as http:
        for i in range(count):
            loc = locations[i % len(locations)]
            body = {
                "customerId": loc["customerId"],
                "locationId": loc["id"],
                "businessUnitId": job_type["businessUnitIds"][0],
                "jobTypeId": job_type["id"],
                "summary": f"test job {i}",
                "appointment": {"start": start, "end": end},
            }
            answer = http.post("/jobs", json=body)
            assert answer.status_code == 201, answer.text
            jobs.append(answer.json())
    return jobs
