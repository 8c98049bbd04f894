"""The handler's entry points: `app` (ASGI) and `lambda_handler` (AWS Lambda).

`lambda_handler` accepts several event shapes; each is one entry of `EVENT_SHAPES` with the same
two parts (does this event belong to me? handle it), tried in order, as Mangum does for HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from mangum import Mangum
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from handler import http_routes
from handler.conversation.envelope_flow import process_envelope, process_payload
from handler.conversation.seed_relay import answer_seed_request
from handler.conversation.seed_request import InvalidRequest, looks_like_seed_request, parse_seed_request
from handler.conversation.services import Services
from handler.errors import (
    HandlerError,
    RetryLater,
    UnrecognisedEvent,
    describe_failure,
    scrubbed_for_lambda,
)
from handler.http_routes import TRANSIENT_FAILURES, deadline_from_context, request_id_from_context
from handler.model import BatchSummary, Deadline, LambdaEvent, PayloadProof
from handler.runtime import close_runtime, container_loop, get_runtime
from shared.envelope import Envelope, InvalidEnvelope
from shared.logs import configure_logging, log_context
from shared.webhook import is_whatsapp_payload

logger = logging.getLogger("handler")

MAX_REQUEST_BYTES = 4 * 1024 * 1024


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    # Only local servers run this (Mangum runs with lifespan off): Lambda keeps its pool warm.
    configure_logging()
    yield
    await close_runtime()


app = Starlette(
    routes=[
        Route("/health", http_routes.health, methods=["GET"]),
        Route("/webhook", http_routes.verify_webhook, methods=["GET"]),
        Route("/webhook", http_routes.meta_webhook, methods=["POST"]),
        Route("/internal/envelope", http_routes.forwarded_envelope, methods=["POST"]),
        Route("/functions/v1/api-chatbot", http_routes.seed_chatbot, methods=["POST"]),
        Route("/chat", http_routes.web_chat, methods=["POST"]),
    ],
    lifespan=lifespan,
    middleware=[Middleware(http_routes.ScrubbedErrors)],
    max_body_size=MAX_REQUEST_BYTES,
)


@cache
def _mangum() -> Mangum:
    # Lifespan off: Mangum would otherwise run startup and shutdown around every invocation.
    return Mangum(app, lifespan="off")


# --- Lambda event shapes ---------------------------------------------------------------------


def _is_http_event(event: Mapping[str, Any], context: Any) -> bool:
    try:
        _mangum().infer(event, context)  # type: ignore[arg-type]
    except RuntimeError:
        return False
    return True


def _handle_http(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    response: dict[str, Any] = _mangum()(event, context)  # type: ignore[arg-type]
    return response


def _on_container_loop(
    context: Any, work: Callable[[Services, Deadline], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    """Run `work` on the container's loop with its services and the invocation's deadline."""

    async def run() -> dict[str, Any]:
        runtime = await get_runtime()
        deadline = deadline_from_context(context, runtime.settings.outcome_reserve_seconds)
        return await work(runtime.services, deadline)

    return container_loop().run_until_complete(run())


def _batch_result(summary: BatchSummary) -> dict[str, Any]:
    if summary.retry_later:
        # Raising makes Lambda retry the event (1 and 2 minutes later): the retry finishes them.
        raise RetryLater(f"{summary.retry_later} message(s) left for a retry after a passing failure")
    return {"success": True, **summary.as_dict()}


def _handle_envelope(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    envelope = Envelope.from_dict(event)

    async def work(services: Services, deadline: Deadline) -> dict[str, Any]:
        summary = await process_envelope(
            envelope, services, deadline, request_id=request_id_from_context(context)
        )
        return _batch_result(summary)

    return _on_container_loop(context, work)


def _handle_meta_payload(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """A raw Meta payload as the event (a console test): trusted like any direct invoke (IAM)."""

    async def work(services: Services, deadline: Deadline) -> dict[str, Any]:
        summary = await process_payload(
            dict(event),
            services,
            deadline,
            proof=PayloadProof.unsigned(),
            event=LambdaEvent(request_id=request_id_from_context(context)),
        )
        return _batch_result(summary)

    return _on_container_loop(context, work)


def _handle_seed_request(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    try:
        request = parse_seed_request(event)
    except InvalidRequest as invalid:
        return {"statusCode": 400, "success": False, "error": str(invalid)}

    async def work(services: Services, deadline: Deadline) -> dict[str, Any]:
        response = await answer_seed_request(request, services, deadline)
        return {"statusCode": response.status_code, **response.body}

    return _on_container_loop(context, work)


@dataclass(frozen=True, slots=True)
class EventShape:
    description: str
    matches: Callable[[Mapping[str, Any], Any], bool]
    handle: Callable[[Mapping[str, Any], Any], dict[str, Any]]


EVENT_SHAPES: tuple[EventShape, ...] = (
    EventShape(
        "forwarder envelope (kind=whatsapp-webhook-envelope)",
        lambda event, _: Envelope.matches(event),
        _handle_envelope,
    ),
    EventShape(
        "HTTP event (Lambda Function URL, API Gateway HTTP API or REST API)",
        _is_http_event,
        _handle_http,
    ),
    EventShape(
        "seed edge-function request (text with phoneNumber or webUserId)",
        lambda event, _: looks_like_seed_request(event),
        _handle_seed_request,
    ),
    EventShape(
        "Meta webhook payload (object=whatsapp_business_account)",
        lambda event, _: is_whatsapp_payload(event),
        _handle_meta_payload,
    ),
)


# Raised to Lambda as they are: our own errors (their messages are ours) and failures a retry may cure.
_KEEP_THEIR_TYPE: tuple[type[BaseException], ...] = (HandlerError, InvalidEnvelope, *TRANSIENT_FAILURES)


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """AWS Lambda entry: find the event's shape and hand it to that shape's handler.

    What it raises reaches Lambda's error report and the dead-letter queue: our own errors and
    the infrastructure failures a retry may cure keep their type; anything else is scrubbed
    (`scrubbed_for_lambda`), because a library's message may quote a customer's number or text
    (asyncpg's do, in the message or its DETAIL)."""
    configure_logging()
    container_loop()  # Mangum and our coroutines both run on the container's one loop
    with log_context(aws_request_id=request_id_from_context(context)):
        try:
            return _dispatch(event, context)
        except _KEEP_THEIR_TYPE:
            raise
        except Exception as error:
            logger.error("invocation failed", extra={"reason": describe_failure(error)})
            raise scrubbed_for_lambda(error, _KEEP_THEIR_TYPE) from None


def _dispatch(event: Any, context: Any) -> dict[str, Any]:
    if isinstance(event, Mapping):
        for shape in EVENT_SHAPES:
            if shape.matches(event, context):
                try:
                    return shape.handle(event, context)
                except InvalidEnvelope as invalid:
                    logger.error("invalid envelope", extra={"reason": str(invalid)})
                    raise
    keys = sorted(str(key)[:40] for key in event)[:10] if isinstance(event, Mapping) else type(event).__name__
    expected = "; ".join(shape.description for shape in EVENT_SHAPES)
    logger.error("unrecognised event", extra={"keys": keys})
    raise UnrecognisedEvent(f"unrecognised event (got {keys}); expected one of: {expected}")


__all__ = ["EVENT_SHAPES", "app", "lambda_handler"]
