"""The two Lambda functions, run in this process as Lambda runs them.

Each function runs on a thread of its own (one warm container: one event loop, kept for the
invocation) with a fake Lambda context. The forwarder's hand-off is real: boto3 invokes the
handler through a Lambda Invoke stand-in, which runs the real `handler.app.lambda_handler` in
its own emulated container, with Lambda's asynchronous retries.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from forwarder import app as forwarder_app
from handler.app import HandlerFunction
from infra.sample_events import FORWARDER, HANDLER
from standins.lambda_container import FakeLambdaContext
from standins.lambda_invoke import LambdaInvokeStandin

# The handler's Lambda function (handler.app.lambda_handler builds the same from the environment,
# on first use): each thread that calls it is one container, closed with `close_container`.
_HANDLER_FUNCTION = HandlerFunction()

# infra/template.yaml's timeouts (the handler's is a parameter; this is its default).
TIMEOUT_SECONDS = {HANDLER: 90.0, FORWARDER: 15.0}
ACCOUNT_ID = "123456789012"
REGION = "eu-west-1"
# Lambda retries a failed asynchronous invoke after about 1 then 2 minutes; here sooner.
HANDOFF_RETRY_DELAY_SECONDS = 1.0
HANDOFF_RETRY_ATTEMPTS = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionResult:
    """What one invocation returned, or Lambda's error object when it raised."""

    function: str
    result: Any
    failed: bool = False
    attempts: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Invocation:
    main: FunctionResult
    handed_off: tuple[FunctionResult, ...] = ()  # the handler invocations the forwarder's hand-off led to


def lambda_context(function: str) -> FakeLambdaContext:
    return FakeLambdaContext(
        function_name=function,
        aws_request_id=str(uuid.uuid4()),
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}",
        log_group_name=f"/aws/lambda/{function}",
        log_stream_name="make-invoke",
        deadline=time.monotonic() + TIMEOUT_SECONDS[function],
    )


def error_object(error: BaseException) -> dict[str, str]:
    """How Lambda reports a function that raised (without the stack trace)."""
    return {"errorType": type(error).__name__, "errorMessage": str(error)}


def invoke_handler(event: dict[str, Any]) -> Invocation:
    """`handler.app.lambda_handler(event, context)` in a fresh container of its own."""
    # The handler keeps a pool and a loop per container (handler/app.py); this one ends here.
    result = _in_container(
        HANDLER, _HANDLER_FUNCTION, event, close=lambda _loop: _HANDLER_FUNCTION.close_container()
    )
    return Invocation(main=result)


def invoke_forwarder(event: dict[str, Any], lambdas: LambdaInvokeStandin) -> Invocation:
    """`forwarder.app.lambda_handler(event, context)`; then wait until the handler invocations its
    hand-off queued (on `lambdas`) have finished, retries included."""

    def close(loop: asyncio.AbstractEventLoop) -> None:
        # The forwarder keeps its clients for the container's life (read from the environment on
        # first use); closing them lets the next invocation read this one's environment afresh.
        loop.run_until_complete(forwarder_app.app.state.runtime.aclose())

    # The Lambda API may have run the handler before (a warm container): only this hand-off counts.
    completed, given_up = len(lambdas.completions), len(lambdas.dead_letters)
    main = _in_container(FORWARDER, forwarder_app.lambda_handler, event, close=close)
    lambdas.wait_idle(timeout=TIMEOUT_SECONDS[HANDLER] * (1 + HANDOFF_RETRY_ATTEMPTS))
    finished = [
        FunctionResult(function=HANDLER, result=done.result, attempts=done.attempts)
        for done in lambdas.completions[completed:]
    ]
    failed = [
        FunctionResult(
            function=HANDLER,
            result={"errorType": dead.error_type, "errorMessage": dead.error_message},
            failed=True,
            attempts=dead.attempts,
        )
        for dead in lambdas.dead_letters[given_up:]
    ]
    return Invocation(main=main, handed_off=(*finished, *failed))


def handler_lambda_api() -> LambdaInvokeStandin:
    """The Lambda Invoke API (not started yet) with the real handler registered as HandlerFunction."""
    return LambdaInvokeStandin(
        {HANDLER: _HANDLER_FUNCTION},
        max_retry_attempts=HANDOFF_RETRY_ATTEMPTS,
        retry_delay_seconds=HANDOFF_RETRY_DELAY_SECONDS,
        function_timeout_seconds=TIMEOUT_SECONDS[HANDLER],
        region=REGION,
        on_container_stop=_HANDLER_FUNCTION.close_container,  # that container's pool, on its own thread
    )


def _in_container(
    function: str,
    entry: Callable[[Any, Any], Any],
    event: dict[str, Any],
    *,
    close: Callable[[asyncio.AbstractEventLoop], object],
) -> FunctionResult:
    """Run `entry` once on a thread of its own with an event loop of its own (Mangum runs the
    ASGI app on the thread's current loop), then `close` what the container kept."""

    def run() -> FunctionResult:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            return FunctionResult(function=function, result=entry(event, lambda_context(function)))
        except Exception as error:
            return FunctionResult(function=function, result=error_object(error), failed=True)
        finally:
            close(loop)
            asyncio.set_event_loop(None)
            loop.close()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"lambda-{function}") as container:
        return container.submit(run).result()
