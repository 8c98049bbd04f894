"""Postgres for the handler: tenant lookup, the per-message claim, replies, send results, statuses.

An inbound WhatsApp text costs three statements: `claim_message` (tenant, dedupe claim and
history in one), `record_reply` (the reply saved before it is sent) and `record_send_results`.
A voice note or image costs one more, `record_media_outcome` (the transcript, or why not).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import asyncpg

from handler.adapters import sql
from handler.adapters.handover_store import HandoverStore, controls_from_json
from handler.adapters.tenant_secrets import SecretOpener, TenantSecrets
from handler.errors import DatabaseUnavailable, UnstorableValue, describe_failure
from handler.model import (
    AssistantSettings,
    Claim,
    ClaimOutcome,
    GroqConfig,
    HandoverSettings,
    MediaOutcome,
    MessageStatus,
    NewMessage,
    ReplyStatus,
    SendResult,
    StatusApplied,
    StatusWrite,
    Tenant,
    Turn,
    WhatsAppCredentials,
)
from providers.groq_models import DEFAULT_CHAT_MODEL
from shared.webhook import StatusUpdate
from tenant_secrets.master_keys import MasterKeyUnavailable
from tenant_secrets.secrets_crypto import SecretColumn, SecretUnreadable
from tenant_secrets.web_chat_keys import web_chat_key_matches


def tenant_from_settings(settings: Mapping[str, Any], secrets: TenantSecrets) -> Tenant:
    """The tenant a `tenant_settings` row describes, with `secrets` decrypted from its secret columns."""
    whatsapp = None
    if settings["phone_number_id"] is not None and secrets.access_token:
        whatsapp = WhatsAppCredentials(
            phone_number_id=settings["phone_number_id"],
            access_token=secrets.access_token,
            app_secret=secrets.app_secret or None,
            graph_api_version=settings.get("graph_api_version"),
            app_secret_unreadable=SecretColumn.APP_SECRET in secrets.unreadable,
        )
    groq = None
    if settings["has_groq"] and secrets.groq_api_key:
        groq = GroqConfig(
            api_key=secrets.groq_api_key,
            model=settings["model"] or DEFAULT_CHAT_MODEL,
            temperature=float(settings["temperature"] if settings["temperature"] is not None else 0.7),
            vision_model=settings.get("vision_model") or None,
            transcription_model=settings.get("transcription_model") or None,
            transcription_language=settings.get("transcription_language") or None,
        )
    assistant = AssistantSettings(
        system_prompt=settings["system_prompt"] or "",
        history_length=settings["history_length"],
        fallback_text=settings["fallback_text"] or "",
        unsupported_media_text=settings["unsupported_media_text"] or "",
        typing_indicator=bool(settings.get("typing_indicator", True)),
    )
    return Tenant(
        user_id=UUID(str(settings["user_id"])),
        whatsapp=whatsapp,
        groq=groq,
        assistant=assistant,
        handover=_handover(settings),
    )


def _handover(settings: Mapping[str, Any]) -> HandoverSettings:
    """The tenant's handover settings (migrations/011's columns of tenant_settings; their defaults
    where a row predates them)."""
    defaults = HandoverSettings()
    return HandoverSettings(
        bot_paused=bool(settings.get("bot_paused", False)),
        human_pause_seconds=int(settings.get("human_pause_seconds", defaults.human_pause_seconds)),
        languages=tuple(settings.get("opt_out_languages") or defaults.languages),
        stop_words=tuple(settings.get("stop_words") or ()),
        start_words=tuple(settings.get("start_words") or ()),
        opt_out_text=settings.get("opt_out_text") or None,
        opt_in_text=settings.get("opt_in_text") or None,
    )


def _history(raw: str | None) -> tuple[Turn, ...]:
    return tuple(Turn(sender=item["sender"], content=item["content"]) for item in json.loads(raw or "[]"))


def _claim_outcome(row: asyncpg.Record) -> ClaimOutcome:
    if row["inbound_id"] is not None:
        if row["claim_status"] == MessageStatus.OUTCOME_UNKNOWN:
            return ClaimOutcome.OUTCOME_UNKNOWN
        if row["claim_status"] == MessageStatus.RESENDING:
            return ClaimOutcome.RESEND
        return ClaimOutcome.CLAIMED
    # Not claimed: a finished message, a live lease, or a row another invocation inserted just now.
    if row["existing_status"] is None or row["existing_leased"]:
        return ClaimOutcome.IN_PROGRESS
    return ClaimOutcome.ALREADY_HANDLED


# Errors that say a value cannot be stored (NUL, a lone surrogate, an index entry too big): the
# same statement with the same values will never succeed, so they are not worth a retry.
_UNSTORABLE = (asyncpg.exceptions.DataError, asyncpg.exceptions.ProgramLimitExceededError)
# Errors that say the server cannot be used now (down, restarting, out of connections, the
# connection lost): another attempt later may succeed.
_UNAVAILABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    OSError,
    TimeoutError,
)


@contextmanager
def database_errors() -> Iterator[None]:
    """Postgres's failures in our families: `UnstorableValue` (whose text, unlike asyncpg's, never
    quotes the value) and `DatabaseUnavailable`; any other Postgres error goes as it is."""
    try:
        yield
    except _UNSTORABLE as error:
        raise UnstorableValue(describe_failure(error)) from None
    except _UNAVAILABLE as error:
        raise DatabaseUnavailable(describe_failure(error)) from None


class _Statements:
    """The pool, its failures raised into our families (`database_errors`)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def fetchrow(self, query: str, *args: object) -> asyncpg.Record | None:
        with database_errors():
            return await self._pool.fetchrow(query, *args)

    async def fetch(self, query: str, *args: object) -> list[asyncpg.Record]:
        with database_errors():
            return await self._pool.fetch(query, *args)

    async def fetchval(self, query: str, *args: object) -> object:
        with database_errors():
            return await self._pool.fetchval(query, *args)

    async def execute(self, query: str, *args: object) -> str:
        with database_errors():
            return await self._pool.execute(query, *args)


class ConversationStore:
    """The handler's statements, each one round trip on a pooled connection."""

    def __init__(self, pool: asyncpg.Pool, secrets: SecretOpener) -> None:
        self._pool = _Statements(pool)
        self._secrets = secrets
        self.handover = HandoverStore(self._pool, self._tenant)  # migrations/011's statements

    async def _tenant(self, settings_json: str | None) -> Tenant | None:
        """A `tenant_settings` row (JSON) as a `Tenant`: its secret columns are decrypted here, and
        nowhere else."""
        if settings_json is None:
            return None
        settings = json.loads(settings_json)
        tenant_id = UUID(settings["user_id"])
        secrets = await self._secrets.open(
            tenant_id,
            access_token=settings["access_token"],
            app_secret=settings["app_secret"],
            groq_api_key=settings["api_key"],
        )
        return tenant_from_settings(settings, secrets)

    async def claim_message(
        self,
        message: NewMessage,
        *,
        lease_seconds: float,
        request_id: str | None = None,
        order_window_seconds: float = 360.0,
        takeover_after_seconds: float = 30.0,
    ) -> Claim:
        """Claim the message; `request_id` (Lambda's, stable across an event's retries) makes
        `Claim.attempts` this event's attempts, so other events' claims do not count, and lets a
        retry take over the lease its own failed attempt left (once `takeover_after_seconds` have
        passed since the message last moved); `order_window_seconds`: how recent an unfinished
        earlier message must be to hold this one."""
        row = await self._pool.fetchrow(
            sql.CLAIM_MESSAGE,
            *message.parameters(),
            lease_seconds,
            request_id,
            order_window_seconds,
            takeover_after_seconds,
        )
        if row is None:
            return Claim(outcome=ClaimOutcome.NO_TENANT)
        try:
            tenant = await self._tenant(row["tenant"])
        except MasterKeyUnavailable:
            if row["inbound_id"] is not None:  # give the message back so a retry can claim it
                await self.release_claim(row["inbound_id"])
            raise
        return Claim(
            outcome=_claim_outcome(row),
            tenant=tenant,
            inbound_id=row["inbound_id"],
            attempts=row["attempts"] or 0,
            customer_key=row["customer_key"],
            earlier_pending=row["earlier_pending"] or 0,
            earlier_waiting=row["earlier_waiting"] or 0,
            history=_history(row["history"]),
            controls=controls_from_json(row["controls"]),
        )

    async def claim_progress(
        self, inbound_id: UUID, history_length: int, *, order_window_seconds: float = 360.0
    ) -> tuple[int, int, tuple[Turn, ...]]:
        """While waiting for earlier messages: how many are being answered, how many wait for a
        retry, and the history now."""
        row = await self._pool.fetchrow(sql.CLAIM_PROGRESS, inbound_id, history_length, order_window_seconds)
        if row is None:
            return 0, 0, ()
        return row["earlier_pending"], row["earlier_waiting"], _history(row["history"])

    async def release_claim(self, inbound_id: UUID) -> None:
        """Give the message back (lease ended now) so that a retry can claim it at once."""
        await self._pool.execute(sql.RELEASE_CLAIM, inbound_id)

    async def record_web_message(
        self, tenant: Tenant, conversation_key: str, text: str
    ) -> tuple[UUID, tuple[Turn, ...]]:
        """Save a web chat message; return its id and the conversation before it."""
        row = await self._pool.fetchrow(
            sql.RECORD_WEB_MESSAGE, tenant.user_id, conversation_key, text, tenant.assistant.history_length
        )
        assert row is not None
        return row["inbound_id"], _history(row["history"])

    async def record_unidentified(self, message: NewMessage) -> None:
        await self._pool.execute(sql.RECORD_UNIDENTIFIED, *message.parameters())

    async def parts_to_resend(self, inbound_id: UUID) -> list[tuple[UUID, str]]:
        """The recorded parts of the message's reply that Meta has not accepted yet, in order."""
        rows = await self._pool.fetch(sql.PARTS_TO_RESEND, inbound_id)
        return [(row["id"], row["content"]) for row in rows]

    async def record_reply(
        self,
        inbound_id: UUID,
        parts: Sequence[str],
        *,
        inbound_status: MessageStatus,
        reply_status: ReplyStatus,
        error_title: str | None = None,
    ) -> list[UUID]:
        """Save the reply (one row per WhatsApp message) before it is sent; return the rows' ids."""
        row_ids = [uuid.uuid4() for _ in parts]
        await self._pool.execute(
            sql.RECORD_REPLY,
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
        inbound_status: MessageStatus,
        error_code: int | None = None,
        error_title: str | None = None,
    ) -> None:
        await self._pool.execute(
            sql.RECORD_SEND_RESULTS,
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

    async def record_media_outcome(
        self,
        inbound_id: UUID,
        outcome: MediaOutcome,
        *,
        content: str | None = None,
        reason: str | None = None,
    ) -> None:
        """What became of a voice note or image: `content` (a transcript) replaces its marker in the
        conversation log; `reason`: why it was not understood."""
        await self._pool.execute(sql.RECORD_MEDIA_OUTCOME, inbound_id, outcome, content, reason)

    async def refuse_message(self, inbound_id: UUID, reason: str) -> None:
        await self._pool.execute(sql.REFUSE_MESSAGE, inbound_id, reason)

    async def finish_message(
        self,
        inbound_id: UUID,
        status: MessageStatus,
        *,
        error_code: int | None = None,
        error_title: str | None = None,
    ) -> None:
        await self._pool.execute(sql.FINISH_MESSAGE, inbound_id, status, error_code, error_title)

    async def apply_status(self, update: StatusUpdate, *, vouched: bool = False) -> StatusWrite:
        """Record a delivery status on the reply it names, if it moves the reply forward. A reply of
        a tenant with its own Meta app secret is written only when the caller vouches that the
        payload is proven for that app; otherwise nothing is written and the secret comes back
        (decrypted) for the caller to check."""
        row = await self._apply_status(update, vouched=vouched)
        if row is None:
            return StatusWrite(applied=StatusApplied.UNKNOWN)
        if row["applied"]:
            return StatusWrite(applied=StatusApplied.APPLIED)
        if row["app_secret"] is None or vouched:
            return StatusWrite(applied=StatusApplied.STALE)
        try:
            app_secret = await self._secrets.reveal_strict(
                row["app_secret"], SecretColumn.APP_SECRET, row["user_id"]
            )
        except SecretUnreadable:
            return StatusWrite(applied=StatusApplied.UNKNOWN, app_secret_unreadable=True)
        return StatusWrite(applied=StatusApplied.UNKNOWN, needs_proof_for=app_secret)

    async def _apply_status(self, update: StatusUpdate, *, vouched: bool) -> asyncpg.Record | None:
        error = update.errors[0] if update.errors else None
        return await self._pool.fetchrow(
            sql.APPLY_STATUS,
            update.phone_number_id,
            update.message_id,
            update.status.value,
            error.code if error else None,
            error.title if error else None,
            vouched,
        )

    async def find_web_chat_tenant(
        self, user_id: UUID, web_chat_key: str | None
    ) -> tuple[bool, Tenant | None]:
        """(key accepted, tenant): the tenant only when `web_chat_key` is its key; no secret is
        decrypted for a refused key, and an unknown tenant looks the same as a wrong key."""
        row = await self._pool.fetchrow(sql.FIND_TENANT_BY_USER_ID, user_id)
        if row is None or not web_chat_key_matches(user_id, web_chat_key, row["web_chat_key_hash"]):
            return False, None
        return True, await self._tenant(row["tenant"])

    async def find_tenant_by_customer(self, customer_phone: str) -> Tenant | None:
        row = await self._pool.fetchrow(sql.FIND_TENANT_BY_CUSTOMER, customer_phone)
        return await self._tenant(row["tenant"]) if row is not None else None

    async def ping(self) -> None:
        """One round trip: `DatabaseUnavailable` when Postgres cannot answer."""
        await self._pool.fetchval("SELECT 1")

    async def record_model_substitution(
        self, tenant: Tenant, *, requested: str, substitute: str, reason: str
    ) -> None:
        """Groq refused the tenant's model and `substitute` answered: `wa-admin check` shows it."""
        await self._pool.execute(sql.RECORD_MODEL_SUBSTITUTION, tenant.user_id, requested, substitute, reason)
