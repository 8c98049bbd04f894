"""Carrying out what `decide.py` says when a human is in the conversation: a quiet message stored
with its reason, an opt-out or opt-in confirmed; and the webhook fields beside messages — the
business's own messages from the WhatsApp Business app (which pause the assistant), marketing
preferences, and the app's syncs (counted, never answered)."""

from __future__ import annotations

import logging
from uuid import UUID

from handler.conversation import decide
from handler.conversation.decide import Confirm, Quiet, RecordEcho, RecordPreference, Refuse
from handler.conversation.deliver import ReplyText, deliver_reply
from handler.conversation.services import Services
from handler.errors import UnstorableValue
from handler.model import BatchSummary, Deadline, MessageResult, Outcome, PayloadProof, Recipient, Tenant
from shared.logs import log_context, mask_phone
from shared.webhook import AppSync, BusinessEcho, PreferenceUpdate, WebhookBatch

logger = logging.getLogger("handler")


async def stay_quiet(inbound_id: UUID, plan: Quiet, services: Services) -> MessageResult:
    await services.store.handover.finish_quietly(inbound_id, plan.reason, plan.change)
    logger.info(
        "message stored, not answered",
        extra={
            "stage": "quiet",
            "reason": plan.reason.value,
            **({"opted_out": plan.change.opted_out} if plan.change else {}),
        },
    )
    return MessageResult(outcome=Outcome.QUIET)


async def confirm(
    tenant: Tenant,
    inbound_id: UUID,
    recipient: Recipient,
    plan: Confirm,
    services: Services,
    deadline: Deadline,
    retries_remain: bool,
) -> MessageResult:
    """Record the customer's choice, then send the confirmation as the message's reply."""
    await services.store.handover.note_opt_change(inbound_id, plan.reason, plan.change)
    logger.info(
        "customer opted out of the assistant" if plan.change.opted_out else "customer opted back in",
        extra={"reason": plan.reason.value},
    )
    return await deliver_reply(
        tenant, inbound_id, recipient, ReplyText(text=plan.text), services, deadline, retries_remain
    )


# --- the fields beside messages --------------------------------------------------------------


async def record_business_events(
    batch: WebhookBatch, services: Services, proof: PayloadProof, summary: BatchSummary
) -> None:
    """Every echo, preference and sync of the payload, before its customer messages are planned
    (an echo and a customer message in one payload: the customer's message finds the pause)."""
    for echo in batch.echoes:
        with log_context(
            phone_number_id=echo.phone_number_id,
            message_id=echo.id,
            sender=mask_phone(echo.customer_id),
            message_type=echo.type.value,
        ):
            summary.count_event(f"echo_{await _record_echo(echo, services, proof)}")
    for update in batch.preferences:
        with log_context(phone_number_id=update.phone_number_id, sender=mask_phone(update.customer_id)):
            summary.count_event(f"preference_{await _record_preference(update, services, proof)}")
    for sync in batch.syncs:
        _log_sync(sync)
        summary.count_event(f"{sync.field}_ignored")


async def _record_echo(echo: BusinessEcho, services: Services, proof: PayloadProof) -> str:
    tenant = await services.store.handover.find_tenant_by_number(echo.phone_number_id)
    if tenant is None:
        logger.warning("business message for no active tenant, not recorded")
        return Outcome.NO_TENANT.value
    plan = decide.plan_echo(echo, tenant, proof)
    if isinstance(plan, Refuse):
        logger.warning("business message not signed with the tenant's app secret, not recorded")
        return Outcome.REFUSED.value
    return await _write_echo(echo, tenant, plan, services)


async def _write_echo(echo: BusinessEcho, tenant: Tenant, plan: RecordEcho, services: Services) -> str:
    try:
        record = await services.store.handover.record_business_echo(
            tenant, echo, content=plan.content, pause_seconds=plan.pause_seconds
        )
    except UnstorableValue as error:
        logger.error("business message refused: a value cannot be stored", extra={"reason": str(error)})
        return Outcome.INVALID.value
    logger.info(
        "business message recorded: the assistant steps aside",
        extra={
            "stage": "echo",
            "tenant": str(tenant.user_id),
            "echo": echo.kind.value,
            "outcome": record.outcome.value,
            "paused_until": record.paused_until.isoformat() if record.paused_until else None,
        },
    )
    return record.outcome.value


async def _record_preference(update: PreferenceUpdate, services: Services, proof: PayloadProof) -> str:
    tenant = await services.store.handover.find_tenant_by_number(update.phone_number_id)
    if tenant is None:
        logger.warning("marketing preference for no active tenant, not recorded")
        return Outcome.NO_TENANT.value
    plan = decide.plan_preference(update, tenant, proof)
    if plan is None:
        logger.info("marketing preference of a kind we do not know, ignored", extra={"value": update.value})
        return Outcome.IGNORED.value
    if isinstance(plan, Refuse):
        logger.warning("marketing preference not signed with the tenant's app secret, not recorded")
        return Outcome.REFUSED.value
    return await _write_preference(update, tenant, plan, services)


async def _write_preference(
    update: PreferenceUpdate, tenant: Tenant, plan: RecordPreference, services: Services
) -> str:
    try:
        applied = await services.store.handover.record_marketing_preference(
            tenant, update, opted_out=plan.opted_out
        )
    except UnstorableValue as error:
        logger.error("marketing preference refused: a value cannot be stored", extra={"reason": str(error)})
        return Outcome.INVALID.value
    logger.info(
        "marketing preference recorded" if applied else "marketing preference older than the one recorded",
        extra={"tenant": str(tenant.user_id), "opted_out": plan.opted_out, "category": update.category},
    )
    return "recorded" if applied else "stale"


def _log_sync(sync: AppSync) -> None:
    logger.info(
        "WhatsApp Business app sync acknowledged, not imported",
        extra={
            "field": sync.field,
            "phone_number_id": sync.phone_number_id,
            "items": sync.items,
            "phase": sync.phase,
            "chunk_order": sync.chunk_order,
            "progress": sync.progress,
            "errors": sync.errors,
        },
    )
