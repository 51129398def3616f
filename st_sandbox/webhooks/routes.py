"""``/_sandbox/webhooks/*``: the webhook subscriptions of the tenant (what a ServiceTitan
app's settings hold) and the delivery log, for tests and ``make dev`` (docs/api.md,
"Webhooks"). No login, like every ``/_sandbox`` control.

The routes carry comments rather than docstrings: a docstring would become the
operation's description in ``/openapi.json``.
"""

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from st_sandbox.errors import ApiError
from st_sandbox.routes.deps import TenantDep, json_response

router = APIRouter(tags=["sandbox"])


class SubscriptionBody(BaseModel):
    """Unknown fields are refused so that a typo is an error, not a no-op."""

    model_config = ConfigDict(extra="forbid")

    eventTypes: list[str] = Field(min_length=1, max_length=200)
    url: str = Field(min_length=8, max_length=2000)
    hmacKey: str = Field(min_length=1, max_length=200)


# Subscribes eventTypes (st_contract/webhooks.py EVENT_TYPES) to url, signed with hmacKey.
@router.post("/_sandbox/webhooks/subscriptions", summary="Subscribe to webhook events")
async def subscribe(body: SubscriptionBody, tenant: TenantDep) -> Response:
    try:
        sub = tenant.webhooks.subscribe(body.eventTypes, body.url, body.hmacKey)
    except ValueError as exc:
        raise ApiError(400, "invalid_subscription", str(exc)) from None
    return json_response(sub.public(), status=201)


@router.get("/_sandbox/webhooks/subscriptions", summary="Webhook subscriptions (no keys)")
async def subscriptions(tenant: TenantDep) -> Response:
    subs = list(tenant.webhooks.subscriptions.values())
    return json_response({"data": [s.public() for s in subs]})


@router.delete("/_sandbox/webhooks/subscriptions", summary="Remove every subscription")
async def unsubscribe_all(tenant: TenantDep) -> Response:
    return json_response({"removed": tenant.webhooks.unsubscribe()})


@router.delete("/_sandbox/webhooks/subscriptions/{subscription_id}", summary="Unsubscribe")
async def unsubscribe(subscription_id: str, tenant: TenantDep) -> Response:
    if not tenant.webhooks.unsubscribe(subscription_id):
        raise ApiError(404, "not_found", f"no subscription {subscription_id!r}")
    return json_response({"removed": 1})


# One entry per attempt: eventId, eventType, attempt, status, error, outcome
# (delivered, retrying, failed); pending counts the changes and deliveries not finished;
# dropped the changes a full queue could not take.
@router.get("/_sandbox/webhooks/deliveries", summary="Webhook delivery log")
async def deliveries(tenant: TenantDep, after: Annotated[int, Query(ge=0)] = 0) -> Response:
    hub = tenant.webhooks
    return json_response(
        {"data": hub.deliveries(after), "pending": hub.pending, "dropped": hub.dropped}
    )
