"""The seed's monitoring figures, read from `customer_conversations` (for `stats`)."""

from __future__ import annotations

import asyncpg

from admin.records import IdentificationRate, RecentMessage, TenantMessageCount

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
