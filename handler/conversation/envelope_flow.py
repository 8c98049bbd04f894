"""Processing what the forwarder handed off: the raw webhook body, or where it parked it."""

from __future__ import annotations

import logging

from handler.adapters.s3_parked import read_parked_body
from handler.conversation.answer import process_batch
from handler.conversation.services import Services
from handler.model import BatchSummary, Deadline, LambdaEvent, PayloadProof
from shared.envelope import Envelope, InvalidEnvelope, ParkedBody
from shared.json_body import MalformedJson, parse_json_body
from shared.webhook import MalformedWebhook, is_whatsapp_payload, parse_webhook

logger = logging.getLogger("handler")


async def process_envelope(
    envelope: Envelope, services: Services, deadline: Deadline, *, request_id: str | None = None
) -> BatchSummary:
    """`request_id`: Lambda's, for an asynchronous invoke (None over HTTP: the sender's retries
    there are new requests)."""
    raw = envelope.body if envelope.body is not None else await read_parked_body(_parked(envelope))
    proof = PayloadProof.from_envelope(envelope, raw)
    return await process_payload_text(
        raw,
        services,
        deadline,
        part=f"{envelope.part + 1}/{envelope.parts}",
        proof=proof,
        event=LambdaEvent(request_id=request_id, first_received_at=envelope.received_at)
        if request_id is not None
        else LambdaEvent(),
    )


async def process_payload_text(
    raw: str,
    services: Services,
    deadline: Deadline,
    *,
    proof: PayloadProof,
    part: str = "1/1",
    event: LambdaEvent | None = None,
) -> BatchSummary:
    try:
        payload = parse_json_body(raw)
    except MalformedJson as malformed:
        raise InvalidEnvelope(str(malformed)) from None
    return await process_payload(payload, services, deadline, proof=proof, part=part, event=event)


async def process_payload(
    payload: object,
    services: Services,
    deadline: Deadline,
    *,
    proof: PayloadProof,
    part: str = "1/1",
    event: LambdaEvent | None = None,
) -> BatchSummary:
    if not is_whatsapp_payload(payload):
        logger.info("payload is not a WhatsApp Business Account change, dropped")
        return BatchSummary()
    try:
        batch = parse_webhook(payload)
    except MalformedWebhook as error:
        raise InvalidEnvelope(str(error)) from None
    logger.info(
        "webhook received",
        extra={"part": part, "messages": len(batch.messages), "statuses": len(batch.statuses)},
    )
    # Every way a payload comes in is retried when it fails: Lambda's asynchronous retries, or the
    # sender's (Meta, the forwarder) on a 503.
    return await process_batch(
        batch, services, deadline, proof=proof, may_retry=True, event=event or LambdaEvent()
    )


def _parked(envelope: Envelope) -> ParkedBody:
    assert envelope.parked is not None
    return envelope.parked
