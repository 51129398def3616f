"""The sandbox's sessions: TOTP replay, expiry, refresh rotation and reuse, lockout, outbox."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pyotp

from st_sandbox.auth import DEMO_TOTP_SECRET
from st_sandbox.server import SandboxServer
from tests.helpers import login


def _challenge(http: httpx.Client, username: str = "demo", password: str = "demo-password") -> str:
    answer = http.post("/sessions", json={"username": username, "password": password})
    assert answer.status_code == 202, answer.text
    return str(answer.json()["mfa"]["challengeId"])


def test_totp_code_is_accepted_once_and_the_next_step_code_works(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    server = sandbox_factory(customers=50)
    totp = pyotp.TOTP(DEMO_TOTP_SECRET)
    with httpx.Client(base_url=server.base_url) as http:
        code = totp.now()
        first = http.post(
            "/sessions/mfa", json={"challengeId": _challenge(http), "method": "totp", "code": code}
        )
        assert first.status_code == 200
        replay = http.post(
            "/sessions/mfa", json={"challengeId": _challenge(http), "method": "totp", "code": code}
        )
        assert replay.status_code == 401
        assert replay.json()["error"]["code"] == "mfa_code_reused"
        nxt = http.post(
            "/sessions/mfa",
            json={
                "challengeId": _challenge(http),
                "method": "totp",
                "code": totp.at(time.time() + 30),
            },
        )
        assert nxt.status_code == 200
        wrong = http.post(
            "/sessions/mfa",
            json={"challengeId": _challenge(http), "method": "totp", "code": "000000"},
        )
        assert wrong.json()["error"]["code"] in ("mfa_code_invalid", "mfa_code_reused")


def test_sms_and_email_codes_arrive_in_the_outbox(sandbox: SandboxServer) -> None:
    for user in ("dispatcher", "accountant"):
        body = login(sandbox.base_url, user)
        assert body["user"]["username"] == user
    outbox = httpx.get(f"{sandbox.base_url}/_sandbox/outbox").json()["data"]
    assert {m["method"] for m in outbox} >= {"sms", "email"}


def test_tokens_expire_and_refresh_rotates_and_reuse_revokes(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    server = sandbox_factory(customers=50, token_ttl=1)
    first = login(server.base_url, "readonly")
    with httpx.Client(base_url=server.base_url) as http:
        auth = {"Authorization": f"Bearer {first['token']}"}
        assert http.get("/business-units", headers=auth).status_code == 200
        time.sleep(1.2)
        expired = http.get("/business-units", headers=auth)
        assert expired.status_code == 401
        assert expired.json()["error"]["code"] == "token_expired"
        second = http.post("/sessions/refresh", json={"refreshToken": first["refreshToken"]}).json()
        assert second["refreshToken"] != first["refreshToken"]
        ok = http.get("/business-units", headers={"Authorization": f"Bearer {second['token']}"})
        assert ok.status_code == 200
        reuse = http.post("/sessions/refresh", json={"refreshToken": first["refreshToken"]})
        assert reuse.status_code == 401
        assert reuse.json()["error"]["code"] == "refresh_token_reused"
        revoked = http.get(
            "/business-units", headers={"Authorization": f"Bearer {second['token']}"}
        )
        assert revoked.json()["error"]["code"] == "session_revoked"
        dead = http.post("/sessions/refresh", json={"refreshToken": second["refreshToken"]})
        assert dead.status_code == 401


def test_five_failures_lock_the_user_even_with_the_right_password(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    server = sandbox_factory(customers=50, lockout_seconds=60)
    with httpx.Client(base_url=server.base_url) as http:
        for _ in range(5):
            bad = http.post("/sessions", json={"username": "readonly", "password": "nope"})
            assert bad.status_code == 401
            assert bad.json()["error"]["code"] == "invalid_credentials"
        locked = http.post(
            "/sessions", json={"username": "readonly", "password": "readonly-password"}
        )
        assert locked.status_code == 423
        assert locked.json()["error"]["code"] == "user_locked"
        assert "lockedUntil" in locked.json()["error"]["details"]


def test_requests_without_a_valid_token_are_refused(sandbox: SandboxServer) -> None:
    for headers, code in (
        ({}, "token_missing"),
        ({"Authorization": "Bearer nope"}, "token_invalid"),
    ):
        answer = httpx.get(f"{sandbox.base_url}/jobs", headers=headers)
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == code
