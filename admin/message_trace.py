"""What became of one WhatsApp message, read from `customer_conversations` by its message id.

The customer's row (its status and error), and the rows of the reply sent to it (`reply_to`), each
with Meta's answer; `follow_message` polls until they settle or the wait is over. The statuses are
the handler's (handler/model.py); this module only reads them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import asyncpg

POLL_INTERVAL_SECONDS = 0.25
PREVIEW_CHARACTERS = 60

# A customer message in one of these is done: nothing more happens to it without a retry.
_MESSAGE_FINISHED = frozenset({"answered", "failed", "outcome_unknown", "quiet"})
# A reply part in one of these is being sent, or waits for the next attempt.
_REPLY_IN_FLIGHT = frozenset({"sending", "send_retry"})
# Graph accepted the part (and Meta may have reported it delivered or read since).
_REPLY_REACHED_GRAPH = frozenset({"sent", "delivered", "read"})


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredMessage:
    """The customer's row for the message."""

    id: UUID
    tenant_id: UUID | None  # None: the handler identified no tenant for the number
    status: str | None
    error_title: str | None

    @property
    def finished(self) -> bool:
        return self.status in _MESSAGE_FINISHED


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredReply:
    """One WhatsApp message of the reply (a long reply goes in parts)."""

    part: int | None
    status: str | None
    error_code: int | None
    error_title: str | None
    preview: str  # the reply's first characters (PREVIEW_CHARACTERS, one more to tell it was cut)

    @property
    def reached_graph(self) -> bool:
        return self.status in _REPLY_REACHED_GRAPH

    @property
    def in_flight(self) -> bool:
        return self.status in _REPLY_IN_FLIGHT


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageTrace:
    message: StoredMessage | None = None  # None: no row with the message id (yet)
    replies: tuple[StoredReply, ...] = ()
    waited_seconds: float = 0.0

    @property
    def settled(self) -> bool:
        """Nothing more happens without a retry or a status from Meta: polling can stop."""
        if self.message is None or not self.message.finished:
            return False
        return not any(reply.in_flight for reply in self.replies)


# Recent rows only (the index on created_at): the message was sent moments ago, whatever the
# table's size. Message ids are unique per tenant; a fresh random one is unique in practice.
_CUSTOMER_ROW = """
SELECT id, user_id, status, error_title
FROM customer_conversations
WHERE wa_message_id = $1 AND sender = 'user' AND created_at > now() - interval '1 hour'
ORDER BY created_at DESC
LIMIT 1
"""

_REPLY_ROWS = """
SELECT reply_part, status, error_code, error_title, left(content, $2) AS preview
FROM customer_conversations
WHERE reply_to = $1 AND sender = 'bot' AND created_at > now() - interval '1 hour'
ORDER BY reply_part NULLS FIRST, created_at
"""


async def read_trace(conn: asyncpg.Connection, wamid: str) -> MessageTrace:
    row = await conn.fetchrow(_CUSTOMER_ROW, wamid)
    if row is None:
        return MessageTrace()
    message = StoredMessage(
        id=row["id"], tenant_id=row["user_id"], status=row["status"], error_title=row["error_title"]
    )
    replies = tuple(
        StoredReply(
            part=reply["reply_part"],
            status=reply["status"],
            error_code=reply["error_code"],
            error_title=reply["error_title"],
            preview=reply["preview"] or "",
        )
        for reply in await conn.fetch(_REPLY_ROWS, message.id, PREVIEW_CHARACTERS + 1)
    )
    return MessageTrace(message=message, replies=replies)


async def follow_message(
    conn: asyncpg.Connection,
    wamid: str,
    wait_seconds: float,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> MessageTrace:
    """The message's rows once settled, or as they are when `wait_seconds` have passed."""
    started = clock()
    while True:
        trace = await read_trace(conn, wamid)
        waited = clock() - started
        if trace.settled or waited >= wait_seconds:
            return MessageTrace(message=trace.message, replies=trace.replies, waited_seconds=waited)
        await asyncio.sleep(min(POLL_INTERVAL_SECONDS, wait_seconds - waited))
