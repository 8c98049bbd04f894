"""The forwarder's ASGI app: Meta's verification handshake, the webhook, and health.

`app` reads its settings from the environment when it starts (or on its first request under
Mangum); `create_app(settings, transport=...)` builds one from explicit parts for tests.
`lambda_handler` serves the same app behind a Lambda Function URL.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from mangum import Mangum
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from forwarder.errors import HandoffError
from forwarder.facts import WebhookFacts, webhook_facts
from forwarder.health import health
from forwarder.logbatch import batch_root_output, restore_root_output
from forwarder.parking import S3Parking
from forwarder.runtime import LazyRuntime, Runtime, request_runtime
from forwarder.settings import ForwarderSettings
from forwarder.split import plan_handoff
from forwarder.transport import Transport
from shared.errors import AssistantError, ConfigurationError, Forbidden, InvalidInput, handling_of
from shared.json_body import MalformedJson, parse_json_body
from shared.logs import ms_since
from shared.signature import (
    META_SIGNATURE_HEADER,
    Verification,
    handshake_challenge,
    signature_refusal,
    verify_signature,
)
from shared.types import LambdaContext
from shared.webhook import is_whatsapp_payload

logger = logging.getLogger("forwarder")

_OK = PlainTextResponse("EVENT_RECEIVED")
# No family of the error table: a body we will not read, whatever it holds.
_TOO_LARGE = PlainTextResponse("payload too large", status_code=413)
_NOT_LOGGED = WebhookFacts(messages=(), statuses=0)


async def verify_subscription(request: Request) -> Response:
    """Meta's handshake: echo `hub.challenge` when the mode and the verify token are right."""
    expected = request_runtime(request).settings.verify_token
    params = request.query_params
    challenge = handshake_challenge(params, expected)
    if challenge is not None:
        logger.info("Webhook verified")
        return PlainTextResponse(challenge)
    logger.warning(
        "Webhook verification failed",
        extra={"mode": params.get("hub.mode", ""), "has_verify_token": bool(expected)},
    )
    return _refused(Forbidden("webhook verification failed"), "forbidden")


async def receive_webhook(request: Request) -> Response:
    received_at = time.time()
    runtime = request_runtime(request)
    verified = await _verified_body(request, runtime.settings)
    if isinstance(verified, Response):
        return verified
    body, verification = verified
    parsed = _whatsapp_payload(body)
    if isinstance(parsed, Response):
        return parsed
    text, payload = parsed
    signature = request.headers.get(META_SIGNATURE_HEADER)
    return await _hand_off(
        runtime,
        text,
        payload,
        signature=signature,
        verified_by=verification.key_id,
        received_at=received_at,
        size=len(body),
    )


async def _verified_body(
    request: Request, settings: ForwarderSettings
) -> tuple[bytes, Verification] | Response:
    """The raw body if it is within the size limit and signed by one of our Meta apps."""
    limit = settings.max_body_bytes
    declared = _declared_length(request)
    if declared is not None and declared > limit:
        logger.warning("Rejected webhook: body too large", extra={"content_length": declared, "limit": limit})
        return _TOO_LARGE
    try:
        body = await _read_body(request, limit)
    except ClientDisconnect:
        logger.warning("Client disconnected before the body arrived")
        return _refused(InvalidInput("the body ended early"), "incomplete body")
    if body is None:
        logger.warning("Rejected webhook: body too large", extra={"limit": limit})
        return _TOO_LARGE
    verification = verify_signature(
        body, request.headers.get(META_SIGNATURE_HEADER), settings.meta_app_secrets
    )
    refusal = signature_refusal(verification.check, "META_APP_SECRET")
    if refusal is None:
        return body, verification
    if isinstance(refusal, ConfigurationError):
        logger.error("Cannot verify webhook: META_APP_SECRET is not set")
        return _refused(refusal, "not configured")
    logger.warning(
        "Rejected webhook: invalid signature",
        extra={"reason": str(verification.check), "bytes": len(body)},
    )
    return _refused(refusal, "invalid signature")


def _whatsapp_payload(body: bytes) -> tuple[str, dict[str, Any]] | Response:
    """The body as text and as JSON when it is a WhatsApp payload; otherwise the answer to give."""
    try:
        text = body.decode("utf-8")
        payload = parse_json_body(text)
    except (UnicodeDecodeError, MalformedJson) as exc:
        reason = "the body is not UTF-8" if isinstance(exc, UnicodeDecodeError) else str(exc)
        logger.warning("Rejected webhook: malformed JSON", extra={"reason": reason, "bytes": len(body)})
        return _refused(InvalidInput(reason), "malformed JSON")
    # Acknowledged and dropped: Meta would retry anything else forever.
    if not is_whatsapp_payload(payload):
        logger.info(
            "Dropped webhook: not a WhatsApp Business Account payload", extra={"object": _object(payload)}
        )
        return _OK
    if not isinstance(payload.get("entry"), list):
        logger.info("Dropped webhook: no entry list", extra={"object": payload.get("object")})
        return _OK
    return text, payload


async def _hand_off(
    runtime: Runtime,
    text: str,
    payload: dict[str, Any],
    *,
    signature: str | None,
    verified_by: str | None,
    received_at: float,
    size: int,
) -> Response:
    """200 once the handler side accepted every part; 503 (Meta retries) otherwise."""
    handoff = runtime.handoff
    if handoff is None:
        logger.error("Cannot hand off webhook: no handler target (HANDLER_FUNCTION_NAME or HANDLER_URL)")
        return _refused(ConfigurationError("no handler target"), "not configured")
    # Only the INFO lines read these facts (the handler parses the payload for itself).
    facts = webhook_facts(payload) if logger.isEnabledFor(logging.INFO) else _NOT_LOGGED
    _log_incoming(facts)
    planned = plan_handoff(
        text,
        payload,
        signature=signature,
        verified_by=verified_by,
        received_at=received_at,
        invoke_max_bytes=runtime.invoke_max_bytes,
    )
    logger.info(
        "Forwarding to handler",
        extra={
            "transport": handoff.transport.name,
            "messages": len(facts.messages),
            "statuses": facts.statuses,
            "bytes": size,
            "parts": len(planned),
        },
    )
    started = time.perf_counter()
    try:
        report = await handoff.deliver(planned)
    except HandoffError as exc:
        logger.error(
            "Hand-off failed; answering 503 so that Meta retries",
            extra={
                "reason": exc.reason,
                "detail": str(exc),
                "parts": len(planned),
                "handoff_ms": ms_since(started),
            },
        )
        return _refused(exc, "hand-off failed, retry later")
    logger.info(
        "Webhook handed off",
        extra={
            "handoff_ms": ms_since(started),
            "invokes": report.invokes,
            "parked": report.parked,
            "messages": len(facts.messages),
            "statuses": facts.statuses,
        },
    )
    return _OK


def _refused(failure: AssistantError, body: str) -> Response:
    """`body` with the status of `failure`'s family in the error table (shared/errors.py)."""
    return PlainTextResponse(body, status_code=handling_of(failure).http_status)


def _declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None or not raw.strip().isdigit():
        return None
    return int(raw)


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it grows past `limit` (the rest is never read)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _log_incoming(facts: WebhookFacts) -> None:
    """The seed's line per message: who wrote to which number, and how much; never what."""
    for fields in facts.messages:
        logger.info("Processing incoming message", extra=fields)


def _object(payload: object) -> str:
    value = payload.get("object") if isinstance(payload, dict) else None
    return value[:64] if isinstance(value, str) else type(payload).__name__


def create_app(
    settings: ForwarderSettings | None = None,
    *,
    transport: Transport | None = None,
    parking: S3Parking | None = None,
) -> Starlette:
    """The forwarder; with `settings` None it reads the environment on start-up or first request."""
    lazy = LazyRuntime(settings, transport=transport, parking=parking)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        lazy.get()  # configuration errors stop the server here, not on Meta's first webhook
        # A long-running server writes its log lines in batches, off the event loop (never in Lambda,
        # where Mangum runs without lifespan and a frozen container would keep queued lines).
        batched = batch_root_output()
        # boto3's service models and the rest of start-up live as long as the server: keep them out
        # of the garbage collector's full passes, which otherwise stall requests by tens of ms.
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            await lazy.aclose()
            if batched is not None:
                restore_root_output(*batched)

    app = Starlette(
        routes=[
            Route("/webhook", verify_subscription, methods=["GET"]),
            Route("/webhook", receive_webhook, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.runtime = lazy
    return app


def create_lambda_handler(asgi_app: Starlette) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """A Lambda Function URL handler for `asgi_app`; Mangum is built on the first invocation."""
    adapters: list[Mangum] = []

    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        if not adapters:
            adapters.append(Mangum(asgi_app, lifespan="off"))
        return adapters[0](event, context)  # type: ignore[arg-type]

    return handle


app = create_app()
lambda_handler = create_lambda_handler(app)
