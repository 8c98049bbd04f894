"""Answer every message and record every status of one webhook payload.

Every message is claimed first, oldest first, before any is answered: a later message of the same
customer arriving in another webhook then waits its turn behind these. Then each claimed message is
answered in that order (tenant, dedupe and history come with the claim), and every status applied.

A passing failure (Groq or Graph down longer than this invocation can wait) leaves its message for
Lambda's retry when one remains (outcome `retry_later`: the summary asks the caller to retry), and
that customer's later messages of the payload wait for it too; the others are answered meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from handler.conversation.decide import (
    Action,
    decide,
    is_reportable,
    proof_allows,
    proof_allows_secret,
    stored_content,
)
from handler.conversation.deliver import (
    deliver_reply,
    finish_typing_indicator,
    generate_reply,
    resend_reply,
    start_typing_indicator,
)
from handler.conversation.services import Services
from handler.errors import GroqUnavailable, UnstorableValue
from handler.model import (
    BatchSummary,
    Claim,
    ClaimOutcome,
    Deadline,
    LambdaEvent,
    MessageResult,
    MessageStatus,
    NewMessage,
    Outcome,
    PayloadProof,
    ProofKind,
    Recipient,
    StatusApplied,
    Turn,
)
from shared.logs import mask_phone, ms_since
from shared.webhook import InboundMessage, StatusUpdate, WebhookBatch

logger = logging.getLogger("handler")


@dataclass(slots=True)
class ClaimedMessage:
    """A message this invocation holds the lease of, waiting for its turn to be answered."""

    message: InboundMessage
    claim: Claim
    log_fields: dict[str, str] = field(default_factory=dict)
    done: bool = False


async def process_batch(
    batch: WebhookBatch,
    services: Services,
    deadline: Deadline,
    *,
    proof: PayloadProof,
    may_retry: bool,
    event: LambdaEvent | None = None,
) -> BatchSummary:
    """Every message, then every status. `may_retry`: a failed invocation is tried again (Lambda's
    asynchronous retries, or Meta's for an HTTP answer), so a passing failure may wait for it;
    `event`: which Lambda event this is (its attempts are told apart by it)."""
    event = event or LambdaEvent()
    attempt_by_time = event.attempt_by_time(services.retry_delays)
    summary = BatchSummary(skipped=len(batch.skipped))
    for skipped in batch.skipped:
        logger.info("skipped part of payload", extra={"reason": skipped.reason, "field": skipped.field})
    claimed: list[ClaimedMessage] = []
    try:
        for message in sorted(batch.messages, key=_sent_order):
            held = await _claim_or_result(message, services, deadline, event.request_id)
            if isinstance(held, MessageResult):
                summary.count(held.outcome)
            else:
                claimed.append(held)
        answered: set[str] = set()  # customers with a message answered earlier in this payload
        waiting: set[str] = set()  # customers with a message left for a retry: their later ones wait
        for item in claimed:
            customer = item.claim.customer_key
            if customer in waiting and _retries_remain(item.claim, services, may_retry, attempt_by_time):
                await _give_back(item, services)
                summary.count(Outcome.RETRY_LATER)
                continue
            result = await answer_claimed(
                item,
                services,
                deadline,
                proof=proof,
                may_retry=may_retry,
                refresh_history=customer in answered,
                attempt_by_time=attempt_by_time,
            )
            summary.count(result.outcome)
            answered.add(customer)
            if result.outcome is Outcome.RETRY_LATER:
                waiting.add(customer)
    finally:
        for item in claimed:
            if not item.done:  # an error stopped the batch: give the rest back for the retry
                with contextlib.suppress(Exception):
                    await _give_back(item, services)
    for status in batch.statuses:
        await _apply_status(status, services, proof, summary)
    return summary


async def answer_message(
    message: InboundMessage, services: Services, deadline: Deadline, *, proof: PayloadProof, may_retry: bool
) -> MessageResult:
    """One message alone (a seed relay): claimed, then answered."""
    held = await _claim_or_result(message, services, deadline, None)
    if isinstance(held, MessageResult):
        return held
    try:
        return await answer_claimed(
            held, services, deadline, proof=proof, may_retry=may_retry, attempt_by_time=1
        )
    finally:
        if not held.done:
            with contextlib.suppress(Exception):
                await _give_back(held, services)


def _sent_order(message: InboundMessage) -> float:
    return message.timestamp.timestamp() if message.timestamp else 0.0


async def _claim_or_result(
    message: InboundMessage, services: Services, deadline: Deadline, request_id: str | None
) -> ClaimedMessage | MessageResult:
    log_fields = {
        "phone_number_id": message.phone_number_id,
        "wamid": message.id,
        "from": mask_phone(message.customer_id),
        "type": message.type.value,
    }
    logger.info("processing incoming message", extra=log_fields)
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
    try:
        claim = await services.store.claim_message(
            new_message,
            lease_seconds=max(deadline.remaining(), 1.0),
            request_id=request_id,
            order_window_seconds=services.order_window_seconds,
            takeover_after_seconds=services.takeover_after_seconds,
        )
    except UnstorableValue as error:
        # Nothing was claimed: it will never be storable, so it is refused here, not retried.
        logger.error("message refused: a value cannot be stored", extra={**log_fields, "reason": str(error)})
        return MessageResult(outcome=Outcome.INVALID)
    logger.info(
        "message claimed",
        extra={**log_fields, "stage": "identify", "claim": claim.outcome.value, "ms": ms_since(started)},
    )
    if claim.outcome is ClaimOutcome.NO_TENANT:
        await services.store.record_unidentified(new_message)
        logger.warning("no user found for phone_number_id", extra=log_fields)
        return MessageResult(outcome=Outcome.NO_TENANT)
    if claim.outcome not in (ClaimOutcome.CLAIMED, ClaimOutcome.RESEND):
        if claim.outcome is ClaimOutcome.IN_PROGRESS:
            # Its lease holder (or that invocation's own retry) finishes it: nothing to retry here.
            logger.info("message is being answered by another invocation, deferred", extra=log_fields)
        return MessageResult(outcome=_UNCLAIMED[claim.outcome])
    assert claim.tenant is not None
    log_fields["tenant"] = str(claim.tenant.user_id)
    return ClaimedMessage(message=message, claim=claim, log_fields=log_fields)


async def answer_claimed(
    item: ClaimedMessage,
    services: Services,
    deadline: Deadline,
    *,
    proof: PayloadProof,
    may_retry: bool,
    attempt_by_time: int,
    refresh_history: bool = False,
) -> MessageResult:
    claim, log_fields = item.claim, item.log_fields
    assert claim.tenant is not None and claim.inbound_id is not None
    retries_remain = _retries_remain(claim, services, may_retry, attempt_by_time)
    try:
        if not proof_allows(proof, claim.tenant):
            await services.store.refuse_message(
                claim.inbound_id, "not signed with the tenant's Meta app secret"
            )
            logger.warning(
                "payload not signed with the tenant's app secret, message refused",
                extra={**log_fields, "proof": proof.kind.value},
            )
            return _done(item, MessageResult(outcome=Outcome.REFUSED))
        if claim.outcome is ClaimOutcome.RESEND:
            recipient = Recipient(phone=item.message.customer_phone, user_id=item.message.customer_user_id)
            result = await resend_reply(
                claim.tenant, claim.inbound_id, recipient, services, deadline, log_fields, retries_remain
            )
            return _done(item, result)
        return _done(
            item,
            await _answer(item, services, deadline, proof, retries_remain, refresh_history=refresh_history),
        )
    except UnstorableValue as error:
        reason = f"a value cannot be stored: {error}"
        logger.error("message failed: a value cannot be stored", extra={**log_fields, "reason": str(error)})
        await services.store.finish_message(claim.inbound_id, MessageStatus.FAILED, error_title=reason)
        return _done(item, MessageResult(outcome=Outcome.INVALID))
    except GroqUnavailable as error:
        # Only raised while a retry remains: the customer gets the AI's answer later, not the fallback.
        logger.warning(
            "Groq unavailable, leaving the message for Lambda's retry",
            extra={**log_fields, "reason": error.reason},
        )
        await _give_back(item, services)
        return MessageResult(outcome=Outcome.RETRY_LATER)


def _retries_remain(claim: Claim, services: Services, may_retry: bool, attempt_by_time: int) -> bool:
    """Will this event be tried again if it fails? Lambda tries an event 1 + N times (N: its
    MaximumRetryAttempts). This attempt's number is the later of two estimates (`LambdaEvent`):
    this event's claims of the message (a duplicate in another event never uses them up), and the
    time since the event was first received."""
    return may_retry and max(claim.attempts, attempt_by_time) <= services.retry_attempts


def _done(item: ClaimedMessage, result: MessageResult) -> MessageResult:
    item.done = True
    return result


async def _answer(
    item: ClaimedMessage,
    services: Services,
    deadline: Deadline,
    proof: PayloadProof,
    retries_remain: bool,
    *,
    refresh_history: bool,
) -> MessageResult:
    message, claim, log_fields = item.message, item.claim, item.log_fields
    assert claim.tenant is not None and claim.inbound_id is not None
    tenant, inbound_id = claim.tenant, claim.inbound_id
    decision = decide(message)
    if decision.action is Action.IGNORE:
        await services.store.finish_message(inbound_id, MessageStatus.ANSWERED)
        return MessageResult(outcome=Outcome.IGNORED)
    history = claim.history
    if claim.earlier_pending or claim.earlier_waiting or refresh_history:
        waited = await wait_for_earlier_messages(
            claim, services, deadline, log_fields, last_attempt=not retries_remain
        )
        if waited is None and retries_remain:
            await services.store.release_claim(inbound_id)
            return MessageResult(outcome=Outcome.RETRY_LATER)
        if waited is None:
            # The last attempt: answering out of turn beats not answering at all.
            logger.warning(
                "earlier messages still pending on the last attempt, answering now", extra=log_fields
            )
            _, _, waited = await services.store.claim_progress(
                inbound_id,
                tenant.assistant.history_length,
                order_window_seconds=services.order_window_seconds,
            )
        history = waited
    if decision.action is Action.ASK_AI and tenant.groq is None:
        await services.store.finish_message(
            inbound_id, MessageStatus.FAILED, error_title="groq not configured"
        )
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
                tenant,
                history,
                message.text or "",
                services,
                deadline,
                log_fields,
                retries_remain=retries_remain,
            )
    finally:
        if typing is not None:
            await finish_typing_indicator(typing)
    recipient = Recipient(phone=message.customer_phone, user_id=message.customer_user_id)
    return await deliver_reply(
        tenant, inbound_id, recipient, reply, failure, services, deadline, log_fields, retries_remain
    )


_WAIT_POLL_SECONDS = 0.1


async def wait_for_earlier_messages(
    claim: Claim,
    services: Services,
    deadline: Deadline,
    log_fields: dict[str, str],
    *,
    last_attempt: bool = False,
) -> tuple[Turn, ...] | None:
    """The history once the customer's earlier messages are answered, so that replies go out in
    the order the customer wrote; None when one is still being answered after half the time left,
    or waits for a retry of its own (then this one waits for a retry too). On this message's last
    attempt there is no retry to wait for: it waits for those retries instead, as long as it can."""
    assert claim.tenant is not None and claim.inbound_id is not None
    give_up_at = Deadline.after(deadline.remaining() / 2)
    started = time.perf_counter()
    while True:
        pending, waiting, history = await services.store.claim_progress(
            claim.inbound_id,
            claim.tenant.assistant.history_length,
            order_window_seconds=services.order_window_seconds,
        )
        if waiting and not last_attempt:
            logger.warning("an earlier message waits for a retry: this one waits too", extra=log_fields)
            return None
        if not pending and not waiting:
            if claim.earlier_pending:
                logger.info(
                    "earlier messages answered, continuing",
                    extra={**log_fields, "waited_ms": ms_since(started)},
                )
            return history
        if give_up_at.remaining() <= 0:
            break
        await asyncio.sleep(min(_WAIT_POLL_SECONDS, give_up_at.remaining()))
    logger.warning("earlier messages still being answered, retrying later", extra=log_fields)
    return None


async def _give_back(item: ClaimedMessage, services: Services) -> None:
    """Release the claim so that the retry (or another invocation) can take the message at once."""
    assert item.claim.inbound_id is not None
    item.done = True
    await services.store.release_claim(item.claim.inbound_id)


async def _apply_status(
    status: StatusUpdate, services: Services, proof: PayloadProof, summary: BatchSummary
) -> None:
    try:
        applied = await _write_status(status, services, proof)
    except UnstorableValue as error:
        logger.error("status refused: a value cannot be stored", extra={"reason": str(error)})
        applied = StatusApplied.UNKNOWN
    fields = {"wamid": status.message_id, "status": status.status.value}
    match applied:
        case StatusApplied.APPLIED:
            summary.statuses_applied += 1
        case StatusApplied.STALE:
            summary.statuses_stale += 1
            logger.info(
                "status does not advance the reply (repeated or out of order), kept as is", extra=fields
            )
        case StatusApplied.UNKNOWN:
            summary.statuses_unmatched += 1
            logger.info("status for no known reply", extra=fields)


async def _write_status(status: StatusUpdate, services: Services, proof: PayloadProof) -> StatusApplied:
    if not is_reportable(status):
        return StatusApplied.UNKNOWN
    written = await services.store.apply_status(status)
    if written.needs_proof_for is None:
        return written.applied
    # The reply's tenant has its own Meta app: only a payload proven for that app may move it.
    if not proof_allows_secret(proof, written.needs_proof_for):
        return StatusApplied.UNKNOWN
    return (await services.store.apply_status(status, vouched=True)).applied


_UNCLAIMED = {
    ClaimOutcome.ALREADY_HANDLED: Outcome.DUPLICATE,
    ClaimOutcome.IN_PROGRESS: Outcome.DEFERRED,
    ClaimOutcome.OUTCOME_UNKNOWN: Outcome.OUTCOME_UNKNOWN,
}
