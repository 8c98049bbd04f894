"""`/history` lists a conversation as it went: each reply after the message it answers, and the
parts of a split reply in their order although they were recorded at the same instant."""

from __future__ import annotations

import asyncpg

from localrun.conversations import ChatTenant, history
from tests.factories import add_tenant

CUSTOMER = "33612345678"


async def test_split_reply_parts_are_listed_in_their_order(db: asyncpg.Connection) -> None:
    seeded = await add_tenant(db, 1)
    tenant = ChatTenant(
        user_id=seeded.user_id, email=seeded.email, phone_number_id=seeded.phone_number_id, access_token=None
    )
    asked = await db.fetchval(
        """INSERT INTO customer_conversations (user_id, phone_number, content, sender, status)
           VALUES ($1, $2, 'Bonjour', 'user', 'answered') RETURNING id""",
        seeded.user_id,
        CUSTOMER,
    )
    # Recorded in one statement (one created_at), ids random: only reply_part orders them.
    await db.execute(
        """INSERT INTO customer_conversations
               (user_id, phone_number, content, sender, status, reply_to, reply_part)
           SELECT $1, $2, 'part ' || n, 'bot', 'sent', $3, n FROM unnest(ARRAY[2, 0, 3, 1]) AS n""",
        seeded.user_id,
        CUSTOMER,
        asked,
    )

    listed = await history(db, tenant, CUSTOMER, 10)
    last_three = await history(db, tenant, CUSTOMER, 3)

    assert [m.content for m in listed] == ["Bonjour", "part 0", "part 1", "part 2", "part 3"]
    assert [m.content for m in last_three] == ["part 1", "part 2", "part 3"]
