"""Answer every message and record every status of one webhook payload: decide, then act.

Per message: claim it in Postgres (tenant, dedupe and history in one statement), ask Groq with
the tenant's key, save the reply, send it with the tenant's token, record what Meta said.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from handler.decisions import Action, Decision, decide, stored_content
from handler.errors import UnstorableValue
from handler.outcomes import BatchSummary, MessageResult, Outcome, Services
from handler.payload_proof import PayloadProof, ProofKind
from handler.prompt import Turn
from handler.replies import deliver_reply, finish_typing_indicator, generate_reply, start_typing_indicator
from handler.retry import Deadline
from handler.store import Claim, ClaimOutcome, NewMessage
from handler.whatsapp import Recipient
from shared.logs import mask_phone, ms_since
from shared.webhook import InboundMessage, WebhookBatch

logger = logging.getLogger("handler")


async def process_batch(
    batch: WebhookBatch, services: Services, deadline: Deadline, *, proof: PayloadProof
) -> BatchSummary:
    """Every message, oldest first, then every status. Messages are answered one after another
    so that a customer's second message sees the reply to the first in its history."""
    summary = BatchSummary(skipped=len(batch.skipped))
    for skipped in batch.skipped:
        logger.info("skipped part of payload", extra={"reason": skipped.reason, "field": skipped.field})
    for message in sorted(batch.messages, key=_sent_order):
        try:
            result = await answer_message(message, services, deadline, proof=proof)
        except UnstorableValue as error:
            # Nothing was claimed: it will never be storable, so it is refused here, not retried.
            logger.error(
                "message refused: a value cannot be stored",
                extra={"wamid": message.id, "phone_number_id": message.phone_number_id, "reason": str(error)},
            )
            result = MessageResult(outcome=Outcome.INVALID)
        summary.count(result.outcome)
    for status in batch.statuses:
        try:
            applied = await services.store.apply_status(status, proof)
        except UnstorableValue as error:
            logger.error("status refused: a value cannot be stored", extra={"reason": str(error)})
            applied = False
        if applied:
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
        "from": mask_phone(message.customer_id),
        "type": message.type.value,
    }
    logger.info("processing incoming message", extra=log_fields)
    decision = decide(message)
    new_message = NewMessage(
        phone_number_id=message.phone_number_id,
        customer_phone=message.customer_phone,
        customer_user_id=message.customer_user_id,
        content=stored_content(message),
        wa_message_id=message.id,
        message_type=message.type.value,
        meta_timestamp=message.timestamp,
    )
    started = time.perf_counter()
    claim = await services.store.claim_message(new_message, lease_seconds=max(deadline.remaining(), 1.0))
    logger.info(
        "message claimed",
        extra={**log_fields, "stage": "identify", "claim": claim.outcome.value, "ms": ms_since(started)},
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
        return await _answer_claimed(message, decision, claim, services, deadline, log_fields, proof)
    except UnstorableValue as error:
        reason = f"a value cannot be stored: {error}"
        logger.error("message failed: a value cannot be stored", extra={**log_fields, "reason": str(error)})
        await services.store.finish_message(claim.inbound_id, "failed", error_title=reason)
        return MessageResult(outcome=Outcome.INVALID)
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
    proof: PayloadProof,
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
    if decision.action is Action.ASK_AI and tenant.groq is None:
        await services.store.finish_message(inbound_id, "failed", error_title="groq not configured")
        logger.error("no Groq configuration found for user", extra=log_fields)
        return MessageResult(outcome=Outcome.NO_GROQ)
    # A real WhatsApp message that will be answered: blue ticks and "typing…" while Groq thinks.
    typing = (
        start_typing_indicator(tenant, message.id, services, log_fields)
        if proof.kind is not ProofKind.SEED_RELAY
        else None
    )
    try:
        if decision.action is Action.SEND_UNREADABLE_NOTICE:
            reply, failure = tenant.assistant.unsupported_media_text, None
        else:
            reply, failure = await generate_reply(
                tenant, history, message.text or "", services, deadline, log_fields
            )
    finally:
        if typing is not None:
            await finish_typing_indicator(typing)
    recipient = Recipient(phone=message.customer_phone, user_id=message.customer_user_id)
    return await deliver_reply(tenant, inbound_id, recipient, reply, failure, services, deadline, log_fields)


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
                "earlier messages answered, continuing", extra={**log_fields, "waited_ms": ms_since(started)}
            )
            return history
    logger.warning("earlier messages still being answered, retrying later", extra=log_fields)
    return None


_UNCLAIMED = {
    ClaimOutcome.ALREADY_HANDLED: Outcome.DUPLICATE,
    ClaimOutcome.IN_PROGRESS: Outcome.IN_PROGRESS,
    ClaimOutcome.OUTCOME_UNKNOWN: Outcome.OUTCOME_UNKNOWN,
}
