"""Rate limits and injected faults behave as configured."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from st_sandbox.server import SandboxServer
from tests.helpers import auth_client


def test_rate_limit_answers_429_with_retry_after(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    server = sandbox_factory(customers=50, rate_limit=5)
    with auth_client(server.base_url) as http:
        answers = [http.get("/business-units") for _ in range(15)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited, "15 requests at once must exceed 5/s"
    assert float(limited[0].headers["retry-after"]) > 0
    assert limited[0].json()["error"]["code"] == "rate_limited"


def test_targeted_fault_fails_the_nth_request_once(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    server = sandbox_factory(customers=50)
    with auth_client(server.base_url) as http:
        httpx.post(
            f"{server.base_url}/_sandbox/faults",
            json={"targeted": [{"route": "/jobs", "nth": 3, "status": 503}]},
        )
        statuses = [http.get("/jobs").status_code for _ in range(5)]
        assert statuses == [200, 200, 503, 200, 200]
        httpx.post(
            f"{server.base_url}/_sandbox/faults",
            json={"targeted": [{"route": "/jobs", "nth": 1, "status": "drop"}]},
        )
        with pytest.raises(httpx.HTTPError):
            http.get("/jobs")
        assert http.get("/jobs").status_code == 200
        httpx.delete(f"{server.base_url}/_sandbox/faults")


def test_fault_rates_follow_a_seeded_schedule(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    server = sandbox_factory(customers=50)
    runs = []
    with auth_client(server.base_url) as http:
        for _ in range(2):
            httpx.post(f"{server.base_url}/_sandbox/faults", json={"faultRate": 0.3, "seed": 42})
            runs.append([http.get("/business-units").status_code for _ in range(30)])
        httpx.delete(f"{server.base_url}/_sandbox/faults")
    assert runs[0] == runs[1]
    assert 3 <= sum(s >= 500 for s in runs[0]) <= 20
