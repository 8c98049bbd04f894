"""Postgres for the handler: tenant lookup, the per-message claim, replies, send results, statuses.

An inbound WhatsApp text costs three statements: `claim_message` (tenant, dedupe claim and
history in one), `record_reply` (the reply saved before it is sent) and `record_send_results`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import asyncpg

from handler.prompt import Turn
from handler.secrets import SecretOpener, TenantSecrets
from handler.tenants import AssistantSettings, GroqConfig, Tenant, WhatsAppCredentials
from shared.master_keys import Keyring, MasterKeyUnavailable
from shared.web_chat_keys import web_chat_key_matches
from shared.webhook import DeliveryStatus, StatusUpdate

# The assistant settings' column defaults, for a tenant that has no Groq row yet.
_DEFAULT_HISTORY_LENGTH = 10

_TENANT_COLUMNS = """
    {user_id} AS user_id, w.phone_number_id, w.access_token, w.app_secret,
    g.id IS NOT NULL AS has_groq, g.api_key, g.model, g.temperature,
    g.system_prompt, coalesce(g.history_length, 10) AS history_length, g.fallback_text,
    g.unsupported_media_text
"""
_LATEST_GROQ = """
    LEFT JOIN LATERAL (
        SELECT * FROM user_groq_config AS g
        WHERE g.user_id = w.user_id
        ORDER BY g.updated_at DESC NULLS LAST, g.id
        LIMIT 1
    ) AS g ON true
"""

# migrations/003_claim_function.sql: tenant, lock, dedupe claim, ordering and history in one call.
CLAIM_MESSAGE = "SELECT * FROM claim_inbound_message($1, $2, $3, $4, $5, $6, $7)"
CLAIM_PROGRESS = "SELECT * FROM claim_progress($1, $2)"

RECORD_WEB_MESSAGE = """
WITH inserted AS (
    INSERT INTO customer_conversations
        (user_id, phone_number, content, sender, source, message_type, status)
    VALUES ($1, $2, $3, 'user', 'web', 'text', 'answering')
    RETURNING id
),
history AS (
    SELECT sender, content, created_at, id
    FROM customer_conversations
    WHERE user_id = $1 AND phone_number = $2 AND content IS NOT NULL AND sender IN ('user', 'bot')
    ORDER BY created_at DESC, id DESC
    LIMIT $4
)
SELECT (SELECT id FROM inserted) AS inbound_id,
       (SELECT coalesce(json_agg(json_build_object('sender', sender, 'content', content)
                                 ORDER BY created_at, sender DESC), '[]')
        FROM history) AS history
"""

RECORD_UNIDENTIFIED = """
INSERT INTO customer_conversations
    (user_id, phone_number, content, sender, source, wa_message_id, business_phone_number_id,
     message_type, meta_timestamp, status, error_title)
VALUES (NULL, $2, $3, 'user', 'whatsapp', $4, $1, $5, $6, 'failed', 'tenant not configured')
ON CONFLICT (user_id, wa_message_id) WHERE wa_message_id IS NOT NULL DO NOTHING
"""

RECORD_REPLY = """
WITH inbound AS (
    UPDATE customer_conversations
    SET status = $2, error_title = coalesce($5, error_title), updated_at = now()
    WHERE id = $1
    RETURNING user_id, phone_number, source, business_phone_number_id
)
INSERT INTO customer_conversations
    (id, user_id, phone_number, content, sender, source, business_phone_number_id, reply_to,
     status, error_title)
SELECT part.id, inbound.user_id, inbound.phone_number, part.content, 'bot', inbound.source,
       inbound.business_phone_number_id, $1, $6, $7
FROM inbound, unnest($3::uuid[], $4::text[]) AS part(id, content)
"""

RECORD_SEND_RESULTS = """
WITH results AS (
    SELECT * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[], $6::text[])
        AS r(id, wa_message_id, status, error_code, error_title)
),
bot AS (
    UPDATE customer_conversations AS c
    SET wa_message_id = r.wa_message_id, status = r.status, error_code = r.error_code,
        error_title = r.error_title, updated_at = now()
    FROM results AS r
    WHERE c.id = r.id
)
UPDATE customer_conversations
SET status = $7, error_code = $8, error_title = coalesce($9, error_title),
    lease_expires_at = NULL, updated_at = now()
WHERE id = $1
"""

RELEASE_CLAIM = """
UPDATE customer_conversations
SET status = 'received', lease_expires_at = now(), updated_at = now()
WHERE id = $1 AND status = 'answering'
"""

# A message refused before any work: kept as a failed row for the record, without its content
# (it must not enter the tenant's conversation history).
REFUSE_MESSAGE = """
UPDATE customer_conversations
SET status = 'failed', content = NULL, error_title = $2, lease_expires_at = NULL, updated_at = now()
WHERE id = $1
"""

FINISH_MESSAGE = """
UPDATE customer_conversations
SET status = $2, error_code = $3, error_title = $4, lease_expires_at = NULL, updated_at = now()
WHERE id = $1
"""

# Statuses arrive out of order (read before delivered); only a later stage overwrites.
APPLY_STATUS = """
UPDATE customer_conversations AS c
SET status = $3, error_code = $4, error_title = $5, updated_at = now()
FROM user_whatsapp_config AS w
WHERE w.phone_number_id = $1 AND w.is_active
  AND c.user_id = w.user_id AND c.wa_message_id = $2 AND c.sender = 'bot'
  AND coalesce(array_position(ARRAY['sending', 'sent', 'delivered', 'read', 'failed'], c.status), 0)
      < array_position(ARRAY['sending', 'sent', 'delivered', 'read', 'failed'], $3)
RETURNING c.id
"""

FIND_TENANT_BY_USER_ID = f"""
SELECT {_TENANT_COLUMNS.format(user_id="u.id")},
       (SELECT k.key_hash FROM web_chat_keys AS k WHERE k.user_id = u.id) AS web_chat_key_hash
FROM auth.users AS u
LEFT JOIN user_whatsapp_config AS w ON w.user_id = u.id AND w.is_active
{_LATEST_GROQ.replace("w.user_id", "u.id")}
WHERE u.id = $1
"""

# The seed's fallback when a request names no business number: the tenant the customer last wrote to.
FIND_TENANT_BY_CUSTOMER = f"""
SELECT {_TENANT_COLUMNS.format(user_id="w.user_id")}
FROM (
    SELECT user_id FROM customer_conversations
    WHERE phone_number = $1 AND user_id IS NOT NULL
    ORDER BY created_at DESC LIMIT 1
) AS last
JOIN user_whatsapp_config AS w ON w.user_id = last.user_id AND w.is_active
{_LATEST_GROQ}
"""


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"  # ours to answer (first attempt, or resuming after a crash)
    ALREADY_HANDLED = "already_handled"  # a duplicate of a message answered (or given up) before
    IN_PROGRESS = "in_progress"  # another invocation holds the lease right now
    OUTCOME_UNKNOWN = "outcome_unknown"  # a crash during the send: it may have reached the customer
    NO_TENANT = "no_tenant"  # no active tenant has this business number


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    outcome: ClaimOutcome
    tenant: Tenant | None = None
    inbound_id: UUID | None = None
    attempts: int = 0
    earlier_pending: int = 0  # earlier messages of this customer still being answered elsewhere
    history: tuple[Turn, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NewMessage:
    """An inbound message as it is recorded."""

    phone_number_id: str
    customer_phone: str
    content: str
    wa_message_id: str
    message_type: str
    meta_timestamp: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SendResult:
    """What the Graph API said about one part of a reply."""

    row_id: UUID
    wa_message_id: str | None
    status: str  # sent | failed | outcome_unknown
    error_code: int | None = None
    error_title: str | None = None


def tenant_from_row(row: asyncpg.Record | dict[str, Any], secrets: TenantSecrets) -> Tenant | None:
    """The tenant a row describes, with `secrets` decrypted from the row's secret columns."""
    if row["user_id"] is None:
        return None
    whatsapp = None
    if row["phone_number_id"] is not None and secrets.access_token:
        whatsapp = WhatsAppCredentials(
            phone_number_id=row["phone_number_id"],
            access_token=secrets.access_token,
            app_secret=secrets.app_secret or None,
        )
    groq = None
    if row["has_groq"] and secrets.groq_api_key:
        groq = GroqConfig(
            api_key=secrets.groq_api_key,
            model=row["model"] or "llama-3.3-70b-versatile",
            temperature=float(row["temperature"] if row["temperature"] is not None else 0.7),
        )
    assistant = AssistantSettings(
        system_prompt=row["system_prompt"] or "",
        history_length=row["history_length"]
        if row["history_length"] is not None
        else _DEFAULT_HISTORY_LENGTH,
        fallback_text=row["fallback_text"] or "",
        unsupported_media_text=row["unsupported_media_text"] or "",
    )
    return Tenant(user_id=row["user_id"], whatsapp=whatsapp, groq=groq, assistant=assistant)


def _history(raw: str | None) -> tuple[Turn, ...]:
    return tuple(Turn(sender=item["sender"], content=item["content"]) for item in json.loads(raw or "[]"))


def _claim_outcome(row: asyncpg.Record) -> ClaimOutcome:
    if row["inbound_id"] is not None:
        if row["claim_status"] == "outcome_unknown":
            return ClaimOutcome.OUTCOME_UNKNOWN
        return ClaimOutcome.CLAIMED
    # Not claimed: a finished message, a live lease, or a row another invocation inserted just now.
    if row["existing_status"] is None or row["existing_leased"]:
        return ClaimOutcome.IN_PROGRESS
    return ClaimOutcome.ALREADY_HANDLED


class ConversationStore:
    """The handler's statements, each one round trip on a pooled connection."""

    def __init__(self, pool: asyncpg.Pool, secrets: SecretOpener | None = None) -> None:
        self._pool = pool
        self._secrets = SecretOpener(Keyring.from_env()) if secrets is None else secrets

    async def _tenant(self, row: asyncpg.Record) -> Tenant | None:
        """The row as a `Tenant`: its secret columns are decrypted here, and nowhere else."""
        if row["user_id"] is None:
            return None
        secrets = await self._secrets.open(
            row["user_id"],
            access_token=row["access_token"],
            app_secret=row["app_secret"],
            groq_api_key=row["api_key"],
        )
        return tenant_from_row(row, secrets)

    async def claim_message(self, message: NewMessage, *, lease_seconds: float) -> Claim:
        row = await self._pool.fetchrow(
            CLAIM_MESSAGE,
            message.phone_number_id,
            message.customer_phone,
            message.content,
            message.wa_message_id,
            message.message_type,
            message.meta_timestamp,
            lease_seconds,
        )
        if row is None:
            return Claim(outcome=ClaimOutcome.NO_TENANT)
        try:
            tenant = await self._tenant(row)
        except MasterKeyUnavailable:
            if row["inbound_id"] is not None:  # give the message back so a retry can claim it
                await self.release_claim(row["inbound_id"])
            raise
        return Claim(
            outcome=_claim_outcome(row),
            tenant=tenant,
            inbound_id=row["inbound_id"],
            attempts=row["attempts"] or 0,
            earlier_pending=row["earlier_pending"] or 0,
            history=_history(row["history"]),
        )

    async def claim_progress(self, inbound_id: UUID, history_length: int) -> tuple[int, tuple[Turn, ...]]:
        """While waiting for earlier messages: how many are still pending, and the history now."""
        row = await self._pool.fetchrow(CLAIM_PROGRESS, inbound_id, history_length)
        if row is None:
            return 0, ()
        return row["earlier_pending"], _history(row["history"])

    async def release_claim(self, inbound_id: UUID) -> None:
        """Give the message back (lease ended now) so that a retry can claim it at once."""
        await self._pool.execute(RELEASE_CLAIM, inbound_id)

    async def record_web_message(
        self, tenant: Tenant, conversation_key: str, text: str
    ) -> tuple[UUID, tuple[Turn, ...]]:
        """Save a web chat message; return its id and the conversation before it."""
        row = await self._pool.fetchrow(
            RECORD_WEB_MESSAGE, tenant.user_id, conversation_key, text, tenant.assistant.history_length
        )
        assert row is not None
        return row["inbound_id"], _history(row["history"])

    async def record_unidentified(self, message: NewMessage) -> None:
        await self._pool.execute(
            RECORD_UNIDENTIFIED,
            message.phone_number_id,
            message.customer_phone,
            message.content,
            message.wa_message_id,
            message.message_type,
            message.meta_timestamp,
        )

    async def record_reply(
        self,
        inbound_id: UUID,
        parts: Sequence[str],
        *,
        inbound_status: str,
        reply_status: str,
        error_title: str | None = None,
    ) -> list[UUID]:
        """Save the reply (one row per WhatsApp message) before it is sent; return the rows' ids."""
        row_ids = [uuid.uuid4() for _ in parts]
        await self._pool.execute(
            RECORD_REPLY,
            inbound_id,
            inbound_status,
            row_ids,
            list(parts),
            error_title,
            reply_status,
            error_title,
        )
        return row_ids

    async def record_send_results(
        self,
        inbound_id: UUID,
        results: Sequence[SendResult],
        *,
        inbound_status: str,
        error_code: int | None = None,
        error_title: str | None = None,
    ) -> None:
        await self._pool.execute(
            RECORD_SEND_RESULTS,
            inbound_id,
            [r.row_id for r in results],
            [r.wa_message_id for r in results],
            [r.status for r in results],
            [r.error_code for r in results],
            [r.error_title for r in results],
            inbound_status,
            error_code,
            error_title,
        )

    async def refuse_message(self, inbound_id: UUID, reason: str) -> None:
        await self._pool.execute(REFUSE_MESSAGE, inbound_id, reason)

    async def finish_message(
        self, inbound_id: UUID, status: str, *, error_code: int | None = None, error_title: str | None = None
    ) -> None:
        await self._pool.execute(FINISH_MESSAGE, inbound_id, status, error_code, error_title)

    async def apply_status(self, update: StatusUpdate) -> bool:
        """Record a delivery status on the reply it names; False when no reply matched."""
        if update.status in (DeliveryStatus.UNKNOWN, DeliveryStatus.DELETED):
            return False
        error = update.errors[0] if update.errors else None
        row = await self._pool.fetchrow(
            APPLY_STATUS,
            update.phone_number_id,
            update.message_id,
            update.status.value,
            error.code if error else None,
            error.title if error else None,
        )
        return row is not None

    async def find_tenant_by_user_id(self, user_id: UUID) -> Tenant | None:
        row = await self._pool.fetchrow(FIND_TENANT_BY_USER_ID, user_id)
        return await self._tenant(row) if row is not None else None

    async def find_web_chat_tenant(
        self, user_id: UUID, web_chat_key: str | None
    ) -> tuple[bool, Tenant | None]:
        """(key accepted, tenant): the tenant only when `web_chat_key` is its key; no secret is
        decrypted for a refused key, and an unknown tenant looks the same as a wrong key."""
        row = await self._pool.fetchrow(FIND_TENANT_BY_USER_ID, user_id)
        if row is None or not web_chat_key_matches(user_id, web_chat_key, row["web_chat_key_hash"]):
            return False, None
        return True, await self._tenant(row)

    async def find_tenant_by_customer(self, customer_phone: str) -> Tenant | None:
        row = await self._pool.fetchrow(FIND_TENANT_BY_CUSTOMER, customer_phone)
        return await self._tenant(row) if row is not None else None
