"""Postgres for a human in the conversation: the business's own messages and the pauses they set,
the customers' opt-outs and opt-ins, and what keeps the assistant out of a conversation now
(migrations/011). Each statement one round trip; nothing here decides."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol
from uuid import UUID

import asyncpg

from handler.model import (
    CustomerControls,
    EchoOutcome,
    EchoRecord,
    OptChange,
    PauseReason,
    QuietReason,
    Tenant,
)
from shared.webhook import BusinessEcho, PreferenceUpdate

# What keeps the assistant out of the conversation now, read after a message waited its turn.
CUSTOMER_CONTROLS = "SELECT customer_controls($1, $2) AS controls"

# A quiet message: stored, not answered (`quiet`, with its reason); a stop or start word written
# meanwhile is recorded all the same ($3 NULL: none).
FINISH_QUIETLY = """
WITH message AS (
    UPDATE customer_conversations
    SET status = 'quiet', quiet_reason = $2::text, lease_expires_at = NULL, updated_at = now()
    WHERE id = $1
    RETURNING user_id, phone_number, customer_wa_id, customer_user_id, meta_timestamp, created_at
)
SELECT set_customer_opt_out(m.user_id, m.phone_number, 'assistant', $3::boolean, $4::text, $5::text,
                            m.customer_wa_id, m.customer_user_id, coalesce(m.meta_timestamp, m.created_at))
FROM message AS m
WHERE $3::boolean IS NOT NULL
"""

# A stop or start word about to be confirmed: the choice recorded, the reason on the message (its
# status is the confirmation's to set, as for any reply).
NOTE_OPT_CHANGE = """
WITH message AS (
    UPDATE customer_conversations SET quiet_reason = $2::text, updated_at = now()
    WHERE id = $1
    RETURNING user_id, phone_number, customer_wa_id, customer_user_id, meta_timestamp, created_at
)
SELECT set_customer_opt_out(m.user_id, m.phone_number, 'assistant', $3::boolean, $4::text, $5::text,
                            m.customer_wa_id, m.customer_user_id, coalesce(m.meta_timestamp, m.created_at))
FROM message AS m
"""

FIND_TENANT_BY_NUMBER = """
SELECT row_to_json(t) AS tenant FROM tenant_settings AS t WHERE t.phone_number_id = $1 LIMIT 1
"""

RECORD_BUSINESS_ECHO = "SELECT * FROM record_business_echo($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"

RECORD_MARKETING_PREFERENCE = """
SELECT set_customer_opt_out($1::uuid, customer_conversation_key($1::uuid, $2::text, $3::text),
                            'marketing', $4::boolean, 'user_preferences', $5::text, $2::text,
                            $3::text, coalesce($6::timestamptz, now())) AS applied
"""


class Statements(Protocol):
    async def fetchrow(self, query: str, *args: object) -> asyncpg.Record | None: ...
    async def fetchval(self, query: str, *args: object) -> object: ...
    async def execute(self, query: str, *args: object) -> str: ...


def controls_from_json(raw: str | None) -> CustomerControls:
    """`customer_controls` (migrations/011) as read by the claim or after a wait."""
    if raw is None:
        return CustomerControls()
    data = json.loads(raw)
    until = data.get("paused_until")
    return CustomerControls(
        pause_reason=PauseReason(data["pause_reason"]) if data.get("pause_reason") else None,
        paused_until=datetime.fromisoformat(until) if until else None,
        opted_out=bool(data.get("opted_out")),
    )


class HandoverStore:
    """The handover statements, on the conversation store's pool; tenants are read (and their
    secrets opened) by the conversation store's loader."""

    def __init__(
        self, pool: Statements, load_tenant: Callable[[str | None], Awaitable[Tenant | None]]
    ) -> None:
        self._pool = pool
        self._load_tenant = load_tenant

    async def customer_controls(self, tenant: Tenant, customer_key: str) -> CustomerControls:
        raw = await self._pool.fetchval(CUSTOMER_CONTROLS, tenant.user_id, customer_key)
        return controls_from_json(raw if isinstance(raw, str) else None)

    async def finish_quietly(self, inbound_id: UUID, reason: QuietReason, change: OptChange | None) -> None:
        await self._pool.execute(
            FINISH_QUIETLY,
            inbound_id,
            reason,
            None if change is None else change.opted_out,
            None if change is None else change.source,
            None if change is None else change.word,
        )

    async def note_opt_change(self, inbound_id: UUID, reason: QuietReason, change: OptChange) -> None:
        await self._pool.execute(
            NOTE_OPT_CHANGE, inbound_id, reason, change.opted_out, change.source, change.word
        )

    async def find_tenant_by_number(self, phone_number_id: str) -> Tenant | None:
        """The tenant whose active number this is (its secrets decrypted), or None."""
        row = await self._pool.fetchrow(FIND_TENANT_BY_NUMBER, phone_number_id)
        return await self._load_tenant(row["tenant"]) if row is not None else None

    async def record_business_echo(
        self, tenant: Tenant, echo: BusinessEcho, *, content: str | None, pause_seconds: int
    ) -> EchoRecord:
        row = await self._pool.fetchrow(
            RECORD_BUSINESS_ECHO,
            tenant.user_id,
            echo.phone_number_id,
            echo.customer_phone,
            echo.customer_user_id,
            echo.kind.value,
            echo.original_id,
            content,
            echo.id,
            echo.type.value,
            echo.timestamp,
            float(pause_seconds),
        )
        assert row is not None
        return EchoRecord(
            outcome=EchoOutcome(row["outcome"]),
            customer_key=row["customer_key"],
            paused_until=row["paused_until"],
        )

    async def record_marketing_preference(
        self, tenant: Tenant, update: PreferenceUpdate, *, opted_out: bool
    ) -> bool:
        """False: a later choice of the customer's was recorded already."""
        applied = await self._pool.fetchval(
            RECORD_MARKETING_PREFERENCE,
            tenant.user_id,
            update.customer_phone,
            update.customer_user_id,
            opted_out,
            update.detail or None,
            update.timestamp,
        )
        return bool(applied)
