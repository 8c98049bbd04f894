"""Conversations as stored, for the operator: the tenant's WhatsApp conversations, one of them row
by row (sender, status, why a message was not answered), the customers who opted out, and the
messages kept from the AI on purpose (migrations/011's columns and tables)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from admin.records import (
    ConversationPause,
    ConversationRow,
    ConversationSummary,
    OptOut,
    QuietCount,
    Tenant,
)

# WhatsApp conversations only (web chat sessions are keyed web:…), most recent first.
_CONVERSATIONS = """
SELECT c.phone_number AS customer_key,
       max(c.created_at) AS last_at,
       count(*) FILTER (WHERE c.sender = 'user') AS from_customer,
       count(*) FILTER (WHERE c.sender = 'bot') AS from_assistant,
       count(*) FILTER (WHERE c.sender = 'business') AS from_business,
       count(*) FILTER (WHERE c.sender = 'user' AND c.status = 'quiet') AS quiet,
       (SELECT p.reason FROM conversation_pauses AS p
        WHERE p.user_id = $1 AND p.customer_key = c.phone_number AND p.paused_until > now()) AS pause_reason,
       (SELECT CASE WHEN isfinite(p.paused_until) THEN p.paused_until END FROM conversation_pauses AS p
        WHERE p.user_id = $1 AND p.customer_key = c.phone_number AND p.paused_until > now()) AS paused_until,
       coalesce((SELECT o.opted_out FROM customer_opt_outs AS o
                 WHERE o.user_id = $1 AND o.customer_key = c.phone_number AND o.scope = 'assistant'), false)
           AS opted_out
FROM customer_conversations AS c
WHERE c.user_id = $1 AND c.source = 'whatsapp' AND c.phone_number IS NOT NULL
GROUP BY c.phone_number
ORDER BY last_at DESC
LIMIT $2
"""

# As the handler's conversation_history reads turns (migrations/008): each reply right after the
# message it answers, a split reply's parts in their order; the last `$3` rows, oldest first.
# `make run`'s /history reads them through `conversation_turns` too.
_CONVERSATION_TURNS = """
SELECT created_at, sender, status, quiet_reason, error_title, content, media_outcome
FROM (
    SELECT c.created_at, c.sender, c.status, c.quiet_reason, c.error_title, c.content, c.media_outcome, c.id,
           coalesce(asked.created_at, c.created_at) AS turn_at,
           c.reply_to IS NOT NULL AS is_reply, coalesce(c.reply_part, -1) AS part
    FROM customer_conversations AS c
    LEFT JOIN customer_conversations AS asked ON asked.id = c.reply_to
    WHERE c.user_id = $1 AND c.phone_number = $2
    ORDER BY turn_at DESC, is_reply DESC, part DESC, c.created_at DESC, c.id DESC
    LIMIT $3
) AS recent
ORDER BY turn_at, is_reply, part, created_at, id
"""


def _pause(reason: str | None, until: datetime | None) -> ConversationPause | None:
    return ConversationPause(reason=reason, until=until) if reason is not None else None


async def conversations(conn: asyncpg.Connection, tenant: Tenant, limit: int) -> list[ConversationSummary]:
    return [
        ConversationSummary(
            customer_key=row["customer_key"],
            last_at=row["last_at"],
            from_customer=row["from_customer"],
            from_assistant=row["from_assistant"],
            from_business=row["from_business"],
            quiet=row["quiet"],
            pause=_pause(row["pause_reason"], row["paused_until"]),
            opted_out=row["opted_out"],
        )
        for row in await conn.fetch(_CONVERSATIONS, tenant.id, limit)
    ]


@dataclass(frozen=True, slots=True, kw_only=True)
class Conversation:
    key: str
    rows: tuple[ConversationRow, ...]
    pause: ConversationPause | None
    opted_out: bool


_CONVERSATION_STATE = """
SELECT p.reason, CASE WHEN isfinite(p.paused_until) THEN p.paused_until END AS until,
       coalesce(o.opted_out, false) AS opted_out
FROM (SELECT 1) AS one
LEFT JOIN conversation_pauses AS p ON p.user_id = $1 AND p.customer_key = $2 AND p.paused_until > now()
LEFT JOIN customer_opt_outs AS o ON o.user_id = $1 AND o.customer_key = $2 AND o.scope = 'assistant'
"""


def conversation_row(row: asyncpg.Record) -> ConversationRow:
    return ConversationRow(
        created_at=row["created_at"],
        sender=row["sender"],
        status=row["status"],
        quiet_reason=row["quiet_reason"],
        error_title=row["error_title"],
        content=row["content"],
        media_outcome=row["media_outcome"],
    )


async def conversation_turns(
    conn: asyncpg.Connection, user_id: UUID, key: str, limit: int
) -> tuple[ConversationRow, ...]:
    """The last `limit` rows of the conversation, oldest first, as the handler reads turns."""
    return tuple(conversation_row(row) for row in await conn.fetch(_CONVERSATION_TURNS, user_id, key, limit))


async def conversation(conn: asyncpg.Connection, tenant: Tenant, key: str, limit: int) -> Conversation:
    rows = await conversation_turns(conn, tenant.id, key, limit)
    state = await conn.fetchrow(_CONVERSATION_STATE, tenant.id, key)
    assert state is not None
    return Conversation(
        key=key, rows=rows, pause=_pause(state["reason"], state["until"]), opted_out=state["opted_out"]
    )


_OPT_OUTS = """
SELECT customer_key, scope, source, detail, changed_at
FROM customer_opt_outs
WHERE user_id = $1 AND opted_out
ORDER BY changed_at DESC, customer_key, scope
"""


async def opt_outs(conn: asyncpg.Connection, tenant: Tenant) -> list[OptOut]:
    return [
        OptOut(
            customer_key=row["customer_key"],
            scope=row["scope"],
            source=row["source"],
            detail=row["detail"],
            changed_at=row["changed_at"],
        )
        for row in await conn.fetch(_OPT_OUTS, tenant.id)
    ]


_QUIET_COUNTS = """
SELECT u.email, c.quiet_reason, count(*) AS n
FROM customer_conversations AS c
LEFT JOIN auth.users AS u ON u.id = c.user_id
WHERE c.created_at > now() - interval '24 hours' AND c.sender = 'user' AND c.quiet_reason IS NOT NULL
GROUP BY c.user_id, u.email, c.quiet_reason
ORDER BY u.email NULLS LAST, n DESC, c.quiet_reason
"""


async def quiet_counts(conn: asyncpg.Connection) -> list[QuietCount]:
    """Customer messages of the last 24 h not answered by the AI on purpose, per tenant and reason."""
    return [
        QuietCount(tenant_email=row["email"], reason=row["quiet_reason"], count=row["n"])
        for row in await conn.fetch(_QUIET_COUNTS)
    ]
