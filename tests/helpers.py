"""Small helpers shared by tests: logging in to the sandbox over HTTP, reading pages, and
reading a landed daily partition back from its month file."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pyotp

from st_resources.warehouse import WarehouseResource, landed_days, read_month
from st_resources.warehouse_views import PARTITION_KEY
from st_sandbox.auth import DEMO_TOTP_SECRET
from st_sandbox.v2.oauth import DEMO_APPS, SANDBOX_TENANT_ID

PASSWORDS = {
    "demo": "demo-password",
    "dispatcher": "dispatch-password",
    "accountant": "account-password",
    "hvac": "hvac-password",
    "readonly": "readonly-password",
}


def v2_resource(base_url: str, token_dir: Path | None = None, app: int = 0, **extra: Any) -> Any:
    """The resource over the sandbox's official v2 surface, as a demo app (0: every scope,
    1: read scopes only)."""
    from st_resources.resource import V2ApiResource

    demo = DEMO_APPS[app]
    return V2ApiResource(
        client_id=demo.client_id,
        client_secret=demo.client_secret,
        app_key=demo.app_key,
        tenant_id=SANDBOX_TENANT_ID,
        auth_url=base_url,
        api_url=base_url,
        rate_limit=1000,
        token_cache_dir=str(token_dir) if token_dir else None,
        **extra,
    )


def login(base_url: str, username: str = "demo", at_offset: int = 0) -> dict[str, Any]:
    """Log in as a demo user over HTTP (answering MFA) and return the token body."""
    with httpx.Client(base_url=base_url) as http:
        first = http.post("/sessions", json={"username": username, "password": PASSWORDS[username]})
        if first.status_code == 200:
            return first.json()  # type: ignore[no-any-return]
        assert first.status_code == 202, first.text
        mfa = first.json()["mfa"]
        method = mfa["methods"][0]
        if method == "totp":
            # Each 30-second code is single-use: try the neighbouring steps, which the
            # tenant also accepts, before giving up.
            for offset in (at_offset, at_offset + 1, at_offset - 1):
                code = pyotp.TOTP(DEMO_TOTP_SECRET).at(time.time() + 30 * offset)
                done = http.post(
                    "/sessions/mfa",
                    json={"challengeId": mfa["challengeId"], "method": method, "code": code},
                )
                if done.status_code == 200:
                    return done.json()  # type: ignore[no-any-return]
            raise AssertionError(done.text)
        outbox = http.get("/_sandbox/outbox", params={"username": username}).json()["data"]
        code = [m for m in outbox if m["method"] == method][-1]["code"]
        done = http.post(
            "/sessions/mfa",
            json={"challengeId": mfa["challengeId"], "method": method, "code": code},
        )
        assert done.status_code == 200, done.text
        return done.json()  # type: ignore[no-any-return]


def auth_client(base_url: str, username: str = "readonly") -> httpx.Client:
    """An httpx client carrying a fresh bearer token of ``username``."""
    token = login(base_url, username)["token"]
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def read_all(http: httpx.Client, path: str, **params: Any) -> tuple[list[dict[str, Any]], str]:
    """Every record of a list endpoint and the read's ``asOf``."""
    records: list[dict[str, Any]] = []
    query: dict[str, Any] = {"pageSize": params.pop("pageSize", 200), **params}
    while True:
        body = http.get(path, params=query).json()
        assert "data" in body, body
        records += body["data"]
        if not body["hasMore"]:
            return records, body["asOf"]
        query["cursor"] = body["nextCursor"]


def sandbox_dump(base_url: str, entity: str) -> list[dict[str, Any]]:
    """Every record of ``entity`` as the sandbox holds it now (``GET /_sandbox/dump``)."""
    text = httpx.get(f"{base_url}/_sandbox/dump", params={"entity": entity}, timeout=60).content
    return [orjson.loads(line) for line in text.splitlines() if line]


def read_partition(warehouse: WarehouseResource, entity: str, day: date) -> pa.Table | None:
    """The rows of one daily partition as landed (without ``modified_date``), or None if
    the day was never landed: read from its month file."""
    month = read_month(warehouse.month_path(entity, day))
    if month is None or day not in month.landed:
        return None
    rows = month.table.filter(pc.equal(month.table[PARTITION_KEY], pa.scalar(day)))
    return rows.drop_columns([PARTITION_KEY])


def landed_at(warehouse: WarehouseResource, entity: str, day: date) -> datetime | None:
    """When the daily partition ``day`` was last landed (None if never), from its month
    file's footer."""
    try:
        schema = pq.read_schema(warehouse.month_path(entity, day))
    except FileNotFoundError:
        return None
    return landed_days(schema.metadata).get(day)


RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def month_key(day: str | date) -> str:
    """The key of the monthly partition holding ``day``."""
    value = date.fromisoformat(day) if isinstance(day, str) else day
    return f"{value:%Y-%m}"


def this_month() -> str:
    """The key of the current (UTC) month's partition."""
    return month_key(datetime.now(UTC).date())


def today_utc() -> date:
    """Today (UTC)."""
    return datetime.now(UTC).date()


def history_tags(first: str) -> dict[str, str]:
    """The tags of one ranged run over every partition from ``first``'s month to today's."""
    return {RANGE_START: month_key(first), RANGE_END: this_month()}


def refresh_config(*days: date | str) -> dict[str, Any]:
    """The run config that re-lands only ``days`` of a run's partitions (``Refresh``)."""
    keys = [d if isinstance(d, str) else d.isoformat() for d in days]
    return {"ops": {"servicetitan_changing_entities": {"config": {"days": keys}}}}
