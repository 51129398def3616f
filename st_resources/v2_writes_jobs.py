"""Booking a job on the official v2 API exactly once, without idempotency keys.

``POST jpm/v2/tenant/{t}/jobs`` (``Jpm.V2.JobCreateRequest``) books the job with its
appointments; the request carries ``externalData`` under the product's application
guid (``V2Settings.application_guid``) with the write request's id
(``writeRequestId``). Before booking, the writer lists the jobs with that guid, key and
value (the official ``externalDataApplicationGuid``/``externalDataKey``/
``externalDataValues`` filters): a job found there was booked by an earlier attempt
whose answer was lost (a crash, a dropped connection), and it is answered instead of
booking a second one.
"""

from __future__ import annotations

from typing import Any

from st_contract.v2_paths import CREATE_JOB
from st_resources.errors import UnsupportedOperation
from st_resources.transport import Call, Transport
from st_resources.v2_reads import V2Reader
from st_resources.v2_writes import Written

REQUEST_KEY = "writeRequestId"


class V2JobBooker:
    """Books jobs through ``POST jobs``, finding an earlier attempt's job first."""

    def __init__(self, transport: Transport, reader: V2Reader, application_guid: str) -> None:
        self.transport = transport
        self.reader = reader
        self.application_guid = application_guid

    def create_job(self, body: dict[str, Any], job_id: int | None, request_id: str) -> Written:
        """The job of write request ``request_id``: found, or booked now."""
        request = job_request(body, self.application_guid, request_id)  # checked first
        found = self.booked(request_id)
        if found is not None:
            return Written(self._with_appointments(found), 0)
        url = CREATE_JOB.url(self.reader.tenant_id)
        answer = self.transport.request(Call(CREATE_JOB.method, url, json_body=request)).json()
        return Written(self._with_appointments(answer), 1)

    def booked(self, request_id: str) -> dict[str, Any] | None:
        """The job an earlier attempt of ``request_id`` booked, if any."""
        filters = {
            "externalDataApplicationGuid": self.application_guid,
            "externalDataKey": REQUEST_KEY,
            "externalDataValues": request_id,
        }
        for page in self.reader.list_pages("jobs", filters):
            if page.records:
                return page.records[0]
        return None

    def _with_appointments(self, job: dict[str, Any]) -> dict[str, Any]:
        """The job with its appointments (the session API's answer to a booking)."""
        ids = [job.get("firstAppointmentId"), job.get("lastAppointmentId")]
        wanted = sorted({int(i) for i in ids if i})
        appointments = [self.reader.one("appointments", i) for i in wanted]
        return {**job, "appointments": appointments}


def job_request(body: dict[str, Any], application_guid: str, request_id: str) -> dict[str, Any]:
    """The official ``JobCreateRequest`` of the session API's booking body, tagged with
    the write request's id."""
    if not body.get("campaignId"):
        raise UnsupportedOperation(
            "the official v2 API books a job only with its marketing campaign "
            "(JobCreateRequest.campaignId is required): give campaign_id",
            code="unsupported",
        )
    window = body["appointment"]
    appointment = {**window, "technicianIds": list(body.get("technicianIds") or [])}
    request: dict[str, Any] = {
        "customerId": body["customerId"],
        "locationId": body["locationId"],
        "businessUnitId": body["businessUnitId"],
        "jobTypeId": body["jobTypeId"],
        "priority": body.get("priority", "Normal"),
        "campaignId": body["campaignId"],
        "appointments": [appointment],
        "externalData": {
            "applicationGuid": application_guid,
            "externalData": [{"key": REQUEST_KEY, "value": request_id}],
        },
    }
    if body.get("summary") is not None:
        request["summary"] = body["summary"]
    return request
