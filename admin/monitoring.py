"""What `customer_conversations` says about service: the seed's figures (`stats`) and the delivery
problems the handler recorded (`check` and `stats`)."""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

import asyncpg

from admin.records import (
    DeliveryHealth,
    ErrorCodeCount,
    IdentificationRate,
    ModelSubstitution,
    RecentMessage,
    Rejection,
    TenantFailedSends,
    TenantMediaCount,
    TenantMessageCount,
    UnknownOutcome,
    UnknownOutcomes,
)

# The seed's "user identification success rate" query; NULLIF keeps it from dividing by zero
# when there were no messages (the seed's version fails then).
_IDENTIFICATION_RATE = """
SELECT
  COUNT(*) as total_messages,
  COUNT(user_id) as identified_messages,
  ROUND(100.0 * COUNT(user_id) / NULLIF(COUNT(*), 0), 2) as success_rate
FROM customer_conversations
WHERE created_at > NOW() - INTERVAL '24 hours'
AND sender = 'user'
AND source = 'whatsapp'
"""

# The seed's "recent messages" query, with the tenant's email instead of its id.
_RECENT_MESSAGES = """
SELECT c.created_at, u.email, c.phone_number, c.sender, LEFT(c.content, 50) AS content_preview
FROM customer_conversations AS c
LEFT JOIN auth.users AS u ON u.id = c.user_id
WHERE c.created_at > NOW() - INTERVAL '1 hour'
ORDER BY c.created_at DESC
LIMIT $1
"""

_MESSAGES_PER_TENANT = """
SELECT u.email,
       COUNT(*) AS total,
       COUNT(*) FILTER (WHERE c.sender = 'user') AS from_customers,
       COUNT(*) FILTER (WHERE c.sender = 'bot') AS from_assistant
FROM customer_conversations AS c
LEFT JOIN auth.users AS u ON u.id = c.user_id
WHERE c.created_at > NOW() - INTERVAL '24 hours'
GROUP BY c.user_id, u.email
ORDER BY total DESC, u.email NULLS LAST
"""


# migrations/010: media_outcome is set on customer messages that were voice notes (audio) or images
# (image, sticker) only. Groq's cost of these is the tenant's key's: the counts say what it bought.
_MEDIA_PER_TENANT = """
SELECT u.email,
       count(*) FILTER (WHERE c.message_type = 'audio' AND c.media_outcome = 'transcribed') AS voice_understood,
       count(*) FILTER (WHERE c.message_type = 'audio' AND c.media_outcome = 'fell_back') AS voice_fell_back,
       count(*) FILTER (WHERE c.message_type <> 'audio' AND c.media_outcome = 'seen') AS images_understood,
       count(*) FILTER (WHERE c.message_type <> 'audio' AND c.media_outcome = 'fell_back') AS images_fell_back
FROM customer_conversations AS c
LEFT JOIN auth.users AS u ON u.id = c.user_id
WHERE c.created_at > NOW() - INTERVAL '24 hours' AND c.sender = 'user' AND c.media_outcome IS NOT NULL
GROUP BY c.user_id, u.email
ORDER BY count(*) DESC, u.email NULLS LAST
"""


async def identification_rate(conn: asyncpg.Connection) -> IdentificationRate:
    row = await conn.fetchrow(_IDENTIFICATION_RATE)
    assert row is not None
    return IdentificationRate(
        total_messages=row["total_messages"],
        identified_messages=row["identified_messages"],
        success_rate=row["success_rate"],
    )


async def recent_messages(conn: asyncpg.Connection, limit: int) -> list[RecentMessage]:
    return [
        RecentMessage(
            created_at=row["created_at"],
            tenant_email=row["email"],
            phone_number=row["phone_number"],
            sender=row["sender"],
            content_preview=row["content_preview"],
        )
        for row in await conn.fetch(_RECENT_MESSAGES, limit)
    ]


async def messages_per_tenant(conn: asyncpg.Connection) -> list[TenantMessageCount]:
    return [
        TenantMessageCount(
            tenant_email=row["email"],
            total=row["total"],
            from_customers=row["from_customers"],
            from_assistant=row["from_assistant"],
        )
        for row in await conn.fetch(_MESSAGES_PER_TENANT)
    ]


async def media_per_tenant(conn: asyncpg.Connection) -> list[TenantMediaCount]:
    """Per tenant, the last 24 h: voice notes and images understood, and those that fell back."""
    return [
        TenantMediaCount(
            tenant_email=row["email"],
            voice_notes_understood=row["voice_understood"],
            voice_notes_fell_back=row["voice_fell_back"],
            images_understood=row["images_understood"],
            images_fell_back=row["images_fell_back"],
        )
        for row in await conn.fetch(_MEDIA_PER_TENANT)
    ]


# One range scan of the last 7 days (index on created_at), one row per tenant with a finding.
# A Groq rejection counts until a later customer message gets an AI answer (answered, no error);
# a Graph 190 until a later reply reaches Graph (sent, delivered or read). The handler writes the
# titles: "groq rejected: http 401 invalid_api_key" — status and code, never Groq's message.
_DELIVERY_HEALTH = """
WITH per_tenant AS (
    SELECT user_id,
           max(created_at) FILTER (WHERE groq_rejected) AS groq_rejected_at,
           (array_agg(error_title ORDER BY created_at DESC) FILTER (WHERE groq_rejected))[1] AS groq_title,
           max(created_at) FILTER (
               WHERE sender = 'user' AND status = 'answered' AND error_title IS NULL
                 AND message_type IN ('text', 'interactive', 'button')
           ) AS answered_at,
           max(created_at) FILTER (WHERE token_rejected) AS token_rejected_at,
           (array_agg(error_title ORDER BY created_at DESC) FILTER (WHERE token_rejected))[1] AS token_title,
           max(created_at) FILTER (
               WHERE sender = 'bot' AND status IN ('sent', 'delivered', 'read')
           ) AS delivered_at,
           count(*) FILTER (WHERE sender = 'user' AND status = 'outcome_unknown') AS outcome_unknown,
           count(*) FILTER (WHERE stuck) AS unfinished,
           min(created_at) FILTER (WHERE stuck) AS oldest_unfinished_at
    FROM (
        SELECT user_id, sender, status, error_title, message_type, created_at,
               -- Still someone's to finish long after Lambda's retries (1 and 2 minutes) and the
               -- lease: its event failed every attempt and waits in the dead-letter queue.
               sender = 'user'
                   AND status IN ('received', 'answering', 'sending', 'send_retry', 'resending')
                   AND updated_at < now() - interval '15 minutes'
                   AND (lease_expires_at IS NULL OR lease_expires_at < now()) AS stuck,
               sender = 'user' AND error_title LIKE 'groq rejected:%'
                   AND created_at > now() - interval '24 hours' AS groq_rejected,
               sender = 'bot' AND error_code = 190
                   AND created_at > now() - interval '24 hours' AS token_rejected
        FROM customer_conversations
        WHERE created_at > now() - interval '7 days' AND user_id IS NOT NULL
    ) AS recent
    GROUP BY user_id
)
SELECT user_id,
       CASE WHEN answered_at IS NULL OR answered_at < groq_rejected_at THEN groq_rejected_at END
           AS groq_rejected_at,
       groq_title,
       CASE WHEN delivered_at IS NULL OR delivered_at < token_rejected_at THEN token_rejected_at END
           AS token_rejected_at,
       token_title,
       outcome_unknown,
       unfinished,
       oldest_unfinished_at
FROM per_tenant
WHERE groq_rejected_at IS NOT NULL OR token_rejected_at IS NOT NULL OR outcome_unknown > 0
   OR unfinished > 0
"""

_GROQ_REJECTED_PREFIX = "groq rejected:"

# The latest substitution per tenant in the last 7 days (`check` compares it with the tenant's model).
_MODEL_SUBSTITUTIONS = """
SELECT DISTINCT ON (user_id) user_id, requested_model, substitute_model, reason, times, last_at
FROM groq_model_substitutions
WHERE last_at > now() - interval '7 days'
ORDER BY user_id, last_at DESC
"""

# count(*) OVER () is taken before LIMIT: the total, whatever the page shows.
_UNKNOWN_OUTCOMES = """
SELECT c.created_at, u.email, c.phone_number, LEFT(c.content, 50) AS content_preview,
       count(*) OVER () AS total
FROM customer_conversations AS c
LEFT JOIN auth.users AS u ON u.id = c.user_id
WHERE c.created_at > now() - interval '7 days'
  AND c.sender = 'user' AND c.status = 'outcome_unknown'
ORDER BY c.created_at DESC
LIMIT $1
"""

_FAILED_SENDS_PER_TENANT = """
WITH per_code AS (
    SELECT user_id, error_code, count(*) AS n
    FROM customer_conversations
    WHERE created_at > now() - interval '24 hours' AND sender = 'bot' AND status = 'failed'
    GROUP BY user_id, error_code
)
SELECT u.email,
       sum(p.n)::bigint AS failed,
       array_agg(p.error_code ORDER BY p.n DESC, p.error_code NULLS LAST) AS codes,
       array_agg(p.n ORDER BY p.n DESC, p.error_code NULLS LAST) AS counts
FROM per_code AS p
LEFT JOIN auth.users AS u ON u.id = p.user_id
GROUP BY p.user_id, u.email
ORDER BY failed DESC, u.email NULLS LAST
"""

_TOP_ERROR_CODES = 3


async def delivery_health(conn: asyncpg.Connection) -> dict[UUID, DeliveryHealth]:
    """Tenants whose recent rows show a refused Groq key or model, a refused WhatsApp token, or
    replies of unknown outcome; a tenant that is absent has none of these."""
    health: dict[UUID, DeliveryHealth] = {}
    for row in await conn.fetch(_DELIVERY_HEALTH):
        groq = None
        if row["groq_rejected_at"] is not None:
            reason = row["groq_title"].removeprefix(_GROQ_REJECTED_PREFIX).strip()
            groq = Rejection(at=row["groq_rejected_at"], reason=reason)
        token = None
        if row["token_rejected_at"] is not None:
            token = Rejection(at=row["token_rejected_at"], reason=row["token_title"] or "")
        health[row["user_id"]] = DeliveryHealth(
            groq_rejection=groq,
            whatsapp_token_rejection=token,
            sends_outcome_unknown=row["outcome_unknown"],
            unfinished_messages=row["unfinished"],
            oldest_unfinished_at=row["oldest_unfinished_at"],
        )
    for row in await conn.fetch(_MODEL_SUBSTITUTIONS):
        substitution = ModelSubstitution(
            requested_model=row["requested_model"],
            substitute_model=row["substitute_model"],
            reason=row["reason"],
            times=row["times"],
            last_at=row["last_at"],
        )
        health[row["user_id"]] = replace(
            health.get(row["user_id"], DeliveryHealth()), model_substitution=substitution
        )
    return health


async def unknown_outcomes(conn: asyncpg.Connection, limit: int) -> UnknownOutcomes:
    """Customer messages of the last 7 days whose reply may not have reached them, newest first."""
    rows = await conn.fetch(_UNKNOWN_OUTCOMES, limit)
    return UnknownOutcomes(
        total=rows[0]["total"] if rows else 0,
        messages=tuple(
            UnknownOutcome(
                created_at=row["created_at"],
                tenant_email=row["email"],
                phone_number=row["phone_number"],
                content_preview=row["content_preview"],
            )
            for row in rows
        ),
    )


async def failed_sends_per_tenant(conn: asyncpg.Connection) -> list[TenantFailedSends]:
    """Replies Graph refused in the last 24 h, per tenant, with the most frequent error codes."""
    return [
        TenantFailedSends(
            tenant_email=row["email"],
            failed=row["failed"],
            top_error_codes=tuple(
                ErrorCodeCount(error_code=code, count=count)
                for code, count in zip(row["codes"], row["counts"], strict=True)
            )[:_TOP_ERROR_CODES],
        )
        for row in await conn.fetch(_FAILED_SENDS_PER_TENANT)
    ]
