"""Answering a seed-format request: a WhatsApp message relayed by the old webhook, or a web chat."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from handler.adapters.metrics import Refusal
from handler.conversation.answer import answer_message
from handler.conversation.deliver import generate_reply
from handler.conversation.seed_request import SeedRequest
from handler.conversation.services import Services
from handler.errors import SERVICE_NOT_CONFIGURED
from handler.model import Deadline, MessageStatus, Outcome, PayloadProof, ReplyStatus
from shared.errors import AssistantError, ConfigurationError, Conflict, Unauthorized, handling_of
from shared.logs import log_context, mask_phone
from shared.webhook import InboundMessage, MessageOrigin, MessageType

logger = logging.getLogger("handler")


@dataclass(frozen=True, slots=True, kw_only=True)
class SeedResponse:
    status_code: int
    body: dict[str, Any]


def _refusal(failure: AssistantError) -> SeedResponse:
    """The seed's error shape, with the status of the failure's family (shared/errors.py)."""
    return SeedResponse(
        status_code=handling_of(failure).http_status, body={"success": False, "error": str(failure)}
    )


_NOT_CONFIGURED = _refusal(ConfigurationError(SERVICE_NOT_CONFIGURED))
_WEB_CHAT_KEY_REJECTED = _refusal(Unauthorized("missing or invalid web chat key"))
_BEING_ANSWERED = _refusal(Conflict("message is being answered"))


async def answer_seed_request(request: SeedRequest, services: Services, deadline: Deadline) -> SeedResponse:
    logger.info(
        "POST request received",
        extra={
            "source": request.source,
            "hasPhoneNumber": request.phone_number is not None,
            "hasPhoneNumberId": request.phone_number_id is not None,
            "hasWebUserId": request.web_user_id is not None,
        },
    )
    if request.source == "web":
        return await _answer_web(request, services, deadline)
    return await _answer_whatsapp(request, services, deadline)


async def _answer_whatsapp(request: SeedRequest, services: Services, deadline: Deadline) -> SeedResponse:
    assert request.phone_number is not None
    phone_number_id = request.phone_number_id
    if phone_number_id is None:
        # The seed's fallback: the business this customer wrote to last. Only when the request names
        # no business number; an unknown number is never answered from another tenant's account.
        tenant = await services.store.find_tenant_by_customer(request.phone_number)
        if tenant is None or tenant.whatsapp is None:
            logger.warning(
                "could not identify user from provided identifiers",
                extra={"from": mask_phone(request.phone_number)},
            )
            services.metrics.message(Outcome.NO_TENANT)
            return _NOT_CONFIGURED
        phone_number_id = tenant.whatsapp.phone_number_id
    message = InboundMessage(
        id=request.message_id,
        phone_number_id=phone_number_id,
        customer_phone=request.phone_number,
        customer_user_id=None,
        type=MessageType.TEXT,
        timestamp=request.timestamp,
        text=request.text,
        raw={},
        origin=MessageOrigin.SEED_RELAY,
    )
    # The caller waits for the answer: nothing will retry it, so a passing failure is final here.
    result = await answer_message(
        message, services, deadline, proof=PayloadProof.seed_relay(), may_retry=False
    )
    services.metrics.message(result.outcome)
    if result.outcome in (Outcome.NO_TENANT, Outcome.NO_GROQ):
        return _NOT_CONFIGURED
    if result.outcome in (Outcome.DEFERRED, Outcome.RETRY_LATER):
        return _BEING_ANSWERED
    return SeedResponse(
        status_code=200,
        body={
            "success": True,
            "source": "whatsapp",
            "response": result.reply,
            "outcome": result.outcome.value,
            "whatsappSent": result.outcome is Outcome.REPLIED,
            "messageIds": list(result.wa_message_ids),
        },
    )


async def _answer_web(request: SeedRequest, services: Services, deadline: Deadline) -> SeedResponse:
    assert request.web_user_id is not None
    accepted, tenant = await services.store.find_web_chat_tenant(request.web_user_id, request.web_chat_key)
    if not accepted:
        logger.warning(
            "web chat key rejected",
            extra={"tenant": str(request.web_user_id), "hasKey": request.web_chat_key is not None},
        )
        services.metrics.refused(Refusal.WEB_CHAT_KEY)
        return _WEB_CHAT_KEY_REJECTED
    if tenant is None or tenant.groq is None:
        logger.warning(
            "no Groq configuration available for web user", extra={"tenant": str(request.web_user_id)}
        )
        services.metrics.message(Outcome.NO_GROQ)
        return _NOT_CONFIGURED
    inbound_id, history = await services.store.record_web_message(
        tenant, request.conversation_key, request.text
    )
    with log_context(tenant=str(tenant.user_id), source="web"):
        reply = await generate_reply(tenant, history, request.text, services, deadline)
        await services.store.record_reply(
            inbound_id,
            [reply.text],
            inbound_status=MessageStatus.ANSWERED,
            reply_status=ReplyStatus.DELIVERED,
            error_title=reply.failure,
        )
        logger.info("request processed successfully")
    services.metrics.message(Outcome.REPLIED)  # handed back in the response
    return SeedResponse(status_code=200, body={"success": True, "source": "web", "response": reply.text})
