"""Replying to one claimed message: the AI's answer (or the fallback), then the send, recorded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from functools import partial
from uuid import UUID

from handler.adapters.graph import SendOutcomeUnknown, WhatsAppSender
from handler.adapters.graph import is_retryable as graph_is_retryable
from handler.adapters.groq import is_retryable as groq_is_retryable
from handler.adapters.groq import retry_after as groq_retry_after
from handler.adapters.retry import with_retries
from handler.conversation.decide import build_messages
from handler.conversation.reply_split import split_reply
from handler.conversation.services import Services
from handler.errors import GroqError, GroqRejected, GroqUnavailable, WhatsAppRejected
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


async def generate_reply(
    tenant: Tenant,
    history: Sequence[Turn],
    text: str,
    services: Services,
    deadline: Deadline,
    log_fields: dict[str, str],
    *,
    retries_remain: bool = False,
) -> tuple[str, str | None]:
    """The AI's reply, or the tenant's fallback text and the reason Groq could not answer.

    A model Groq refuses (retired, unknown to it) is answered once with the deployment's default
    model instead, and the substitution is recorded for `wa-admin check`: never an apology to the
    customer while a working model exists. Groq unavailable for longer than this invocation can
    wait: `GroqUnavailable` is raised while a retry of the invocation remains (the customer gets the
    AI's answer later), the fallback text only on the last attempt."""
    assert tenant.groq is not None
    groq_config = tenant.groq
    messages = build_messages(tenant.assistant.system_prompt, list(history), text)
    started = time.perf_counter()
    model = groq_config.model
    try:
        try:
            reply = await _ask_groq(services, groq_config, messages, model, deadline)
        except GroqRejected as refusal:
            substitute = services.default_groq_model
            if not refusal.refuses_the_model or substitute == model:
                raise
            logger.warning(
                "Groq refused the tenant's model, answering with the deployment's default",
                extra={**log_fields, "model": model, "substitute": substitute, "reason": refusal.reason},
            )
            await services.store.record_model_substitution(
                tenant, requested=model, substitute=substitute, reason=refusal.reason
            )
            model = substitute
            reply = await _ask_groq(services, groq_config, messages, model, deadline)
    except GroqError as error:
        if isinstance(error, GroqUnavailable) and retries_remain:
            raise
        kind = "groq rejected" if isinstance(error, GroqRejected) else "groq unavailable"
        logger.error(
            "AI response failed, sending fallback text",
            extra={
                **log_fields,
                "stage": "groq",
                "model": model,
                "reason": f"{kind}: {error.reason}",
                "ms": ms_since(started),
            },
        )
        return tenant.assistant.fallback_text, f"{kind}: {error.reason}"
    logger.info(
        "AI response generated",
        extra={
            **log_fields,
            "stage": "groq",
            "model": model,
            "history": len(history),
            "ms": ms_since(started),
        },
    )
    return reply, None


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


async def deliver_reply(
    tenant: Tenant,
    inbound_id: UUID,
    recipient: Recipient,
    reply: str,
    failure: str | None,
    services: Services,
    deadline: Deadline,
    log_fields: dict[str, str],
    retries_remain: bool = False,
) -> MessageResult:
    """Record the reply (split in parts) before sending it, send it, record what Meta said."""
    parts = split_reply(reply)
    if tenant.whatsapp is None:
        await services.store.record_reply(
            inbound_id,
            parts,
            inbound_status=MessageStatus.ANSWERED,
            reply_status=ReplyStatus.NOT_SENT,
            error_title=failure or "whatsapp credentials not configured",
        )
        logger.error("cannot send WhatsApp message, credentials not found", extra=log_fields)
        return MessageResult(outcome=Outcome.NOT_SENT, reply=reply)
    row_ids = await services.store.record_reply(
        inbound_id,
        parts,
        inbound_status=MessageStatus.SENDING,
        reply_status=ReplyStatus.SENDING,
        error_title=failure,
    )
    return await _send_and_record(
        tenant, inbound_id, recipient, list(zip(row_ids, parts, strict=True)), failure, services, deadline,
        log_fields, retries_remain, reply=reply,
    )  # fmt: skip


async def resend_reply(
    tenant: Tenant,
    inbound_id: UUID,
    recipient: Recipient,
    services: Services,
    deadline: Deadline,
    log_fields: dict[str, str],
    retries_remain: bool,
) -> MessageResult:
    """A retry of a message whose reply Meta refused for a while: the recorded parts not yet
    accepted are sent as they are (never a second answer from Groq)."""
    pending = await services.store.parts_to_resend(inbound_id)
    logger.info("resending the recorded reply", extra={**log_fields, "parts": len(pending)})
    if tenant.whatsapp is None or not pending:
        await services.store.finish_message(
            inbound_id,
            MessageStatus.FAILED if tenant.whatsapp is None else MessageStatus.ANSWERED,
            error_title="whatsapp credentials not configured" if tenant.whatsapp is None else None,
        )
        return MessageResult(outcome=Outcome.NOT_SENT if tenant.whatsapp is None else Outcome.REPLIED)
    reply = "\n\n".join(text for _, text in pending)
    return await _send_and_record(
        tenant,
        inbound_id,
        recipient,
        pending,
        None,
        services,
        deadline,
        log_fields,
        retries_remain,
        reply=reply,
    )


async def _send_and_record(
    tenant: Tenant,
    inbound_id: UUID,
    recipient: Recipient,
    parts: list[tuple[UUID, str]],
    failure: str | None,
    services: Services,
    deadline: Deadline,
    log_fields: dict[str, str],
    retries_remain: bool,
    *,
    reply: str,
) -> MessageResult:
    started = time.perf_counter()
    results = await send_parts(tenant, recipient, parts, services, deadline, retries_remain=retries_remain)
    first_failure = next((r for r in results if r.status is not ReplyStatus.SENT), None)
    inbound_status = _inbound_status(results)
    # Groq's failure, when there was one, stays the message's story; Graph's is on the reply rows,
    # and on the message only once final (a send waiting for its retry may well succeed).
    final_failure = first_failure if inbound_status is not MessageStatus.SEND_RETRY else None
    await services.store.record_send_results(
        inbound_id,
        results,
        inbound_status=inbound_status,
        error_code=final_failure.error_code if final_failure else None,
        error_title=failure or (final_failure.error_title if final_failure else None),
    )
    sent_ids = tuple(r.wa_message_id for r in results if r.wa_message_id)
    if first_failure is None:
        logger.info(
            "WhatsApp message sent successfully",
            extra={**log_fields, "stage": "send", "parts": len(parts), "ms": ms_since(started)},
        )
        return MessageResult(outcome=Outcome.REPLIED, reply=reply, wa_message_ids=sent_ids)
    retrying = inbound_status is MessageStatus.SEND_RETRY
    logger.log(
        logging.WARNING if retrying else logging.ERROR,
        "WhatsApp send failed for now, left for Lambda's retry" if retrying else "WhatsApp send failed",
        extra={
            **log_fields,
            "stage": "send",
            "error_code": first_failure.error_code,
            "error_title": first_failure.error_title,
            "ms": ms_since(started),
        },
    )
    outcome = Outcome.RETRY_LATER if retrying else Outcome.SEND_FAILED
    return MessageResult(outcome=outcome, reply=reply, wa_message_ids=sent_ids)


async def send_parts(
    tenant: Tenant,
    recipient: Recipient,
    parts: list[tuple[UUID, str]],
    services: Services,
    deadline: Deadline,
    *,
    retries_remain: bool = False,
) -> list[SendResult]:
    """Send the parts in order; after a part fails, the rest are not sent (the order would break).

    A passing Graph error is retried with backoff while the invocation has time; past that, with a
    retry of the invocation left, the part and those after it stay `send_retry` for it to send."""
    assert tenant.whatsapp is not None
    credentials = tenant.whatsapp
    results: list[SendResult] = []
    for row_id, part in parts:
        if results and results[-1].status is not ReplyStatus.SENT:
            later = (
                ReplyStatus.SEND_RETRY
                if results[-1].status is ReplyStatus.SEND_RETRY
                else ReplyStatus.NOT_SENT
            )
            results.append(
                SendResult(
                    row_id=row_id, wa_message_id=None, status=later, error_title="an earlier part failed"
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
        except WhatsAppRejected as error:
            results.append(_refused_part(row_id, error, retries_remain))
        except SendOutcomeUnknown as error:
            results.append(
                SendResult(
                    row_id=row_id,
                    wa_message_id=None,
                    status=ReplyStatus.OUTCOME_UNKNOWN,
                    error_title=f"no answer from Graph: {error}",
                )
            )
        else:
            results.append(SendResult(row_id=row_id, wa_message_id=message_id, status=ReplyStatus.SENT))
    return results


def _refused_part(row_id: UUID, error: WhatsAppRejected, retries_remain: bool) -> SendResult:
    """Meta did not accept the part: later (a passing error, a retry left), or never."""
    if error.retryable and retries_remain:
        return SendResult(
            row_id=row_id,
            wa_message_id=None,
            status=ReplyStatus.SEND_RETRY,
            error_code=error.code,
            error_title=error.title,
        )
    title = f"{error.title} (passing error: no retry left)" if error.retryable else error.title
    return SendResult(
        row_id=row_id, wa_message_id=None, status=ReplyStatus.FAILED, error_code=error.code, error_title=title
    )


# Time kept back from Groq for sending whatever it answers (or the fallback text).
_SEND_RESERVE_SECONDS = 5.0


def _time_for_groq(deadline: Deadline) -> float:
    remaining = deadline.remaining()
    return remaining - min(_SEND_RESERVE_SECONDS, remaining / 2)


async def _send_one(
    sender: WhatsAppSender, credentials: WhatsAppCredentials, to: Recipient, text: str, deadline: Deadline
) -> str:
    return await sender.send_text(credentials, to, text, time_left=deadline.remaining())


def _inbound_status(results: list[SendResult]) -> MessageStatus:
    statuses = {result.status for result in results}
    if statuses <= {ReplyStatus.SENT}:
        return MessageStatus.ANSWERED
    if ReplyStatus.OUTCOME_UNKNOWN in statuses:
        return MessageStatus.OUTCOME_UNKNOWN
    if ReplyStatus.SEND_RETRY in statuses:
        return MessageStatus.SEND_RETRY
    return MessageStatus.FAILED


# The typing indicator must never hold the reply back: it runs while Groq thinks, and the send
# waits for it at most this long before going ahead without it.
_TYPING_GRACE_SECONDS = 1.0
_TYPING_TIMEOUT_SECONDS = 3.0


def start_typing_indicator(
    tenant: Tenant, message_id: str, services: Services, log_fields: dict[str, str]
) -> asyncio.Task[None] | None:
    """Start marking the message read with "typing…" (best effort); None when the tenant turned it
    off or has no WhatsApp credentials."""
    if tenant.whatsapp is None or not tenant.assistant.typing_indicator:
        return None
    credentials = tenant.whatsapp

    async def show() -> None:
        started = time.perf_counter()
        try:
            await services.whatsapp.show_typing(credentials, message_id, time_left=_TYPING_TIMEOUT_SECONDS)
        except (WhatsAppRejected, SendOutcomeUnknown) as error:
            logger.warning(
                "typing indicator failed (the reply goes ahead)",
                extra={**log_fields, "reason": str(error), "ms": ms_since(started)},
            )
            return
        logger.info("typing indicator shown", extra={**log_fields, "ms": ms_since(started)})

    return asyncio.get_running_loop().create_task(show())


async def finish_typing_indicator(task: asyncio.Task[None]) -> None:
    """Before the reply is sent: give the indicator a moment more at most, then let it go."""
    done, _ = await asyncio.wait({task}, timeout=_TYPING_GRACE_SECONDS)
    if not done:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
