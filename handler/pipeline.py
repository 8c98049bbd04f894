"""Answer every message and record every status of one webhook payload: decide, then act.

Per message: claim it in Postgres (tenant, dedupe and history in one statement), ask Groq with
the tenant's key, save the reply, send it with the tenant's token, record what Meta said.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from uuid import UUID

from handler.ai import GroqReplies
from handler.ai import is_retryable as groq_is_retryable
from handler.ai import retry_after as groq_retry_after
from handler.decisions import Action, Decision, decide, stored_content
from handler.errors import GroqError, GroqRejected, WhatsAppRejected
from handler.payload_proof import PayloadProof
from handler.prompt import Turn, build_messages
from handler.reply_split import split_reply
from handler.retry import Deadline, RetryPolicy, with_retries
from handler.store import Claim, ClaimOutcome, ConversationStore, NewMessage, SendResult
from handler.tenants import Tenant, WhatsAppCredentials
from handler.whatsapp import SendOutcomeUnknown, WhatsAppSender
from handler.whatsapp import is_retryable as graph_is_retryable
from shared.logs import mask_phone
from shared.webhook import InboundMessage, WebhookBatch

logger = logging.getLogger("handler")


class Outcome(StrEnum):
    REPLIED = "replied"  # every part of the reply was accepted by Meta
    SEND_FAILED = "send_failed"  # Meta refused the reply (recorded with code and title)
    NOT_SENT = "not_sent"  # saved, but the tenant has no WhatsApp credentials
    IGNORED = "ignored"  # nothing to answer (reaction, system notice)
    DUPLICATE = "duplicate"  # answered before
    IN_PROGRESS = "in_progress"  # another invocation is answering it now
    OUTCOME_UNKNOWN = "outcome_unknown"  # an earlier attempt died during the send
    NO_TENANT = "no_tenant"  # no active tenant for the business number
    NO_GROQ = "no_groq"  # the tenant has no Groq configuration
    REFUSED = "refused"  # not signed with the tenant's own Meta app secret (handler/payload_proof.py)


@dataclass(frozen=True, slots=True, kw_only=True)
class Services:
    """The adapters one answer needs, created once per container."""

    store: ConversationStore
    groq: GroqReplies
    whatsapp: WhatsAppSender
    groq_policy: RetryPolicy
    graph_policy: RetryPolicy


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageResult:
    outcome: Outcome
    reply: str | None = None
    wa_message_ids: tuple[str, ...] = ()


@dataclass(slots=True)
class BatchSummary:
    outcomes: dict[str, int] = field(default_factory=dict)
    statuses_applied: int = 0
    statuses_unmatched: int = 0
    skipped: int = 0

    def count(self, outcome: Outcome) -> None:
        self.outcomes[outcome.value] = self.outcomes.get(outcome.value, 0) + 1

    @property
    def in_progress(self) -> int:
        return self.outcomes.get(Outcome.IN_PROGRESS.value, 0)

    def as_dict(self) -> dict[str, object]:
        return {
            "messages": dict(self.outcomes),
            "statuses_applied": self.statuses_applied,
            "statuses_unmatched": self.statuses_unmatched,
            "skipped": self.skipped,
        }


async def process_batch(
    batch: WebhookBatch, services: Services, deadline: Deadline, *, proof: PayloadProof
) -> BatchSummary:
    """Every message, oldest first, then every status. Messages are answered one after another
    so that a customer's second message sees the reply to the first in its history."""
    summary = BatchSummary(skipped=len(batch.skipped))
    for skipped in batch.skipped:
        logger.info("skipped part of payload", extra={"reason": skipped.reason, "field": skipped.field})
    for message in sorted(batch.messages, key=_sent_order):
        result = await answer_message(message, services, deadline, proof=proof)
        summary.count(result.outcome)
    for status in batch.statuses:
        if await services.store.apply_status(status):
            summary.statuses_applied += 1
        else:
            summary.statuses_unmatched += 1
            logger.info(
                "status for no known reply",
                extra={"wamid": status.message_id, "status": status.status.value},
            )
    return summary


def _sent_order(message: InboundMessage) -> float:
    return message.timestamp.timestamp() if message.timestamp else 0.0


async def answer_message(
    message: InboundMessage, services: Services, deadline: Deadline, *, proof: PayloadProof
) -> MessageResult:
    log_fields = {
        "phone_number_id": message.phone_number_id,
        "wamid": message.id,
        "from": mask_phone(message.customer_phone),
        "type": message.type.value,
    }
    logger.info("processing incoming message", extra=log_fields)
    decision = decide(message)
    new_message = NewMessage(
        phone_number_id=message.phone_number_id,
        customer_phone=message.customer_phone,
        content=stored_content(message),
        wa_message_id=message.id,
        message_type=message.type.value,
        meta_timestamp=message.timestamp,
    )
    started = time.perf_counter()
    claim = await services.store.claim_message(new_message, lease_seconds=max(deadline.remaining(), 1.0))
    logger.info(
        "message claimed",
        extra={**log_fields, "stage": "identify", "claim": claim.outcome.value, "ms": _ms(started)},
    )
    if claim.outcome is ClaimOutcome.NO_TENANT:
        await services.store.record_unidentified(new_message)
        logger.warning("no user found for phone_number_id", extra=log_fields)
        return MessageResult(outcome=Outcome.NO_TENANT)
    if claim.outcome is not ClaimOutcome.CLAIMED:
        return MessageResult(outcome=_UNCLAIMED[claim.outcome])
    assert claim.tenant is not None and claim.inbound_id is not None
    log_fields["tenant"] = str(claim.tenant.user_id)
    if not proof.allows(claim.tenant):
        await services.store.refuse_message(claim.inbound_id, "not signed with the tenant's Meta app secret")
        logger.warning(
            "payload not signed with the tenant's app secret, message refused",
            extra={**log_fields, "proof": proof.kind.value},
        )
        return MessageResult(outcome=Outcome.REFUSED)
    try:
        return await _answer_claimed(message, decision, claim, services, deadline, log_fields)
    except BaseException:
        # Give the message back at once so Lambda's retry can claim it; once the reply is being
        # sent the status is no longer `answering` and this changes nothing (outcome unknown).
        with contextlib.suppress(Exception):
            await services.store.release_claim(claim.inbound_id)
        raise


async def _answer_claimed(
    message: InboundMessage,
    decision: Decision,
    claim: Claim,
    services: Services,
    deadline: Deadline,
    log_fields: dict[str, str],
) -> MessageResult:
    assert claim.tenant is not None and claim.inbound_id is not None
    tenant, inbound_id = claim.tenant, claim.inbound_id
    if decision.action is Action.IGNORE:
        await services.store.finish_message(inbound_id, "answered")
        return MessageResult(outcome=Outcome.IGNORED)
    history = claim.history
    if claim.earlier_pending:
        waited = await wait_for_earlier_messages(claim, services, deadline, log_fields)
        if waited is None:
            await services.store.release_claim(inbound_id)
            return MessageResult(outcome=Outcome.IN_PROGRESS)
        history = waited
    if decision.action is Action.SEND_UNREADABLE_NOTICE:
        reply = tenant.assistant.unsupported_media_text
        failure = None
    else:
        if tenant.groq is None:
            await services.store.finish_message(inbound_id, "failed", error_title="groq not configured")
            logger.error("no Groq configuration found for user", extra=log_fields)
            return MessageResult(outcome=Outcome.NO_GROQ)
        reply, failure = await generate_reply(
            tenant, history, message.text or "", services, deadline, log_fields
        )
    return await deliver_reply(
        tenant, inbound_id, message.customer_phone, reply, failure, services, deadline, log_fields
    )


_WAIT_POLL_SECONDS = 0.1


async def wait_for_earlier_messages(
    claim: Claim, services: Services, deadline: Deadline, log_fields: dict[str, str]
) -> tuple[Turn, ...] | None:
    """Wait (at most half the time left) until the customer's earlier messages are answered;
    return the history as it then is, or None when they are still pending."""
    assert claim.tenant is not None and claim.inbound_id is not None
    give_up_at = Deadline.after(deadline.remaining() / 2)
    started = time.perf_counter()
    while give_up_at.remaining() > 0:
        await asyncio.sleep(min(_WAIT_POLL_SECONDS, give_up_at.remaining()))
        pending, history = await services.store.claim_progress(
            claim.inbound_id, claim.tenant.assistant.history_length
        )
        if not pending:
            logger.info(
                "earlier messages answered, continuing", extra={**log_fields, "waited_ms": _ms(started)}
            )
            return history
    logger.warning("earlier messages still being answered, retrying later", extra=log_fields)
    return None


_UNCLAIMED = {
    ClaimOutcome.ALREADY_HANDLED: Outcome.DUPLICATE,
    ClaimOutcome.IN_PROGRESS: Outcome.IN_PROGRESS,
    ClaimOutcome.OUTCOME_UNKNOWN: Outcome.OUTCOME_UNKNOWN,
}


async def generate_reply(
    tenant: Tenant,
    history: Sequence[Turn],
    text: str,
    services: Services,
    deadline: Deadline,
    log_fields: dict[str, str],
) -> tuple[str, str | None]:
    """The AI's reply, or the tenant's fallback text and the reason Groq could not answer."""
    assert tenant.groq is not None
    groq_config = tenant.groq
    messages = build_messages(tenant.assistant.system_prompt, list(history), text)
    started = time.perf_counter()
    try:
        reply = await with_retries(
            lambda: services.groq.complete(groq_config, messages, time_left=_time_for_groq(deadline)),
            policy=services.groq_policy,
            deadline=deadline,
            is_retryable=groq_is_retryable,
            retry_after=groq_retry_after,
        )
    except GroqError as error:
        kind = "groq rejected" if isinstance(error, GroqRejected) else "groq unavailable"
        logger.error(
            "AI response failed, sending fallback text",
            extra={**log_fields, "stage": "groq", "reason": f"{kind}: {error.reason}", "ms": _ms(started)},
        )
        return tenant.assistant.fallback_text, f"{kind}: {error.reason}"
    logger.info(
        "AI response generated",
        extra={
            **log_fields,
            "stage": "groq",
            "model": groq_config.model,
            "history": len(history),
            "ms": _ms(started),
        },
    )
    return reply, None


async def deliver_reply(
    tenant: Tenant,
    inbound_id: UUID,
    customer_phone: str,
    reply: str,
    failure: str | None,
    services: Services,
    deadline: Deadline,
    log_fields: dict[str, str],
) -> MessageResult:
    parts = split_reply(reply)
    if tenant.whatsapp is None:
        await services.store.record_reply(
            inbound_id,
            parts,
            inbound_status="answered",
            reply_status="not_sent",
            error_title=failure or "whatsapp credentials not configured",
        )
        logger.error("cannot send WhatsApp message, credentials not found", extra=log_fields)
        return MessageResult(outcome=Outcome.NOT_SENT, reply=reply)

    row_ids = await services.store.record_reply(
        inbound_id, parts, inbound_status="sending", reply_status="sending", error_title=failure
    )
    started = time.perf_counter()
    results = await send_parts(tenant, customer_phone, parts, row_ids, services, deadline)
    all_sent = all(result.status == "sent" for result in results)
    first_failure = next((r for r in results if r.status != "sent"), None)
    await services.store.record_send_results(
        inbound_id,
        results,
        inbound_status=_inbound_status(results),
        error_code=first_failure.error_code if first_failure else None,
        # Groq's failure, when there was one, stays the message's story; Graph's is on the reply rows.
        error_title=failure or (first_failure.error_title if first_failure else None),
    )
    sent_ids = tuple(r.wa_message_id for r in results if r.wa_message_id)
    if all_sent:
        logger.info(
            "WhatsApp message sent successfully",
            extra={**log_fields, "stage": "send", "parts": len(parts), "ms": _ms(started)},
        )
        return MessageResult(outcome=Outcome.REPLIED, reply=reply, wa_message_ids=sent_ids)
    logger.error(
        "WhatsApp send failed",
        extra={
            **log_fields,
            "stage": "send",
            "error_code": first_failure.error_code if first_failure else None,
            "error_title": first_failure.error_title if first_failure else None,
            "ms": _ms(started),
        },
    )
    return MessageResult(outcome=Outcome.SEND_FAILED, reply=reply, wa_message_ids=sent_ids)


async def send_parts(
    tenant: Tenant,
    customer_phone: str,
    parts: list[str],
    row_ids: list[UUID],
    services: Services,
    deadline: Deadline,
) -> list[SendResult]:
    """Send the parts in order; after a part fails, the rest are not sent (the order would break)."""
    assert tenant.whatsapp is not None
    credentials = tenant.whatsapp
    results: list[SendResult] = []
    for part, row_id in zip(parts, row_ids, strict=True):
        if results and results[-1].status != "sent":
            results.append(
                SendResult(
                    row_id=row_id, wa_message_id=None, status="not_sent", error_title="an earlier part failed"
                )
            )
            continue
        try:
            message_id = await with_retries(
                partial(_send_one, services.whatsapp, credentials, customer_phone, part, deadline),
                policy=services.graph_policy,
                deadline=deadline,
                is_retryable=graph_is_retryable,
            )
        except WhatsAppRejected as error:
            results.append(
                SendResult(
                    row_id=row_id,
                    wa_message_id=None,
                    status="failed",
                    error_code=error.code,
                    error_title=error.title,
                )
            )
        except SendOutcomeUnknown as error:
            results.append(
                SendResult(
                    row_id=row_id,
                    wa_message_id=None,
                    status="outcome_unknown",
                    error_title=f"no answer from Graph: {error}",
                )
            )
        else:
            results.append(SendResult(row_id=row_id, wa_message_id=message_id, status="sent"))
    return results


# Time kept back from Groq for sending whatever it answers (or the fallback text).
_SEND_RESERVE_SECONDS = 5.0


def _time_for_groq(deadline: Deadline) -> float:
    remaining = deadline.remaining()
    return remaining - min(_SEND_RESERVE_SECONDS, remaining / 2)


async def _send_one(
    sender: WhatsAppSender, credentials: WhatsAppCredentials, to: str, text: str, deadline: Deadline
) -> str:
    return await sender.send_text(credentials, to, text, time_left=deadline.remaining())


def _inbound_status(results: list[SendResult]) -> str:
    statuses = {result.status for result in results}
    if statuses == {"sent"}:
        return "answered"
    return "outcome_unknown" if "outcome_unknown" in statuses else "failed"


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


__all__ = ["BatchSummary", "MessageResult", "Outcome", "Services", "Turn", "answer_message", "process_batch"]
