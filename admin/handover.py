"""The operator's side of a human in the conversation: pausing and resuming a customer's
conversation or a whole tenant's assistant, and the tenant's handover settings (migrations/011's
tables; the handler decides). Reading conversations and opt-outs: `admin.conversation_log`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from admin.errors import InvalidInput
from admin.records import (
    ConversationPause,
    Tenant,
)


class UnknownCustomer(InvalidInput):
    def __init__(self, customer: str, tenant: str) -> None:
        super().__init__(
            f"no conversation with customer {customer} for {tenant}"
            f" (wa-admin conversations {tenant} --show-numbers lists them)"
        )


# The customer's conversation key as the handler chooses it (their BSUID's, their number's), if
# the tenant has a conversation with them.
_CONVERSATION_KEY = """
SELECT k.key
FROM (SELECT customer_conversation_key($1, $2, $3) AS key) AS k
WHERE EXISTS (SELECT 1 FROM customer_conversations AS c WHERE c.user_id = $1 AND c.phone_number = k.key)
"""


async def conversation_key(conn: asyncpg.Connection, tenant: Tenant, customer: str) -> str:
    """The key of the tenant's conversation with `customer` (a number or a BSUID, as validated)."""
    is_bsuid = not customer.isdigit()
    key = await conn.fetchval(
        _CONVERSATION_KEY, tenant.id, None if is_bsuid else customer, customer if is_bsuid else None
    )
    if key is None:
        raise UnknownCustomer(customer, tenant.email or str(tenant.id))
    return str(key)


# An operator's pause replaces whatever pause the conversation had ($3 NULL: until resumed).
_PAUSE_CUSTOMER = """
INSERT INTO conversation_pauses AS p (user_id, customer_key, paused_until, reason)
VALUES ($1, $2, coalesce(now() + make_interval(secs => $3::double precision), 'infinity'), 'operator')
ON CONFLICT (user_id, customer_key) DO UPDATE
SET paused_until = EXCLUDED.paused_until, reason = 'operator', paused_at = now()
RETURNING CASE WHEN isfinite(paused_until) THEN paused_until END AS until
"""

_RESUME_CUSTOMER = """
DELETE FROM conversation_pauses
WHERE user_id = $1 AND customer_key = $2
RETURNING paused_until > now() AS was_active, reason,
          CASE WHEN isfinite(paused_until) THEN paused_until END AS until
"""

_PAUSE_TENANT = """
INSERT INTO tenant_handover_settings (user_id, bot_paused_until)
VALUES ($1, coalesce(now() + make_interval(secs => $2::double precision), 'infinity'))
ON CONFLICT (user_id) DO UPDATE SET bot_paused_until = EXCLUDED.bot_paused_until, updated_at = now()
RETURNING CASE WHEN isfinite(bot_paused_until) THEN bot_paused_until END AS until
"""

_RESUME_TENANT = """
UPDATE tenant_handover_settings AS h
SET bot_paused_until = NULL, updated_at = now()
FROM (SELECT user_id, bot_paused_until > now() AS was_active
      FROM tenant_handover_settings WHERE user_id = $1 FOR UPDATE) AS before
WHERE h.user_id = before.user_id
RETURNING before.was_active
"""


async def pause_customer(
    conn: asyncpg.Connection, tenant: Tenant, key: str, seconds: int | None
) -> datetime | None:
    """Pause the conversation for `seconds` (None: until resumed); returns its end."""
    until: datetime | None = await conn.fetchval(_PAUSE_CUSTOMER, tenant.id, key, seconds)
    return until


async def resume_customer(conn: asyncpg.Connection, tenant: Tenant, key: str) -> ConversationPause | None:
    """End the conversation's pause (a human's or an operator's); the pause it ended, if any."""
    row = await conn.fetchrow(_RESUME_CUSTOMER, tenant.id, key)
    if row is None or not row["was_active"]:
        return None
    return ConversationPause(reason=row["reason"], until=row["until"])


async def pause_tenant(conn: asyncpg.Connection, tenant: Tenant, seconds: int | None) -> datetime | None:
    until: datetime | None = await conn.fetchval(_PAUSE_TENANT, tenant.id, seconds)
    return until


async def resume_tenant(conn: asyncpg.Connection, tenant: Tenant) -> bool:
    """True when the tenant's assistant was paused."""
    return bool(await conn.fetchval(_RESUME_TENANT, tenant.id))


_TENANT_PAUSE = """
SELECT bot_paused_until > now() AS paused, CASE WHEN isfinite(bot_paused_until) THEN bot_paused_until END AS until
FROM tenant_handover_settings WHERE user_id = $1
"""


async def tenant_pause(conn: asyncpg.Connection, tenant: Tenant) -> tuple[bool, datetime | None]:
    """(paused, until): whether the tenant's whole assistant is off now, and until when (None: resumed by hand)."""
    row = await conn.fetchrow(_TENANT_PAUSE, tenant.id)
    return (bool(row["paused"]), row["until"]) if row is not None else (False, None)


_PAUSED_TENANTS = """
SELECT user_id, CASE WHEN isfinite(bot_paused_until) THEN bot_paused_until END AS until
FROM tenant_handover_settings WHERE bot_paused_until > now()
"""


async def paused_tenants(conn: asyncpg.Connection) -> dict[object, datetime | None]:
    """Tenants whose whole assistant is off now, with until when (None: until resumed)."""
    return {row["user_id"]: row["until"] for row in await conn.fetch(_PAUSED_TENANTS)}


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoverChanges:
    """What `set-handover` sets; None leaves the stored value (or the default) as it is.
    `*_default`: back to the default (the languages' words, the default confirmation)."""

    human_pause_seconds: int | None = None
    languages: tuple[str, ...] | None = None
    stop_words: tuple[str, ...] | None = None
    stop_words_default: bool = False
    start_words: tuple[str, ...] | None = None
    start_words_default: bool = False
    opt_out_text: str | None = None
    opt_out_text_default: bool = False
    opt_in_text: str | None = None
    opt_in_text_default: bool = False


_ENSURE_HANDOVER_ROW = """
INSERT INTO tenant_handover_settings (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING
"""

_UPDATE_HANDOVER = """
UPDATE tenant_handover_settings
SET human_pause_seconds = coalesce($2, human_pause_seconds),
    languages = coalesce($3, languages),
    stop_words = CASE WHEN $5 THEN NULL ELSE coalesce($4, stop_words) END,
    start_words = CASE WHEN $7 THEN NULL ELSE coalesce($6, start_words) END,
    opt_out_text = CASE WHEN $9 THEN NULL ELSE coalesce($8, opt_out_text) END,
    opt_in_text = CASE WHEN $11 THEN NULL ELSE coalesce($10, opt_in_text) END,
    updated_at = now()
WHERE user_id = $1
RETURNING human_pause_seconds, languages, stop_words, start_words, opt_out_text, opt_in_text
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoverSettings:
    human_pause_seconds: int
    languages: tuple[str, ...]
    stop_words: tuple[str, ...] | None  # None: the languages' defaults
    start_words: tuple[str, ...] | None
    opt_out_text: str | None  # None: the default confirmation
    opt_in_text: str | None


async def set_handover(
    conn: asyncpg.Connection, tenant: Tenant, changes: HandoverChanges
) -> HandoverSettings:
    await conn.execute(_ENSURE_HANDOVER_ROW, tenant.id)
    row = await conn.fetchrow(
        _UPDATE_HANDOVER,
        tenant.id,
        changes.human_pause_seconds,
        list(changes.languages) if changes.languages is not None else None,
        list(changes.stop_words) if changes.stop_words is not None else None,
        changes.stop_words_default,
        list(changes.start_words) if changes.start_words is not None else None,
        changes.start_words_default,
        changes.opt_out_text,
        changes.opt_out_text_default,
        changes.opt_in_text,
        changes.opt_in_text_default,
    )
    assert row is not None
    return HandoverSettings(
        human_pause_seconds=row["human_pause_seconds"],
        languages=tuple(row["languages"]),
        stop_words=tuple(row["stop_words"]) if row["stop_words"] is not None else None,
        start_words=tuple(row["start_words"]) if row["start_words"] is not None else None,
        opt_out_text=row["opt_out_text"],
        opt_in_text=row["opt_in_text"],
    )
