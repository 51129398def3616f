"""ServiceTitan v2 webhooks: what a delivery looks like on the wire.

ServiceTitan documents the mechanism (an app subscribes event types to a callback URL; an
HMAC key of 32 to 64 characters signs each delivery's payload; the receiver answers 2xx,
else the delivery is retried after 10, 30, 60 and 300 seconds; at least once, in any
order) but not the exact header and field names. These are ours, defined here once: the
sandbox sends them and the receiver checks them. A tenant whose deliveries differ is
adapted here only (docs/webhooks.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from st_contract.entities import ENTITIES

SIGNATURE_HEADER = "X-ServiceTitan-Signature"
"""Base64 of the HMAC-SHA256 of the raw request body under the app's HMAC key."""
EVENT_ID_HEADER = "X-ServiceTitan-Event-Id"
"""The event's id (the body's ``eventId``); the same on every retry of one event."""

RETRY_SCHEDULE: tuple[float, ...] = (10.0, 30.0, 60.0, 300.0)
"""Seconds between a failed delivery and its next attempt (after the last: manual replay)."""

HMAC_KEY_MIN, HMAC_KEY_MAX = 32, 64

WEBHOOK_ENTITIES: tuple[str, ...] = tuple(e.name for e in ENTITIES if e.partitioned)
"""The entities that send events: the core entities that change (partitioned by
``modifiedOn`` in the warehouse)."""
ACTIONS = ("created", "updated")
EVENT_TYPES: tuple[str, ...] = tuple(f"{e}.{a}" for e in WEBHOOK_ENTITIES for a in ACTIONS)
"""Every event type, ``<entity>.<action>`` (``jobs.created``, ``payments.updated``...)."""


def event_type(entity: str, action: str) -> str:
    """The event type of ``action`` (``created``/``updated``) on ``entity``."""
    name = f"{entity}.{action}"
    if name not in EVENT_TYPES:
        raise ValueError(f"{name!r} is not a webhook event type; known: {', '.join(EVENT_TYPES)}")
    return name


def check_hmac_key(key: str) -> str:
    """``key`` if it is a valid HMAC key (32 to 64 characters, as ServiceTitan requires)."""
    if not HMAC_KEY_MIN <= len(key) <= HMAC_KEY_MAX:
        # Never echo the key itself: it is a secret.
        raise ValueError(
            f"the webhook HMAC key must have {HMAC_KEY_MIN} to {HMAC_KEY_MAX} characters "
            f"(it has {len(key)}): use the key configured in the ServiceTitan app"
        )
    return key


def sign(key: str, body: bytes) -> str:
    """The signature header's value for ``body``."""
    digest = hmac.new(key.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(key: str, body: bytes, signature: str | None) -> bool:
    """Whether ``signature`` signs ``body`` under ``key`` (compared in constant time)."""
    if not signature:
        return False
    return hmac.compare_digest(sign(key, body).encode(), signature.strip().encode())


class WebhookEvent(BaseModel):
    """The JSON body of one delivery."""

    model_config = ConfigDict(extra="allow")

    eventId: str = Field(min_length=1, max_length=100)
    eventType: str = Field(min_length=1, max_length=100)
    tenantId: int | str
    occurredOn: datetime
    entity: str = Field(min_length=1, max_length=100)
    entityId: int
    data: dict[str, Any] = Field(default_factory=dict)
