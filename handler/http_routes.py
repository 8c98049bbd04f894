"""The handler's HTTP endpoints (the same under uvicorn locally and behind Mangum in Lambda)."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from handler.adapters.metrics import MetricsRecorder, Refusal
from handler.conversation.envelope_flow import process_envelope, process_payload_text
from handler.conversation.seed_relay import answer_seed_request
from handler.conversation.seed_request import SeedRequest, parse_seed_request
from handler.errors import DatabaseUnavailable, InvocationFailed, RetryLater, describe_failure
from handler.model import BatchSummary, Deadline, PayloadProof
from handler.runtime import LazyRuntime, Runtime
from shared import SERVICE_VERSION
from shared.envelope import Envelope, InvalidEnvelope
from shared.errors import (
    AssistantError,
    ConfigurationError,
    Forbidden,
    InvalidInput,
    NotFound,
    TransientError,
    Unauthorized,
    handling_of,
)
from shared.json_body import MalformedJson, parse_json_body
from shared.signature import (
    FORWARDER_SIGNATURE_HEADER,
    META_SIGNATURE_HEADER,
    SignatureCheck,
    check_signature,
    handshake_challenge,
    signature_refusal,
    verify_signature,
)

logger = logging.getLogger("handler")

# Time kept when nothing says how long we have (outside Lambda).
_DEFAULT_BUDGET_SECONDS = 25.0


async def runtime_of(request: Request) -> Runtime:
    """The runtime of the app serving `request` (`create_app` puts it in the app's state)."""
    lazy: LazyRuntime = request.app.state.runtime
    return await lazy.get()


def request_deadline(request: Request, runtime: Runtime) -> Deadline:
    """The Lambda's remaining time (Mangum puts its context in the scope), less room to record."""
    context = request.scope.get("aws.context")
    return deadline_from_context(context, runtime.settings.outcome_reserve_seconds)


def request_id_from_context(context: Any) -> str | None:
    """Lambda's request id: the same for every attempt of one asynchronous event."""
    request_id = getattr(context, "aws_request_id", None)
    return request_id if isinstance(request_id, str) and request_id else None


def deadline_from_context(context: Any, reserve: float) -> Deadline:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        return Deadline.after(max(remaining() / 1000 - reserve, 1.0))
    return Deadline.after(_DEFAULT_BUDGET_SECONDS)


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"success": False, "error": message}, status_code=status)


def refused(failure: AssistantError, message: str | None = None) -> JSONResponse:
    """The answer to `failure`: the status its family has in the error table (shared/errors.py)."""
    return error(handling_of(failure).http_status, str(failure) if message is None else message)


def summary_response(summary: BatchSummary) -> JSONResponse:
    if summary.retry_later:
        # A passing failure left messages unanswered: the sender's retry finishes them.
        status = handling_of(RetryLater()).http_status
        return JSONResponse({"success": False, "retry": True, **summary.as_dict()}, status_code=status)
    return JSONResponse({"success": True, **summary.as_dict()})


def refusal_response(
    check: SignatureCheck, secret_variable: str, metrics: MetricsRecorder
) -> Response | None:
    """None for a valid signature; else the answer `shared.signature.signature_refusal` rules."""
    refusal = signature_refusal(check, secret_variable)
    if refusal is None:
        return None
    if isinstance(refusal, ConfigurationError):
        logger.error("cannot verify signatures: setting missing", extra={"setting": secret_variable})
        return refused(refusal, "not configured")
    logger.warning("signature rejected", extra={"reason": check.value})
    metrics.refused(Refusal.SIGNATURE)
    return refused(refusal)


async def guarded(work: Callable[[], Awaitable[Response]]) -> Response:
    """Turn a dependency outage (or our own configuration, until fixed) into the table's answer,
    503: retry me, never a 200 that loses the message."""
    try:
        return await work()
    except (TransientError, ConfigurationError) as failure:
        logger.error("dependency unavailable", extra={"error_type": type(failure).__name__})
        return refused(failure, "temporarily unavailable, retry later")


class FlushMetrics:
    """ASGI middleware: the metrics a request recorded are written when it ends, answered or not (a
    local server has no invocation to end; behind Mangum the Lambda entry's flush finds nothing
    left)."""

    def __init__(self, app: ASGIApp, *, runtime: LazyRuntime) -> None:
        self._app = app
        self._runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._app(scope, receive, send)
        finally:
            if (runtime := self._runtime.built) is not None:
                runtime.services.metrics.flush()


class ScrubbedErrors:
    """ASGI middleware: an error no route expected becomes a 500 and one log line naming its type
    only, instead of a traceback (whose message may quote a value) from the server or Mangum."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, receive, tracking_send)
        except Exception as failure:
            logger.error(
                "request failed", extra={"path": scope.get("path", ""), "reason": describe_failure(failure)}
            )
            if not started:
                await refused(InvocationFailed(describe_failure(failure)), "internal error")(
                    scope, receive, send
                )


async def health(request: Request) -> Response:
    runtime = await runtime_of(request)
    database_ok = True
    try:
        await runtime.services.store.ping()
    except TransientError:
        database_ok = False
    settings = runtime.settings
    body = {
        "status": "healthy" if database_ok else "unhealthy",
        "version": SERVICE_VERSION,
        "config": {
            "hasDatabase": database_ok,
            "hasVerifyToken": bool(settings.verify_token),
            "hasAppSecret": bool(settings.meta_app_secrets),
            "hasForwarderSecret": bool(settings.forwarder_handler_secret),
        },
    }
    status = 200 if database_ok else handling_of(DatabaseUnavailable()).http_status
    return JSONResponse(body, status_code=status)


async def verify_webhook(request: Request) -> Response:
    """Meta's subscription handshake, for deployments where Meta calls the handler directly."""
    runtime = await runtime_of(request)
    challenge = handshake_challenge(request.query_params, runtime.settings.verify_token)
    if challenge is not None:
        return PlainTextResponse(challenge)
    logger.warning("webhook verification refused")
    return PlainTextResponse("Forbidden", status_code=handling_of(Forbidden()).http_status)


async def meta_webhook(request: Request) -> Response:
    """Meta calling the handler directly: the same signature check as the forwarder's."""
    runtime = await runtime_of(request)
    body = await request.body()
    verification = verify_signature(
        body, request.headers.get(META_SIGNATURE_HEADER), runtime.settings.meta_app_secrets
    )
    if refusal := refusal_response(verification.check, "META_APP_SECRET", runtime.services.metrics):
        return refusal
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        logger.warning("webhook refused", extra={"reason": "body is not UTF-8"})
        return refused(InvalidInput("body is not UTF-8"))

    async def work() -> Response:
        try:
            summary = await process_payload_text(
                text,
                runtime.services,
                request_deadline(request, runtime),
                proof=PayloadProof.signed(
                    body, request.headers.get(META_SIGNATURE_HEADER), verified_by=verification.key_id
                ),
            )
        except InvalidEnvelope as invalid:
            logger.warning("webhook refused", extra={"reason": str(invalid)})
            return refused(invalid)
        return summary_response(summary)

    return await guarded(work)


async def forwarded_envelope(request: Request) -> Response:
    """The forwarder's development transport: an envelope signed with the shared secret."""
    runtime = await runtime_of(request)
    body = await request.body()
    secret = runtime.settings.forwarder_handler_secret
    check = check_signature(body, request.headers.get(FORWARDER_SIGNATURE_HEADER), [secret] if secret else [])
    if refusal := refusal_response(check, "FORWARDER_HANDLER_SECRET", runtime.services.metrics):
        return refusal
    try:
        data = parse_json_body(body)
        if not isinstance(data, dict):
            raise InvalidEnvelope("the envelope must be a JSON object")
        envelope = Envelope.from_dict(data)
    except (MalformedJson, InvalidEnvelope) as invalid:
        logger.warning("forwarded envelope refused", extra={"reason": str(invalid)})
        return refused(invalid, f"invalid envelope: {invalid}")

    async def work() -> Response:
        try:
            # No request id: the sender's retries over HTTP are new requests, so every claim counts.
            summary = await process_envelope(envelope, runtime.services, request_deadline(request, runtime))
        except InvalidEnvelope as invalid:
            return refused(invalid, f"invalid envelope: {invalid}")
        return summary_response(summary)

    return await guarded(work)


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


_WEB_CHAT_KEY_REFUSED = "missing or invalid web chat key"


async def web_chat(request: Request) -> Response:
    """`POST /chat`: the web chat, for a tenant's own web chat key only; it never sends WhatsApp."""
    bearer = bearer_token(request)
    if bearer is None:
        logger.warning("web chat refused: no key", extra={"route": "/chat"})
        # Refused before the runtime is needed: counted once it exists (not a container's first request).
        lazy: LazyRuntime = request.app.state.runtime
        if (built := lazy.built) is not None:
            built.services.metrics.refused(Refusal.WEB_CHAT_KEY)
        return refused(Unauthorized(_WEB_CHAT_KEY_REFUSED))
    runtime = await runtime_of(request)
    try:
        seed_request = parse_seed_request(parse_json_body(await request.body()), web_only=True)
    except InvalidInput as invalid:
        logger.warning("web chat request refused", extra={"reason": str(invalid)})
        return refused(invalid)
    return await _answer(request, runtime, replace(seed_request, web_chat_key=bearer))


async def seed_chatbot(request: Request) -> Response:
    """`POST /functions/v1/api-chatbot`: the old webhook's relay, for the deployment's seed route key
    only (`SEED_ROUTE_KEY`, as the old webhook sent its bearer key); off when none is configured."""
    runtime = await runtime_of(request)
    expected = runtime.settings.seed_route_key
    if not expected:
        logger.warning("seed route called but SEED_ROUTE_KEY is not set: the route is off")
        return refused(NotFound("not found"))
    presented = bearer_token(request) or ""
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        logger.warning("seed route refused: missing or wrong key", extra={"hasKey": bool(presented)})
        runtime.services.metrics.refused(Refusal.SEED_ROUTE_KEY)
        return refused(Unauthorized("missing or invalid key"))
    try:
        seed_request = parse_seed_request(parse_json_body(await request.body()))
    except InvalidInput as invalid:
        logger.warning("seed request refused", extra={"reason": str(invalid)})
        return refused(invalid)
    return await _answer(request, runtime, seed_request)


async def _answer(request: Request, runtime: Runtime, seed_request: SeedRequest) -> Response:
    async def work() -> Response:
        response = await answer_seed_request(
            seed_request, runtime.services, request_deadline(request, runtime)
        )
        return JSONResponse(response.body, status_code=response.status_code)

    return await guarded(work)
