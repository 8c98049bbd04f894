"""Answer every message and record every status of one webhook payload: the executor of the plans
`decide.py` makes.

Every message is claimed first, oldest first, before any is answered: a later message of the same
customer arriving in another webhook then waits its turn behind these. Then each claimed message is
planned and its plan carried out in that order (tenant, dedupe and history come with the claim),
and every status applied.

A passing failure (Groq or Graph down longer than this invocation can wait) leaves its message for
Lambda's retry when one remains (outcome `retry_later`: the summary asks the caller to retry), and
that customer's later messages of the payload wait for it too; the others are answered meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from handler.adapters.metrics import Refusal
from handler.conversation import decide
from handler.conversation.decide import Confirm, Finish, Quiet, Refuse, Reply, Resend, WaitVerdict
from handler.conversation.deliver import (
    ReplyText,
    deliver_reply,
    generate_reply,
    resend_reply,
    typing_indicator,
)
from handler.conversation.handover import confirm, record_business_events, stay_quiet
from handler.conversation.services import Services
from handler.conversation.understand import answer_media, record_not_understood
from handler.errors import GroqUnavailable, MediaUnavailable, UnstorableValue
from handler.model import (
    BatchSummary,
    Claim,
    Deadline,
    LambdaEvent,
    MessageResult,
    MessageStatus,
    NewMessage,
    Outcome,
    PayloadProof,
    Recipient,
    StatusApplied,
    Tenant,
    Turn,
)
from shared.logs import bind_log_fields, log_context, mask_phone, ms_since
from shared.webhook import InboundMessage, StatusUpdate, WebhookBatch

logger = logging.getLogger("handler")


@dataclass(slots=True)
class ClaimedMessage:
    """A message this invocation holds the lease of, waiting for its turn to be answered."""

    message: InboundMessage
    claim: Claim
    tenant: Tenant
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
    await record_business_events(batch, services, proof, summary)
    claimed: list[ClaimedMessage] = []
    try:
        for message in sorted(batch.messages, key=_sent_order):
            with _message_context(message):
                held = await _claim(message, services, deadline, event.request_id)
            if isinstance(held, ClaimedMessage):
                claimed.append(held)
            else:
                summary.count(held)
        answered: set[str] = set()  # customers with a message answered earlier in this payload
        waiting: set[str] = set()  # customers with a message left for a retry: their later ones wait
        for item in claimed:
            customer = item.claim.customer_key
            retries_remain = _retries_remain(item.claim, services, may_retry, attempt_by_time)
            with _message_context(item.message, item.tenant):
                if customer in waiting and retries_remain:
                    await _give_back(item, services)
                    summary.count(Outcome.RETRY_LATER)
                    continue
                result = await _carry_out(
                    item, services, deadline, proof, retries_remain, after_answer=customer in answered
                )
            summary.count(result.outcome)
            answered.add(customer)
            if decide.holds_back_later_messages(result.outcome):
                waiting.add(customer)
    finally:
        services.metrics.messages(summary)  # every message counted so far, by outcome
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
    with _message_context(message):
        held = await _claim(message, services, deadline, None)
        if not isinstance(held, ClaimedMessage):
            return MessageResult(outcome=held)
        bind_log_fields(tenant=str(held.tenant.user_id))
        retries_remain = _retries_remain(held.claim, services, may_retry, attempt_by_time=1)
        try:
            return await _carry_out(held, services, deadline, proof, retries_remain, after_answer=False)
        finally:
            if not held.done:
                with contextlib.suppress(Exception):
                    await _give_back(held, services)


def _sent_order(message: InboundMessage) -> float:
    return message.timestamp.timestamp() if message.timestamp else 0.0


@contextmanager
def _message_context(message: InboundMessage, tenant: Tenant | None = None) -> Iterator[None]:
    """Every line logged about a message names it (the forwarder's field names)."""
    fields: dict[str, object] = {
        "phone_number_id": message.phone_number_id,
        "message_id": message.id,
        "sender": mask_phone(message.customer_id),
        "message_type": message.type.value,
    }
    if tenant is not None:
        fields["tenant"] = str(tenant.user_id)
    with log_context(**fields):
        yield


async def _claim(
    message: InboundMessage, services: Services, deadline: Deadline, request_id: str | None
) -> ClaimedMessage | Outcome:
    """Claim the message: ours to answer, or how it is reported (a duplicate, no tenant, …)."""
    logger.info("processing incoming message")
    new_message = NewMessage(
        phone_number_id=message.phone_number_id,
        customer_phone=message.customer_phone,
        customer_user_id=message.customer_user_id,
        content=decide.stored_content(message),
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
        logger.error("message refused: a value cannot be stored", extra={"reason": str(error)})
        return Outcome.INVALID
    logger.info(
        "message claimed", extra={"stage": "identify", "claim": claim.outcome.value, "ms": ms_since(started)}
    )
    unclaimed = decide.unclaimed_outcome(claim)
    if unclaimed is Outcome.NO_TENANT:
        await services.store.record_unidentified(new_message)
        logger.warning("no user found for phone_number_id")
    elif unclaimed is Outcome.DEFERRED:
        logger.info("message is being answered by another invocation, deferred")
    if unclaimed is not None:
        return unclaimed
    assert claim.tenant is not None and claim.inbound_id is not None
    return ClaimedMessage(message=message, claim=claim, tenant=claim.tenant)


def _retries_remain(claim: Claim, services: Services, may_retry: bool, attempt_by_time: int) -> bool:
    return decide.retries_remain(
        claim.attempts, attempt_by_time, retry_attempts=services.retry_attempts, may_retry=may_retry
    )


async def _carry_out(
    item: ClaimedMessage,
    services: Services,
    deadline: Deadline,
    proof: PayloadProof,
    retries_remain: bool,
    *,
    after_answer: bool,
) -> MessageResult:
    """Plan the message, then do what the plan says and record it. A message that must wait for
    the customer's earlier ones is planned again once its turn comes."""
    claim, tenant = item.claim, item.tenant
    assert claim.inbound_id is not None
    inbound_id = claim.inbound_id
    plan = decide.plan_message(
        item.message, claim, tenant, proof, after_answer=after_answer, media_policy=services.media_policy
    )
    try:
        if isinstance(plan, Reply | Confirm) and plan.wait_turn:
            waited = await _wait_turn(item, services, deadline, retries_remain)
            if isinstance(waited, MessageResult):
                return _done(item, waited)  # given back: a retry answers it
            controls = await services.store.handover.customer_controls(tenant, claim.customer_key)
            item.claim = replace(claim, history=waited)
            plan = decide.plan_in_turn(
                item.message, item.claim, tenant, proof, controls, media_policy=services.media_policy
            )
        match plan:
            case Refuse(reason=reason):
                await services.store.refuse_message(inbound_id, reason)
                services.metrics.refused(Refusal.TENANT_PROOF)
                logger.warning(
                    "payload not signed with the tenant's app secret, message refused",
                    extra={"proof": proof.kind.value},
                )
                return _done(item, MessageResult(outcome=Outcome.REFUSED))
            case Resend():
                result = await resend_reply(
                    tenant, inbound_id, _recipient(item.message), services, deadline, retries_remain
                )
                return _done(item, result)
            case Finish(status=status, outcome=outcome, error_title=error_title):
                await services.store.finish_message(inbound_id, status, error_title=error_title)
                if outcome is Outcome.NO_GROQ:
                    logger.error("no Groq configuration found for user")
                return _done(item, MessageResult(outcome=outcome))
            case Reply():
                return _done(item, await _reply(item, plan, services, deadline, retries_remain))
            case Quiet():
                return _done(item, await stay_quiet(inbound_id, plan, services))
            case Confirm():
                recipient = _recipient(item.message)
                result = await confirm(
                    tenant, inbound_id, recipient, plan, services, deadline, retries_remain
                )
                return _done(item, result)
    except UnstorableValue as error:
        reason = f"a value cannot be stored: {error}"
        logger.error("message failed: a value cannot be stored", extra={"reason": str(error)})
        await services.store.finish_message(inbound_id, MessageStatus.FAILED, error_title=reason)
        return _done(item, MessageResult(outcome=Outcome.INVALID))
    except (GroqUnavailable, MediaUnavailable) as error:
        # Only raised while a retry remains: the customer gets the AI's answer later, not the fallback.
        logger.warning(
            "Groq or the media unavailable, leaving the message for Lambda's retry",
            extra={"reason": error.reason},
        )
        await _give_back(item, services)
        return MessageResult(outcome=Outcome.RETRY_LATER)


async def _reply(
    item: ClaimedMessage, plan: Reply, services: Services, deadline: Deadline, retries_remain: bool
) -> MessageResult:
    claim, tenant = item.claim, item.tenant
    assert claim.inbound_id is not None
    history = claim.history
    async with typing_indicator(tenant, item.message.id, services, shown=plan.show_typing):
        if plan.media is not None:
            reply = await answer_media(
                tenant, claim.inbound_id, history, plan, services, deadline, retries_remain=retries_remain
            )
        elif plan.ask_ai:
            reply = await generate_reply(
                tenant, history, plan.text, services, deadline, retries_remain=retries_remain
            )
        else:
            reply = ReplyText(text=plan.notice or "", failure=plan.not_understood)
            if plan.not_understood is not None:
                media = item.message.media
                assert media is not None  # only a voice note or an image is "not understood"
                await record_not_understood(claim.inbound_id, media.kind, plan.not_understood, services)
    return await deliver_reply(
        tenant, claim.inbound_id, _recipient(item.message), reply, services, deadline, retries_remain
    )


async def _wait_turn(
    item: ClaimedMessage, services: Services, deadline: Deadline, retries_remain: bool
) -> tuple[Turn, ...] | MessageResult:
    """Wait for the customer's earlier messages: the history once they are answered (or on the
    last attempt, as it is), or the outcome when this one must wait for a retry of its own."""
    claim, tenant = item.claim, item.tenant
    assert claim.inbound_id is not None
    in_turn = await wait_for_earlier_messages(
        claim, tenant, services, deadline, last_attempt=not retries_remain
    )
    match decide.after_waiting(in_turn is not None, retries_remain=retries_remain):
        case WaitVerdict.RETRY_LATER:
            await services.store.release_claim(claim.inbound_id)
            return MessageResult(outcome=Outcome.RETRY_LATER)
        case WaitVerdict.OUT_OF_TURN:
            logger.warning("earlier messages still pending on the last attempt, answering now")
            _, _, history = await services.store.claim_progress(
                claim.inbound_id,
                tenant.assistant.history_length,
                order_window_seconds=services.order_window_seconds,
            )
            return history
        case WaitVerdict.GO:
            assert in_turn is not None
            return in_turn


def _recipient(message: InboundMessage) -> Recipient:
    return Recipient(phone=message.customer_phone, user_id=message.customer_user_id)


def _done(item: ClaimedMessage, result: MessageResult) -> MessageResult:
    item.done = True
    return result


_WAIT_POLL_SECONDS = 0.1


async def wait_for_earlier_messages(
    claim: Claim, tenant: Tenant, services: Services, deadline: Deadline, *, last_attempt: bool = False
) -> tuple[Turn, ...] | None:
    """The history once the customer's earlier messages are answered, so that replies go out in
    the order the customer wrote; None when one is still being answered after half the time left,
    or waits for a retry of its own (then this one waits for a retry too). On this message's last
    attempt there is no retry to wait for: it waits for those retries instead, as long as it can."""
    assert claim.inbound_id is not None
    give_up_at = Deadline.after(deadline.remaining() / 2)
    started = time.perf_counter()
    while True:
        pending, waiting, history = await services.store.claim_progress(
            claim.inbound_id,
            tenant.assistant.history_length,
            order_window_seconds=services.order_window_seconds,
        )
        if waiting and not last_attempt:
            logger.warning("an earlier message waits for a retry: this one waits too")
            return None
        if not pending and not waiting:
            if claim.earlier_pending:
                logger.info("earlier messages answered, continuing", extra={"waited_ms": ms_since(started)})
            return history
        if give_up_at.remaining() <= 0:
            break
        await asyncio.sleep(min(_WAIT_POLL_SECONDS, give_up_at.remaining()))
    logger.warning("earlier messages still being answered, retrying later")
    return None


async def _give_back(item: ClaimedMessage, services: Services) -> None:
    """Release the claim so that the retry (or another invocation) can take the message at once."""
    assert item.claim.inbound_id is not None
    item.done = True
    await services.store.release_claim(item.claim.inbound_id)


async def _apply_status(
    status: StatusUpdate, services: Services, proof: PayloadProof, summary: BatchSummary
) -> None:
    with log_context(message_id=status.message_id, status=status.status.value):
        try:
            applied = await _write_status(status, services, proof)
        except UnstorableValue as error:
            logger.error("status refused: a value cannot be stored", extra={"reason": str(error)})
            applied = StatusApplied.UNKNOWN
        match applied:
            case StatusApplied.APPLIED:
                summary.statuses_applied += 1
            case StatusApplied.STALE:
                summary.statuses_stale += 1
                logger.info("status does not advance the reply (repeated or out of order), kept as is")
            case StatusApplied.UNKNOWN:
                summary.statuses_unmatched += 1
                logger.info("status for no known reply")


async def _write_status(status: StatusUpdate, services: Services, proof: PayloadProof) -> StatusApplied:
    if not decide.is_reportable(status):
        return StatusApplied.UNKNOWN
    written = await services.store.apply_status(status)
    if written.needs_proof_for is None:
        return written.applied
    # The reply's tenant has its own Meta app: only a payload proven for that app may move it.
    if not decide.proof_allows_secret(proof, written.needs_proof_for):
        services.metrics.refused(Refusal.STATUS_PROOF)
        return StatusApplied.UNKNOWN
    return (await services.store.apply_status(status, vouched=True)).applied
