"""Making and sending one reply: the AI's answer (or the fallback), the typing indicator, the send
of each part and the record of what Meta said. What to do at each turn is `decide.py`'s call."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from uuid import UUID

from handler.adapters.graph import WhatsAppSender
from handler.adapters.graph import is_retryable as graph_is_retryable
from handler.adapters.groq import is_retryable as groq_is_retryable
from handler.adapters.groq import retry_after as groq_retry_after
from handler.adapters.retry import with_retries
from handler.conversation import decide
from handler.conversation.reply_split import split_reply
from handler.conversation.services import Services
from handler.errors import GroqError, GroqRejected, SendOutcomeUnknown, WhatsAppError
from handler.model import (
    Deadline,
    GroqConfig,
    MessageResult,
    MessageStatus,
    Outcome,
    Recipient,
    ReplyStatus,
    SendResult,
    Tenant,
    Turn,
    WhatsAppCredentials,
)
from shared.logs import ms_since

logger = logging.getLogger("handler")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyText:
    """What the customer is sent, and why it is not the AI's answer when it is not (recorded)."""

    text: str
    failure: str | None = None


async def generate_reply(
    tenant: Tenant,
    history: Sequence[Turn],
    text: str,
    services: Services,
    deadline: Deadline,
    *,
    retries_remain: bool = False,
) -> ReplyText:
    """The AI's reply, or the tenant's fallback text and the reason Groq could not answer.

    A model Groq refuses is answered once with the deployment's default model instead (recorded for
    `wa-admin check`). Groq unavailable for longer than this invocation can wait: `GroqUnavailable`
    is raised while a retry of the invocation remains, the fallback text only on the last attempt."""
    assert tenant.groq is not None
    groq_config = tenant.groq
    messages = decide.build_messages(tenant.assistant.system_prompt, history, text)
    started = time.perf_counter()
    model = groq_config.model
    try:
        try:
            answer = await _ask_groq(services, groq_config, messages, model, deadline)
        except GroqRejected as refusal:
            substitute = decide.substitute_model(refusal, model, services.default_groq_model)
            if substitute is None:
                raise
            logger.warning(
                "Groq refused the tenant's model, answering with the deployment's default",
                extra={"model": model, "substitute": substitute, "reason": refusal.reason},
            )
            await services.store.record_model_substitution(
                tenant, requested=model, substitute=substitute, reason=refusal.reason
            )
            services.metrics.model_substituted()
            model = substitute
            answer = await _ask_groq(services, groq_config, messages, model, deadline)
    except GroqError as error:
        fallback = decide.after_groq_failure(error, retries_remain=retries_remain)
        if fallback is None:
            raise
        logger.error(
            "AI response failed, sending fallback text",
            extra={"stage": "groq", "model": model, "reason": fallback.reason, "ms": ms_since(started)},
        )
        services.metrics.answered(fallback=fallback.kind)
        return ReplyText(text=tenant.assistant.fallback_text, failure=fallback.reason)
    services.metrics.answered()
    logger.info(
        "AI response generated",
        extra={"stage": "groq", "model": model, "history": len(history), "ms": ms_since(started)},
    )
    return ReplyText(text=answer)


async def _ask_groq(
    services: Services, config: GroqConfig, messages: list[dict[str, str]], model: str, deadline: Deadline
) -> str:
    return await with_retries(
        lambda: services.groq.complete(config, messages, model=model, time_left=_time_for_groq(deadline)),
        policy=services.groq_policy,
        deadline=deadline,
        is_retryable=groq_is_retryable,
        retry_after=groq_retry_after,
    )


# Time kept back from Groq for sending whatever it answers (or the fallback text).
_SEND_RESERVE_SECONDS = 5.0


def _time_for_groq(deadline: Deadline) -> float:
    remaining = deadline.remaining()
    return remaining - min(_SEND_RESERVE_SECONDS, remaining / 2)


async def deliver_reply(
    tenant: Tenant,
    inbound_id: UUID,
    recipient: Recipient,
    reply: ReplyText,
    services: Services,
    deadline: Deadline,
    retries_remain: bool = False,
) -> MessageResult:
    """Record the reply (split in parts) before sending it, send it, record what Meta said."""
    parts = split_reply(reply.text)
    if tenant.whatsapp is None:
        await services.store.record_reply(
            inbound_id,
            parts,
            inbound_status=MessageStatus.ANSWERED,
            reply_status=ReplyStatus.NOT_SENT,
            error_title=reply.failure or "whatsapp credentials not configured",
        )
        logger.error("cannot send WhatsApp message, credentials not found")
        return MessageResult(outcome=Outcome.NOT_SENT, reply=reply.text)
    row_ids = await services.store.record_reply(
        inbound_id,
        parts,
        inbound_status=MessageStatus.SENDING,
        reply_status=ReplyStatus.SENDING,
        error_title=reply.failure,
    )
    pending = list(zip(row_ids, parts, strict=True))
    return await _send_and_record(
        tenant.whatsapp, inbound_id, recipient, pending, reply, services, deadline, retries_remain
    )


async def resend_reply(
    tenant: Tenant,
    inbound_id: UUID,
    recipient: Recipient,
    services: Services,
    deadline: Deadline,
    retries_remain: bool,
) -> MessageResult:
    """A retry of a message whose reply Meta refused for a while: the recorded parts not yet
    accepted are sent as they are (never a second answer from Groq)."""
    pending = await services.store.parts_to_resend(inbound_id)
    logger.info("resending the recorded reply", extra={"parts": len(pending)})
    if tenant.whatsapp is None:
        await services.store.finish_message(
            inbound_id, MessageStatus.FAILED, error_title="whatsapp credentials not configured"
        )
        return MessageResult(outcome=Outcome.NOT_SENT)
    if not pending:
        await services.store.finish_message(inbound_id, MessageStatus.ANSWERED)
        return MessageResult(outcome=Outcome.REPLIED)
    reply = ReplyText(text="\n\n".join(text for _, text in pending))
    return await _send_and_record(
        tenant.whatsapp, inbound_id, recipient, pending, reply, services, deadline, retries_remain
    )


async def _send_and_record(
    credentials: WhatsAppCredentials,
    inbound_id: UUID,
    recipient: Recipient,
    parts: list[tuple[UUID, str]],
    reply: ReplyText,
    services: Services,
    deadline: Deadline,
    retries_remain: bool,
) -> MessageResult:
    started = time.perf_counter()
    results = await send_parts(
        credentials, recipient, parts, services, deadline, retries_remain=retries_remain
    )
    first_failure = next((r for r in results if r.status is not ReplyStatus.SENT), None)
    inbound_status = decide.message_status(results)
    # Groq's failure, when there was one, stays the message's story; Graph's is on the reply rows,
    # and on the message only once final (a send waiting for its retry may well succeed).
    final_failure = first_failure if inbound_status is not MessageStatus.SEND_RETRY else None
    await services.store.record_send_results(
        inbound_id,
        results,
        inbound_status=inbound_status,
        error_code=final_failure.error_code if final_failure else None,
        error_title=reply.failure or (final_failure.error_title if final_failure else None),
    )
    sent_ids = tuple(r.wa_message_id for r in results if r.wa_message_id)
    outcome = decide.send_outcome(inbound_status)
    if first_failure is None:
        logger.info(
            "WhatsApp message sent successfully",
            extra={"stage": "send", "parts": len(parts), "ms": ms_since(started)},
        )
    else:
        retrying = outcome is Outcome.RETRY_LATER
        logger.log(
            logging.WARNING if retrying else logging.ERROR,
            "WhatsApp send failed for now, left for Lambda's retry" if retrying else "WhatsApp send failed",
            extra={
                "stage": "send",
                "error_code": first_failure.error_code,
                "error_title": first_failure.error_title,
                "ms": ms_since(started),
            },
        )
    return MessageResult(outcome=outcome, reply=reply.text, wa_message_ids=sent_ids)


async def send_parts(
    credentials: WhatsAppCredentials,
    recipient: Recipient,
    parts: list[tuple[UUID, str]],
    services: Services,
    deadline: Deadline,
    *,
    retries_remain: bool = False,
) -> list[SendResult]:
    """Send the parts in order, each with backoff while the invocation has time; what happens to
    the parts after one that was not sent, and to a refused part, is `decide`'s call."""
    results: list[SendResult] = []
    for row_id, part in parts:
        held_back = decide.part_after(results[-1]) if results else None
        if held_back is not None:
            results.append(
                SendResult(
                    row_id=row_id, wa_message_id=None, status=held_back, error_title="an earlier part failed"
                )
            )
            continue
        try:
            message_id = await with_retries(
                partial(_send_one, services.whatsapp, credentials, recipient, part, deadline),
                policy=services.graph_policy,
                deadline=deadline,
                is_retryable=graph_is_retryable,
            )
        except SendOutcomeUnknown as error:
            results.append(
                SendResult(
                    row_id=row_id,
                    wa_message_id=None,
                    status=ReplyStatus.OUTCOME_UNKNOWN,
                    error_title=f"no answer from Graph: {error.title}",
                )
            )
        except WhatsAppError as error:
            status, title = decide.refused_part(error, retries_remain=retries_remain)
            results.append(
                SendResult(
                    row_id=row_id, wa_message_id=None, status=status, error_code=error.code, error_title=title
                )
            )
        else:
            results.append(SendResult(row_id=row_id, wa_message_id=message_id, status=ReplyStatus.SENT))
    return results


async def _send_one(
    sender: WhatsAppSender, credentials: WhatsAppCredentials, to: Recipient, text: str, deadline: Deadline
) -> str:
    return await sender.send_text(credentials, to, text, time_left=deadline.remaining())


# The typing indicator must never hold the reply back: it runs while the answer is made, and the
# send waits for it at most this long before going ahead without it.
_TYPING_GRACE_SECONDS = 1.0
_TYPING_TIMEOUT_SECONDS = 3.0


@asynccontextmanager
async def typing_indicator(
    tenant: Tenant, message_id: str, services: Services, *, shown: bool
) -> AsyncIterator[None]:
    """While the block runs, mark the message read with "typing…" (best effort, when `shown`);
    at the end, give the indicator a moment more at most, then let it go."""
    if not shown or tenant.whatsapp is None:
        yield
        return
    task = asyncio.get_running_loop().create_task(_show_typing(tenant.whatsapp, message_id, services))
    try:
        yield
    finally:
        done, _ = await asyncio.wait({task}, timeout=_TYPING_GRACE_SECONDS)
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _show_typing(credentials: WhatsAppCredentials, message_id: str, services: Services) -> None:
    started = time.perf_counter()
    try:
        await services.whatsapp.show_typing(credentials, message_id, time_left=_TYPING_TIMEOUT_SECONDS)
    except WhatsAppError as error:
        logger.warning(
            "typing indicator failed (the reply goes ahead)",
            extra={"reason": str(error), "ms": ms_since(started)},
        )
        return
    logger.info("typing indicator shown", extra={"ms": ms_since(started)})
