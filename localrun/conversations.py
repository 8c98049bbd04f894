"""What the chat reads from Postgres: the tenants it can write to, a conversation, a row's status."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg

from admin.conversation_log import conversation_row, conversation_turns
from admin.records import ConversationPause, ConversationRow
from shared.env import ConfigurationError
from standins.meta import BusinessNumber
from tenant_secrets.master_keys import Keyring, MasterKeyError
from tenant_secrets.secrets_crypto import SecretColumn, SecretUnreadable, decrypt_secret, is_encrypted


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatTenant:
    """A tenant with an active WhatsApp number: the chat can write to it."""

    user_id: UUID
    email: str | None
    phone_number_id: str
    # Only to let the Graph stand-in check what the handler sends; None: not readable here.
    access_token: str | None = field(repr=False)

    @property
    def label(self) -> str:
        """A short name for the chat's lines: the email's local part, or the id's start."""
        return self.email.split("@", 1)[0] if self.email else str(self.user_id)[:8]

    @property
    def business(self) -> BusinessNumber:
        return BusinessNumber(
            phone_number_id=self.phone_number_id,
            display_phone_number=self.phone_number_id[-11:],
            waba_id="9" + self.phone_number_id[-14:],
        )


_CHAT_TENANTS = """
SELECT u.id, u.email, w.phone_number_id, w.access_token
FROM auth.users AS u
JOIN user_whatsapp_config AS w ON w.user_id = u.id AND w.is_active
ORDER BY u.created_at, u.email NULLS LAST, u.id
"""

_REPLY_STATUSES = """
SELECT wa_message_id, status
FROM customer_conversations
WHERE user_id = $1 AND sender = 'bot' AND wa_message_id = ANY($2::text[])
"""

_PAUSE = """
SELECT reason, CASE WHEN isfinite(paused_until) THEN paused_until END AS until
FROM conversation_pauses
WHERE user_id = $1 AND customer_key = $2 AND paused_until > now()
"""

_CUSTOMER_MESSAGE = """
SELECT created_at, sender, status, quiet_reason, error_title, content, media_outcome
FROM customer_conversations
WHERE user_id = $1 AND wa_message_id = $2 AND sender = 'user'
"""

_ROWS_FOR_MESSAGE = "SELECT count(*) FROM customer_conversations WHERE user_id = $1 AND wa_message_id = $2"


async def chat_tenants(conn: asyncpg.Connection) -> list[ChatTenant]:
    """Every tenant with an active number, oldest first (the demo tenants lead on a fresh database)."""
    return [
        ChatTenant(
            user_id=row["id"],
            email=row["email"],
            phone_number_id=row["phone_number_id"],
            access_token=await asyncio.to_thread(_readable_token, row["access_token"], row["id"]),
        )
        for row in await conn.fetch(_CHAT_TENANTS)
    ]


_ACTIVE_TOKEN = """
SELECT user_id, access_token FROM user_whatsapp_config WHERE phone_number_id = $1 AND is_active
"""


def token_source(database_url: str) -> Callable[[str], Awaitable[str | None]]:
    """For the Graph stand-in: a number's current token, read when asked (a tenant added or given
    a new token with wa-admin while `make run` runs is known at once)."""

    async def current_token(phone_number_id: str) -> str | None:
        conn = await asyncpg.connect(database_url)
        try:
            row = await conn.fetchrow(_ACTIVE_TOKEN, phone_number_id)
        finally:
            await conn.close()
        if row is None:
            return None
        return await asyncio.to_thread(_readable_token, row["access_token"], row["user_id"])

    return current_token


def _readable_token(stored: str, tenant_id: UUID) -> str | None:
    """The access token as the handler will send it; None when this process cannot decrypt it."""
    if not is_encrypted(stored):
        return stored
    try:
        return decrypt_secret(
            Keyring.from_env(), stored, column=SecretColumn.ACCESS_TOKEN, tenant_id=tenant_id
        )
    except (SecretUnreadable, MasterKeyError, ConfigurationError):
        return None


async def history(
    conn: asyncpg.Connection, tenant: ChatTenant, customer: str, limit: int
) -> tuple[ConversationRow, ...]:
    """The customer's last `limit` rows with the tenant, oldest first."""
    return await conversation_turns(conn, tenant.user_id, customer, limit)


async def pause(conn: asyncpg.Connection, tenant: ChatTenant, customer: str) -> ConversationPause | None:
    """The conversation's pause now, if any (a human's reply, or the operator's)."""
    row = await conn.fetchrow(_PAUSE, tenant.user_id, customer)
    return None if row is None else ConversationPause(reason=row["reason"], until=row["until"])


async def reply_statuses(
    conn: asyncpg.Connection, tenant: ChatTenant, wa_message_ids: Sequence[str]
) -> dict[str, str | None]:
    """The stored status of each of the tenant's replies, by WhatsApp message id."""
    rows = await conn.fetch(_REPLY_STATUSES, tenant.user_id, list(wa_message_ids))
    return {row["wa_message_id"]: row["status"] for row in rows}


async def rows_for_message(conn: asyncpg.Connection, tenant: ChatTenant, wa_message_id: str) -> int:
    count: int = await conn.fetchval(_ROWS_FOR_MESSAGE, tenant.user_id, wa_message_id)
    return count


async def customer_message(
    conn: asyncpg.Connection, tenant: ChatTenant, wa_message_id: str
) -> ConversationRow | None:
    """The customer's message as stored (a voice note's transcript, an image's caption)."""
    row = await conn.fetchrow(_CUSTOMER_MESSAGE, tenant.user_id, wa_message_id)
    if row is None:
        return None
    return conversation_row(row)
