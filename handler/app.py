"""The handler's entry points: `create_app` (ASGI; `app` reads the environment) and
`HandlerFunction` (AWS Lambda; `lambda_handler` reads the environment).

The Lambda function accepts several event shapes; each is one entry of `EVENT_SHAPES` with the same
two parts (does this event belong to me? handle it), tried in order, as Mangum does for HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
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
from handler.errors import RetryLater, UnrecognisedEvent, describe_failure, scrubbed_for_lambda
from handler.http_routes import deadline_from_context, request_id_from_context
from handler.model import BatchSummary, Deadline, LambdaEvent, PayloadProof
from handler.runtime import LazyRuntime
from handler.settings import HandlerSettings
from shared.envelope import Envelope, InvalidEnvelope
from shared.errors import AssistantError, handling_of
from shared.logs import configure_logging, log_context
from shared.webhook import is_whatsapp_payload

logger = logging.getLogger("handler")

MAX_REQUEST_BYTES = 4 * 1024 * 1024


def create_app(settings: HandlerSettings | None = None, *, runtime: LazyRuntime | None = None) -> Starlette:
    """The handler's HTTP app. Its runtime is built on the first request, from `settings` (or the
    environment when None) unless one is given; a local server's shutdown closes it."""
    lazy = runtime or LazyRuntime(settings)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # Only local servers run this (Mangum runs with lifespan off): Lambda keeps its pool warm.
        configure_logging(settings.log_level if settings else None, loggers=("handler",))
        yield
        await lazy.close()

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
        middleware=[
            Middleware(http_routes.FlushMetrics, runtime=lazy),
            Middleware(http_routes.ScrubbedErrors),
        ],
        max_body_size=MAX_REQUEST_BYTES,
    )
    app.state.runtime = lazy
    return app


@dataclass(slots=True)
class Container:
    """One Lambda container: the event loop every invocation runs on, the runtime built on it, and
    the HTTP app (behind Mangum) that shares that runtime with the other event shapes."""

    loop: asyncio.AbstractEventLoop
    runtime: LazyRuntime
    mangum: Mangum

    @classmethod
    def start(cls, settings: HandlerSettings | None) -> Container:
        runtime = LazyRuntime(settings)
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)  # before Mangum, which would make a loop of its own otherwise
        # Lifespan off: Mangum would otherwise run startup and shutdown around every invocation.
        return cls(
            loop=loop, runtime=runtime, mangum=Mangum(create_app(settings, runtime=runtime), lifespan="off")
        )

    def run(
        self, work: Callable[[Services, Deadline], Awaitable[dict[str, Any]]], context: Any
    ) -> dict[str, Any]:
        """Run `work` on the container's loop with its services and the invocation's deadline."""

        async def run() -> dict[str, Any]:
            runtime = await self.runtime.get()
            deadline = deadline_from_context(context, runtime.settings.outcome_reserve_seconds)
            return await work(runtime.services, deadline)

        return self.loop.run_until_complete(run())

    def flush_metrics(self) -> None:
        """Write the metrics the invocation recorded (none before the runtime exists)."""
        runtime = self.runtime.built
        if runtime is not None:
            runtime.services.metrics.flush()

    def close(self) -> None:
        self.loop.run_until_complete(self.runtime.close())
        self.loop.close()


# --- Lambda event shapes ---------------------------------------------------------------------


def _is_http_event(container: Container, event: Mapping[str, Any], context: Any) -> bool:
    try:
        container.mangum.infer(event, context)  # type: ignore[arg-type]
    except RuntimeError:
        return False
    return True


def _handle_http(container: Container, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    response: dict[str, Any] = container.mangum(event, context)  # type: ignore[arg-type]
    return response


def _batch_result(summary: BatchSummary) -> dict[str, Any]:
    if summary.retry_later:
        # Raising makes Lambda retry the event (1 and 2 minutes later): the retry finishes them.
        raise RetryLater(f"{summary.retry_later} message(s) left for a retry after a passing failure")
    return {"success": True, **summary.as_dict()}


def _handle_envelope(container: Container, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    envelope = Envelope.from_dict(event)

    async def work(services: Services, deadline: Deadline) -> dict[str, Any]:
        summary = await process_envelope(
            envelope, services, deadline, request_id=request_id_from_context(context)
        )
        return _batch_result(summary)

    return container.run(work, context)


def _handle_meta_payload(container: Container, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
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

    return container.run(work, context)


def _handle_seed_request(container: Container, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    try:
        request = parse_seed_request(event)
    except InvalidRequest as invalid:
        return {"statusCode": 400, "success": False, "error": str(invalid)}

    async def work(services: Services, deadline: Deadline) -> dict[str, Any]:
        response = await answer_seed_request(request, services, deadline)
        return {"statusCode": response.status_code, **response.body}

    return container.run(work, context)


@dataclass(frozen=True, slots=True)
class EventShape:
    description: str
    matches: Callable[[Container, Mapping[str, Any], Any], bool]
    handle: Callable[[Container, Mapping[str, Any], Any], dict[str, Any]]


EVENT_SHAPES: tuple[EventShape, ...] = (
    EventShape(
        "forwarder envelope (kind=whatsapp-webhook-envelope)",
        lambda _, event, __: Envelope.matches(event),
        _handle_envelope,
    ),
    EventShape(
        "HTTP event (Lambda Function URL, API Gateway HTTP API or REST API)",
        _is_http_event,
        _handle_http,
    ),
    EventShape(
        "seed edge-function request (text with phoneNumber or webUserId)",
        lambda _, event, __: looks_like_seed_request(event),
        _handle_seed_request,
    ),
    EventShape(
        "Meta webhook payload (object=whatsapp_business_account)",
        lambda _, event, __: is_whatsapp_payload(event),
        _handle_meta_payload,
    ),
)


class HandlerFunction:
    """The Lambda function: `lambda_handler(event, context)` finds the event's shape and hands it
    to that shape's handler.

    Each thread that calls it is one container (Lambda calls a container's function from one
    thread for its whole life; a harness emulating several containers calls from several), with
    its own loop and runtime, built from `settings` (or the environment when None) on first use.

    What it raises reaches Lambda's error report and the dead-letter queue, and makes Lambda retry
    the event: our own errors go as they are when their family fails an invocation
    (`shared/errors.py`), or end it with their message otherwise; anything else is scrubbed
    (`scrubbed_for_lambda`), because a library's message may quote a customer's number or text
    (asyncpg's do, in the message or its DETAIL)."""

    def __init__(self, settings: HandlerSettings | None = None) -> None:
        self._settings = settings
        self._containers = threading.local()

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        configure_logging(self._settings.log_level if self._settings else None, loggers=("handler",))
        container = self._container()
        with log_context(aws_request_id=request_id_from_context(context)):
            try:
                return _dispatch(container, event, context)
            except AssistantError as error:
                if handling_of(error).fail_invocation:
                    raise
                logger.error("invocation ended without a result", extra={"reason": str(error)})
                return {"success": False, "error": str(error)}
            except Exception as error:
                logger.error("invocation failed", extra={"reason": describe_failure(error)})
                raise scrubbed_for_lambda(error) from None
            finally:
                container.flush_metrics()  # once per invocation, whether it returned or raised

    def close_container(self) -> None:
        """End the calling thread's container: its pool, its connections, its loop (a container
        stopping; Lambda itself just freezes and discards it)."""
        container: Container | None = getattr(self._containers, "current", None)
        if container is not None:
            self._containers.current = None
            container.close()

    def _container(self) -> Container:
        container: Container | None = getattr(self._containers, "current", None)
        if container is None:
            container = self._containers.current = Container.start(self._settings)
        # Mangum and our coroutines both run on the container's one loop.
        asyncio.set_event_loop(container.loop)
        return container


def _dispatch(container: Container, event: Any, context: Any) -> dict[str, Any]:
    if isinstance(event, Mapping):
        for shape in EVENT_SHAPES:
            if shape.matches(container, event, context):
                try:
                    return shape.handle(container, event, context)
                except InvalidEnvelope as invalid:
                    logger.error("invalid envelope", extra={"reason": str(invalid)})
                    raise
    keys = sorted(str(key)[:40] for key in event)[:10] if isinstance(event, Mapping) else type(event).__name__
    expected = "; ".join(shape.description for shape in EVENT_SHAPES)
    logger.error("unrecognised event", extra={"keys": keys})
    raise UnrecognisedEvent(f"unrecognised event (got {keys}); expected one of: {expected}")


# What uvicorn serves (`uvicorn handler.app:app`) and what the template names as the function's
# handler (`handler.app.lambda_handler`); both read the environment on first use, not on import.
app = create_app()
lambda_handler = HandlerFunction()

__all__ = ["EVENT_SHAPES", "HandlerFunction", "app", "create_app", "lambda_handler"]
