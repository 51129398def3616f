"""The official ServiceTitan v2 API as a second backend of the client.

``ServiceTitanV2Client`` is a ``ServiceTitanClient`` whose requests go through the same
path (rate limit, retries with backoff, 401 re-authentication, metrics, typed errors), with
OAuth2 client credentials and the ``ST-App-Key`` header instead of a session. It offers the
session client's read and write methods, so the assets and write-back ops use either:

- reads walk the export endpoints with continuation tokens (the list endpoints where the
  official API has no export), and give records the session API's shape back;
- writes map to the official operations (dispatch = reschedule + assign/unassign
  technicians; invoice = add items to the job's invoice). v2 has no idempotency keys, so
  every write looks before it writes: a retried or replayed write finds its effect in
  place and does nothing.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from st_contract.entities import ENTITIES
from st_contract.models import Appointment, Event, Invoice, Job
from st_contract.v2_paths import (
    ASSIGNMENTS,
    INVOICE_ITEMS,
    RESCHEDULE,
    V2_PATHS,
    V2Path,
    tenant_path,
)
from st_resources.arrow import records_to_table
from st_resources.client import (
    Page,
    ServiceTitanClient,
    WriteResult,
    api_timestamp,
    window_params,
)
from st_resources.errors import (
    ApiValidationError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    ServiceTitanError,
    UnsupportedOperation,
)
from st_resources.redact import register_secret
from st_resources.settings import ClientSettings

log = logging.getLogger("st_resources.v2")
HOSTS = {
    "production": ("https://auth.servicetitan.io", "https://api.servicetitan.io"),
    "integration": (
        "https://auth-integration.servicetitan.io",
        "https://api-integration.servicetitan.io",
    ),
}
MAX_IDS = 50
TOKEN_MARGIN = 0.1  # renew once 90 % of a token's life has passed
ENTITY_BY_PATH = {spec.path: spec.name for spec in ENTITIES}
# The session API's record and write routes the write-back uses (``GET {path}/{id}``,
# ``PATCH /jobs/{id}/dispatch``, ``POST /jobs/{id}/invoices``), mapped onto v2 here.
RECORD_PATH = re.compile(r"^(/[a-z-]+)/(\d+)$")
WRITE_ROUTE = re.compile(r"^/jobs(?:/(\d+)/(dispatch|invoices))?$")


class V2Settings(BaseModel):
    """How to reach one tenant through the official API. Secrets are ``SecretStr``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    app_key: SecretStr
    tenant_id: int = Field(ge=1)
    environment: Literal["production", "integration"] = "production"
    auth_url: str | None = Field(default=None, description="Overrides the environment's host")
    api_url: str | None = Field(default=None, description="Overrides the environment's host")
    rate_limit: float = Field(default=60.0, gt=0, le=10_000)
    rate_limit_share: int = Field(default=1, ge=1, le=1000)
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    max_attempts: int = Field(default=6, ge=1, le=50)
    max_retry_seconds: float = Field(default=120.0, gt=0, le=3600)
    page_size: int = Field(default=1000, ge=1, le=5000)
    state_dir: Path | None = Field(default=None, description="Export continuation state")

    @field_validator("auth_url", "api_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("URLs must start with http:// or https://")
        return value.rstrip("/") if value else value

    @property
    def auth_base(self) -> str:
        return self.auth_url or HOSTS[self.environment][0]

    @property
    def api_base(self) -> str:
        return self.api_url or HOSTS[self.environment][1]

    def transport(self) -> ClientSettings:
        """The shared client's settings for the API host (retries, limits, timeouts)."""
        return ClientSettings(
            base_url=self.api_base,
            username=self.client_id,
            password=self.client_secret,
            mfa_method="none",
            rate_limit=self.rate_limit,
            rate_limit_share=self.rate_limit_share,
            timeout_seconds=self.timeout_seconds,
            max_attempts=self.max_attempts,
            max_retry_seconds=self.max_retry_seconds,
            page_size=self.page_size,
        )


class ClientCredentialsAuth:
    """Holds a client-credentials token, renewing it before it expires or when refused."""

    def __init__(
        self,
        settings: V2Settings,
        send: Callable[[dict[str, str]], tuple[int, dict[str, Any]]],
        on_login: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.send = send
        self.on_login = on_login
        self.lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0
        register_secret(settings.client_secret.get_secret_value())
        register_secret(settings.app_key.get_secret_value())

    def __repr__(self) -> str:
        return f"ClientCredentialsAuth(client_id={self.settings.client_id!r}, token=[REDACTED])"

    def token(self) -> str:
        """A valid access token (requesting a new one first if needed)."""
        with self.lock:
            if self._token is not None and time.monotonic() < self._renew_at:
                return self._token
            status, body = self.send(
                {
                    "grant_type": "client_credentials",
                    "client_id": self.settings.client_id,
                    "client_secret": self.settings.client_secret.get_secret_value(),
                }
            )
            if status != 200 or "access_token" not in body:
                data: dict[str, Any] = body["data"] if isinstance(body.get("data"), dict) else {}
                raise AuthenticationError(
                    f"the auth server refused the client credentials ({body.get('title') or status}): "
                    "check ST_CLIENT_ID and ST_CLIENT_SECRET",
                    code=str(data.get("code") or body.get("error") or f"http_{status}"),
                    status=status,
                )
            token = str(body["access_token"])
            register_secret(token)
            lifetime = float(body.get("expires_in") or 900)
            self._token = token
            self._renew_at = time.monotonic() + lifetime * (1 - TOKEN_MARGIN)
            self.on_login()
            return token

    def invalidate(self, token: str) -> None:
        """The API refused ``token``: get a new one next time."""
        with self.lock:
            if self._token == token:
                self._renew_at = 0.0


class ExportState:
    """Continuation tokens per entity, on disk: where the last completed export read
    stopped, so the next incremental read starts there instead of from a date."""

    def __init__(self, directory: Path | None, tenant_id: int) -> None:
        self.path = directory / f"v2-export-{tenant_id}.json" if directory else None
        self.lock = threading.Lock()
        self.memory: dict[str, dict[str, str]] = {}

    def get(self, entity: str) -> dict[str, str] | None:
        with self.lock:
            return self._load().get(entity)

    def put(self, entity: str, token: str, through: datetime) -> None:
        with self.lock:
            state = self._load()
            state[entity] = {"continueFrom": token, "through": api_timestamp(through)}
            self.memory = state
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
                tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
                tmp.replace(self.path)

    def _load(self) -> dict[str, dict[str, str]]:
        if self.path is not None and self.path.exists():
            try:
                return json.loads(self.path.read_text())  # type: ignore[no-any-return]
            except ValueError:
                log.warning("ignoring an unreadable export state file %s", self.path)
        return dict(self.memory)


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def to_session_shape(entity: str, record: dict[str, Any]) -> dict[str, Any]:
    """A v2 record in the shape of the session API's (``st_resources/models.py``)."""
    if entity == "business_units" and isinstance(record.get("trade"), dict):
        record["trade"] = record["trade"].get("name")
    if entity == "payments" and isinstance(record.get("typeId"), str):
        record["typeId"] = int(record["typeId"]) if record["typeId"].isdigit() else None
    return record


class ServiceTitanV2Client(ServiceTitanClient):
    """The client over the official v2 API (client credentials + ``ST-App-Key``)."""

    def __init__(self, v2: V2Settings) -> None:
        super().__init__(v2.transport())
        self.v2 = v2
        self.auth = ClientCredentialsAuth(  # type: ignore[assignment]
            v2, self._send_token, on_login=lambda: self.metrics.add(logins=1)
        )
        self.http.headers["ST-App-Key"] = v2.app_key.get_secret_value()
        self.state = ExportState(v2.state_dir, v2.tenant_id)
        self._sent: dict[int, int] = {}
        self._sent_lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"ServiceTitanV2Client(api={self.v2.api_base!r}, tenant={self.v2.tenant_id}, "
            f"client_id={self.v2.client_id!r})"
        )

    def _send_token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        response = self._request(
            "POST",
            f"{self.v2.auth_base}/connect/token",
            form=form,
            authenticated=False,
            retry_writes=True,
            raise_4xx=False,
        )
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, {}

    def _path(self, where: V2Path, path: str) -> str:
        return tenant_path(self.v2.tenant_id, where.prefix, path)

    # --- reads ------------------------------------------------------------------------------

    def _entity(self, path: str) -> tuple[str, V2Path]:
        entity = ENTITY_BY_PATH.get(path, path)
        where = V2_PATHS.get(entity)
        if where is None:
            raise ServiceTitanError(
                f"{path!r} has no official v2 endpoint here; known: {', '.join(sorted(V2_PATHS))}",
                code="unsupported",
            )
        return entity, where

    def _export_pages(self, entity: str, where: V2Path, start: str) -> Iterator[Page]:
        """Export pages from ``start`` (a token or a date); ``next_cursor`` is ``continueFrom``."""
        token = start
        while True:
            response = self._request(
                "GET", self._path(where, f"export/{where.export}"), params={"from": token}
            )
            body = response.json()
            token = body["continueFrom"]
            page = Page(
                records=[to_session_shape(entity, r) for r in body["data"]],
                as_of=datetime.now(UTC),
                next_cursor=token,
                has_more=bool(body["hasMore"]),
                nbytes=len(response.content),
            )
            self.metrics.add(pages=1, records=len(page.records))
            yield page
            if not page.has_more:
                return

    def _list_pages(
        self, entity: str, where: V2Path, params: dict[str, Any], page_size: int
    ) -> Iterator[Page]:
        number = 1
        while True:
            query = {**params, "page": number, "pageSize": page_size, "active": "Any"}
            response = self._request("GET", self._path(where, where.path), params=query)
            body = response.json()
            page = Page(
                records=[to_session_shape(entity, r) for r in body["data"]],
                as_of=datetime.now(UTC),
                next_cursor=str(number + 1) if body["hasMore"] else None,
                has_more=bool(body["hasMore"]),
                nbytes=len(response.content),
            )
            self.metrics.add(pages=1, records=len(page.records))
            yield page
            if not page.has_more:
                return
            number += 1

    def _with_assignments(self, entity: str, page: Page) -> Page:
        """Appointments carry their assignments, as the session API nests them."""
        if entity != "appointments" or not page.records:
            return page
        ids = [r["id"] for r in page.records]
        found: dict[int, list[dict[str, Any]]] = {}
        for i in range(0, len(ids), MAX_IDS):
            chunk = ",".join(str(x) for x in ids[i : i + MAX_IDS])
            for a in self._list_pages(
                "assignments", ASSIGNMENTS, {"appointmentIds": chunk}, MAX_IDS * 10
            ):
                for row in a.records:
                    found.setdefault(row["appointmentId"], []).append(row)
        for record in page.records:
            record["assignments"] = sorted(found.get(record["id"], []), key=lambda r: r["id"])
        return page

    def iter_pages(
        self, path: str, *, params: dict[str, Any] | None = None, page_size: int | None = None
    ) -> Iterator[Page]:
        """Every record of an entity: its export from the start, else its list pages."""
        entity, where = self._entity(path)
        if where.export is None or params:
            for page in self._list_pages(
                entity, where, dict(params or {}), page_size or self.settings.page_size
            ):
                yield self._with_assignments(entity, page)
            return
        for page in self._export_pages(entity, where, ""):
            yield self._with_assignments(entity, page)

    def iter_window_pages(
        self,
        path: str,
        start: datetime,
        end: datetime,
        *,
        windows: int = 4,
        params: dict[str, Any] | None = None,
        page_size: int | None = None,
    ) -> Iterator[Page]:
        """Records with ``start <= modifiedOn < end``, from the export in change order.

        One stream, not concurrent windows: an export is a single ordered feed. When the
        state holds a token that stopped at ``start`` exactly (the previous window of an
        incremental sync completed there), the read resumes from that token.
        """
        entity, where = self._entity(path)
        if where.export is None or params:
            query = window_params(params, start, end)
            for page in self._list_pages(
                entity, where, query, page_size or self.settings.page_size
            ):
                yield self._with_assignments(entity, page)
            return
        started = datetime.now(UTC)
        saved = self.state.get(entity)
        begin = api_timestamp(start)
        if saved is not None and saved["through"] == begin:
            begin = saved["continueFrom"]
        token = begin
        for page in self._export_pages(entity, where, begin):
            token = page.next_cursor or token
            inside = [r for r in page.records if start <= _time(r["modifiedOn"]) < end]
            beyond = len(inside) < len(page.records) and any(
                _time(r["modifiedOn"]) >= end for r in page.records
            )
            page.records = inside
            yield self._with_assignments(entity, page)
            if beyond:
                return
        if end <= started:
            # The export reached its end without passing ``end``, and anything changed
            # from now on gets a modifiedOn past ``end``: the next window starting at
            # ``end`` may resume from this token.
            self.state.put(entity, token, end)

    # v2 records are reshaped in Python (``to_session_shape``, nested assignments), so
    # their tables come from those records, not from the fast byte decoder.

    def iter_tables(
        self, path: str, model: type[BaseModel], loaded_at: datetime, *, priority: int = 0
    ) -> Iterator[pa.Table]:
        """Every record of an entity as Arrow tables (one per page), via ``iter_pages``
        (``priority`` is not applied: v2 reads are one ordered export stream each)."""
        for page in self.iter_pages(path):
            yield records_to_table(model, page.records, loaded_at)

    def iter_window_tables(
        self,
        path: str,
        start: datetime,
        end: datetime,
        model: type[BaseModel],
        loaded_at: datetime,
        *,
        windows: int = 4,
        priority: int = 0,
    ) -> Generator[pa.Table]:
        """``iter_window_pages`` as Arrow tables (one per page); ``priority`` as in
        ``iter_tables``."""
        for page in self.iter_window_pages(path, start, end, windows=windows):
            yield records_to_table(model, page.records, loaded_at)

    def events(
        self, after: str | None = None, limit: int = 500
    ) -> tuple[list[Event], str | None, bool]:
        raise ServiceTitanError(
            "the change feed (/events) is a session-API feature; with the v2 backend, "
            "sync with the schedules (export endpoints) instead",
            code="unsupported",
        )

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET a path; a session API record path (``/jobs/12``) reads that record from v2
        in the session API's shape, so the write-back's checks work on either backend."""
        match = RECORD_PATH.match(path)
        if match and match.group(1) in ENTITY_BY_PATH and not params:
            entity = ENTITY_BY_PATH[match.group(1)]
            if entity in V2_PATHS:
                if entity == "appointments":
                    return self._appointment(int(match.group(2)))
                return self._one(entity, int(match.group(2)))
        return super().get_json(path, params)

    # --- writes: look before you write ------------------------------------------------------

    def write(
        self,
        method: str,
        path: str,
        body: dict[str, Any],
        *,
        idempotency_key: str,
        if_match: str | None = None,
    ) -> WriteResult:
        """A session API write (the write-back's routes) done with the official operations.

        ``replayed`` is true when looking first found the change already in place (a
        retried or re-executed write), so nothing was sent.
        """
        match = WRITE_ROUTE.match(path)
        if match is None or (method, match.group(2)) not in {
            ("POST", None),
            ("PATCH", "dispatch"),
            ("POST", "invoices"),
        }:
            raise UnsupportedOperation(
                f"{method} {path} has no official v2 operation here; the v2 backend writes "
                "dispatches (PATCH /jobs/{id}/dispatch) and invoice items "
                "(POST /jobs/{id}/invoices) only",
                code="unsupported",
            )
        if match.group(2) is None:
            self.create_job(body, idempotency_key=idempotency_key)
        before = self._writes_sent()
        record: BaseModel
        if match.group(2) == "dispatch":
            record = self.dispatch(int(match.group(1)), body, idempotency_key=idempotency_key)
        else:
            record = self.create_invoice(int(match.group(1)), body, idempotency_key=idempotency_key)
        return WriteResult(
            status_code=200,
            body=record.model_dump(mode="json", by_alias=True),
            request_id=None,
            replayed=self._writes_sent() == before,
        )

    def _writes_sent(self) -> int:
        with self._sent_lock:
            return self._sent.get(threading.get_ident(), 0)

    def _send_write(self, method: str, path: str, body: dict[str, Any]) -> None:
        """One official write call (counted per thread, for ``replayed``)."""
        self._request(method, path, json_body=body)
        with self._sent_lock:
            ident = threading.get_ident()
            self._sent[ident] = self._sent.get(ident, 0) + 1

    def _one(self, entity: str, record_id: int) -> dict[str, Any]:
        where = V2_PATHS[entity]
        body = self.get_json(
            self._path(where, where.path), {"ids": str(record_id), "active": "Any"}
        )
        if not body["data"]:
            raise NotFoundError(
                f"{entity} {record_id} does not exist", code="not_found", status=404
            )
        return to_session_shape(entity, body["data"][0])

    def _appointment(self, appointment_id: int) -> dict[str, Any]:
        record = self._one("appointments", appointment_id)
        page = Page([record], datetime.now(UTC), None, False, 0)
        return self._with_assignments("appointments", page).records[0]

    def create_job(self, body: dict[str, Any], *, idempotency_key: str) -> Job:
        raise UnsupportedOperation(
            "the official v2 API has no operation for booking a job with its appointment "
            "here: book it in ServiceTitan, or use the session API backend",
            code="unsupported",
        )

    def dispatch(
        self,
        job_id: int,
        body: dict[str, Any],
        *,
        idempotency_key: str,
        if_match: str | None = None,
    ) -> Appointment:
        """Move the window (reschedule) and set the technicians (assign/unassign) of a job's
        appointment; only what differs from the appointment as it stands is sent."""
        unknown = set(body) - {
            "appointmentId",
            "technicianIds",
            "start",
            "end",
            "arrivalWindowStart",
            "arrivalWindowEnd",
            "status",
        }
        if unknown:
            raise ApiValidationError(
                f"unknown dispatch fields: {sorted(unknown)}", code="validation_error"
            )
        appointment_id = body.get("appointmentId") or self._one("jobs", job_id)["lastAppointmentId"]
        appt = self._appointment(int(appointment_id))
        if appt["jobId"] != job_id:
            raise NotFoundError(
                f"appointment {appointment_id} is not an appointment of job {job_id}",
                code="not_found",
                status=404,
            )
        if body.get("status") not in (None, appt["status"]):
            raise UnsupportedOperation(
                f"the official v2 API has no operation to change an appointment's status "
                f"({appt['status']} to {body['status']}): send the dispatch without a status, "
                "move the status in ServiceTitan, or use the session API backend",
                code="unsupported",
            )
        window = {
            k: body[k]
            for k in ("start", "end", "arrivalWindowStart", "arrivalWindowEnd")
            if body.get(k)
        }
        # v2 splits one dispatch into several calls; when a later one is refused (409
        # double booking), the earlier ones are undone so a refused dispatch changes nothing.
        undo: list[tuple[str, str, dict[str, Any]]] = []
        reschedule = RESCHEDULE.url(self.v2.tenant_id, id=appt["id"])
        if any(
            _time(str(v)) != _time(str(appt.get(k) or v)) or appt.get(k) is None
            for k, v in window.items()
        ):
            self._send_write(
                "PATCH", reschedule, {"start": appt["start"], "end": appt["end"], **window}
            )
            original = {
                k: appt.get(k) for k in ("start", "end", "arrivalWindowStart", "arrivalWindowEnd")
            }
            undo.append(("PATCH", reschedule, {k: v for k, v in original.items() if v}))
        if body.get("technicianIds") is not None:
            wanted = [int(t) for t in body["technicianIds"]]
            held = [a["technicianId"] for a in appt["assignments"] if a.get("active", True)]
            try:
                for action, opposite, techs in (
                    (
                        "unassign-technicians",
                        "assign-technicians",
                        [t for t in held if t not in wanted],
                    ),
                    (
                        "assign-technicians",
                        "unassign-technicians",
                        [t for t in wanted if t not in held],
                    ),
                ):
                    if techs:
                        change = {"jobAppointmentId": appt["id"], "technicianIds": techs}
                        self._send_write(
                            "POST",
                            self._path(ASSIGNMENTS, f"appointment-assignments/{action}"),
                            change,
                        )
                        path = self._path(ASSIGNMENTS, f"appointment-assignments/{opposite}")
                        undo.append(("POST", path, change))
            except ConflictError:
                for method, path, change in reversed(undo):
                    self._send_write(method, path, change)
                raise
        return Appointment.model_validate(self._appointment(appt["id"]))

    def create_invoice(self, job_id: int, body: dict[str, Any], *, idempotency_key: str) -> Invoice:
        """Add the items to the job's invoice (v2 creates it with the job). Items already on
        the invoice (same sku, description, quantity and price) are not added twice."""
        extras = [k for k in ("payment", "discounts", "taxZoneId", "summary") if body.get(k)]
        if extras:
            raise UnsupportedOperation(
                f"the official v2 API has no operation here for an invoice's {', '.join(extras)}: "
                "the v2 backend adds items to the job's invoice only; take payments and "
                "discounts in ServiceTitan, or use the session API backend",
                code="unsupported",
            )
        job = self._one("jobs", job_id)
        if not job.get("invoiceId"):
            # Officially a job's invoice exists from the job's creation; a job without one
            # (the sandbox's never-invoiced jobs) has nothing v2 can add items to, and
            # retrying will not create one.
            raise ConflictError(
                f"job {job_id} has no invoice to add items to (the official v2 API cannot "
                "create one): create the job's invoice in ServiceTitan, then submit again",
                code="no_invoice",
                status=409,
            )
        invoice_id = int(job["invoiceId"])
        existing = Counter(_item_key(i) for i in self._one("invoices", invoice_id)["items"])
        for item in body.get("items", []):
            request = {
                "skuId": item.get("skuId"),
                "description": item.get("description") or "",
                "quantity": float(Decimal(str(item["quantity"]))),
                "unitPrice": float(Decimal(str(item["unitPrice"]))),
            }
            key = _item_key(
                {
                    "skuId": request["skuId"],
                    "description": request["description"],
                    "quantity": item["quantity"],
                    "price": item["unitPrice"],
                }
            )
            if existing[key] > 0:  # already there: a retry of this write
                existing[key] -= 1
                continue
            self._send_write(
                INVOICE_ITEMS.method, INVOICE_ITEMS.url(self.v2.tenant_id, id=invoice_id), request
            )
        return Invoice.model_validate(self._one("invoices", invoice_id))


def _item_key(item: dict[str, Any]) -> tuple[Any, ...]:
    return (
        item.get("skuId"),
        item.get("description") or "",
        Decimal(str(item["quantity"])).normalize(),
        Decimal(str(item["price"])).quantize(Decimal("0.01")),
    )
