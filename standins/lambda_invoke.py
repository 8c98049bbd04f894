"""A local AWS Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`) as boto3 speaks it.

Point boto3 at it with `AWS_ENDPOINT_URL_LAMBDA=standin.endpoint_url`. Every invoke is recorded.
A function registered with a Python callable runs in ONE emulated container: one worker thread,
one invocation at a time, always the same thread (a handler may keep a per-container event loop).
`Event` invokes are queued and answered 202 at once, then run with Lambda's asynchronous retries
(`max_retry_attempts`, default 2) and end in `dead_letters` if every attempt raised.
`RequestResponse` invokes wait for the result. Faults (500, 429, a delay) can be scripted.

    python -m standins.lambda_invoke --port 9001 --function handler=handler.app:lambda_handler
"""

from __future__ import annotations

import asyncio
import importlib
import json
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from standins.lambda_container import (
    Completion,
    Container,
    DeadLetter,
    FakeLambdaContext,
    IdleTracker,
    LambdaFunction,
)
from standins.scripting import FaultScript, Recorder
from standins.server import BackgroundServer, serve_forever, standalone_arguments

__all__ = [
    "Completion",
    "DeadLetter",
    "FakeLambdaContext",
    "Invocation",
    "LambdaFault",
    "LambdaFunction",
    "LambdaInvokeStandin",
]

INVOKE_PATH = "/2015-03-31/functions/{name}/invocations"
EVENT_PAYLOAD_LIMIT = 1_048_576  # Lambda's asynchronous invoke limit (1 MB)
SYNC_PAYLOAD_LIMIT = 6_291_456  # and the synchronous one (6 MB)
ACCOUNT_ID = "123456789012"


class InvocationType(StrEnum):
    EVENT = "Event"
    REQUEST_RESPONSE = "RequestResponse"
    DRY_RUN = "DryRun"


class FaultKind(StrEnum):
    SERVICE_ERROR = "service_error"  # 500 ServiceException
    THROTTLE = "throttle"  # 429 TooManyRequestsException
    DELAY = "delay"  # answer late; dropped if the client gave up meanwhile


@dataclass(frozen=True, slots=True, kw_only=True)
class LambdaFault:
    kind: FaultKind
    seconds: float = 0.0

    @classmethod
    def service_error(cls) -> LambdaFault:
        return cls(kind=FaultKind.SERVICE_ERROR)

    @classmethod
    def throttle(cls) -> LambdaFault:
        return cls(kind=FaultKind.THROTTLE)

    @classmethod
    def delay(cls, seconds: float) -> LambdaFault:
        return cls(kind=FaultKind.DELAY, seconds=seconds)


@dataclass(frozen=True, slots=True, kw_only=True)
class Invocation:
    """One invoke request as received, and the HTTP status the stand-in answered (0: client gone)."""

    function_name: str
    payload: bytes
    invocation_type: str
    request_id: str
    status: int
    fault: FaultKind | None = None

    @property
    def accepted(self) -> bool:
        """Did Lambda take it (202 queued, 200 ran)? Only these count as delivered."""
        return 200 <= self.status < 300

    def event(self) -> Any:
        return json.loads(self.payload)


def _function_name(path_name: str) -> str:
    """`name`, `name:alias`, `123456789012:function:name` or a full ARN, down to the bare name."""
    if "function:" in path_name:
        path_name = path_name.split("function:", 1)[1]
    return path_name.split(":", 1)[0]


def _error(status: int, error_type: str, message: str, *, kind: str = "User", **extra: str) -> Response:
    """AWS's JSON error shape: the code in `x-amzn-ErrorType`, `Type` and `message` in the body."""
    headers = {"x-amzn-ErrorType": error_type, "x-amzn-RequestId": str(uuid.uuid4())}
    if status == 429:
        headers["Retry-After"] = "1"
    return JSONResponse({"Type": kind, "message": message, **extra}, status_code=status, headers=headers)


class LambdaInvokeStandin(BackgroundServer):
    """Lambda's Invoke API on 127.0.0.1.

    `functions`: name → callable, or None to accept and record without running anything (a
    zero-latency Lambda). `accept_any`: accept every function name that way; otherwise an unknown
    name gets 404 ResourceNotFoundException.
    """

    def __init__(
        self,
        functions: Mapping[str, LambdaFunction | None] | None = None,
        *,
        accept_any: bool = False,
        max_retry_attempts: int = 2,
        retry_delay_seconds: float = 0.0,
        function_timeout_seconds: float = 30.0,
        event_payload_limit: int = EVENT_PAYLOAD_LIMIT,
        region: str = "us-east-1",
        concurrency: int = 1,
        on_container_stop: Callable[[], object] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.accept_any = accept_any
        self.concurrency = concurrency  # containers per function, as Lambda scales out
        self._on_container_stop = on_container_stop
        self.max_retry_attempts = max_retry_attempts
        self.retry_delay_seconds = retry_delay_seconds
        self.function_timeout_seconds = function_timeout_seconds
        self.event_payload_limit = event_payload_limit
        self.region = region
        self.faults: FaultScript[str, LambdaFault] = FaultScript()
        self.recorder: Recorder[Invocation] = Recorder()
        self.dead_letter_recorder: Recorder[DeadLetter] = Recorder()
        self.completion_recorder: Recorder[Completion] = Recorder()
        # Seconds each invocation waited for a free container after it was due (its invoke, or
        # the end of its retry delay): Lambda's own queue, when more events come than containers.
        self.queue_wait_recorder: Recorder[float] = Recorder()
        self._functions: dict[str, LambdaFunction | None] = dict(functions or {})
        self._containers: dict[str, Container] = {}
        self._containers_lock = threading.Lock()
        self._idle = IdleTracker()
        super().__init__(self._build_app(), host=host, port=port)

    @property
    def endpoint_url(self) -> str:
        """What `AWS_ENDPOINT_URL_LAMBDA` (or `endpoint_url=`) should be."""
        return self.base_url

    @property
    def invocations(self) -> list[Invocation]:
        """Every invoke request so far, in arrival order, including refused ones."""
        return self.recorder.snapshot()

    @property
    def accepted(self) -> list[Invocation]:
        return [invocation for invocation in self.recorder.snapshot() if invocation.accepted]

    @property
    def dead_letters(self) -> list[DeadLetter]:
        return self.dead_letter_recorder.snapshot()

    @property
    def completions(self) -> list[Completion]:
        """Each invocation a registered callable finished, with what it returned."""
        return self.completion_recorder.snapshot()

    def register(self, name: str, function: LambdaFunction | None = None) -> None:
        with self._containers_lock:
            self._functions[name] = function
            old = self._containers.pop(name, None)
        if old is not None:
            old.stop()

    def fail_next(self, fault: LambdaFault, *, times: int | None = 1, function: str | None = None) -> None:
        """Apply `fault` to the next `times` invokes (of `function`, or of any)."""
        self.faults.add(
            fault, times=times, when=None if function is None else (lambda name: name == function)
        )

    def reset(self) -> None:
        """Forget recorded invocations, dead letters and completions, and drop pending faults."""
        self.recorder.clear()
        self.dead_letter_recorder.clear()
        self.completion_recorder.clear()
        self.queue_wait_recorder.clear()
        self.faults.clear()

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Block until every queued invocation ran (retries included); TimeoutError otherwise."""
        self._idle.wait(timeout)

    def stop(self) -> None:
        super().stop()
        with self._containers_lock:
            containers, self._containers = list(self._containers.values()), {}
        for container in containers:
            container.stop()

    def _container(self, name: str, function: LambdaFunction) -> Container:
        with self._containers_lock:
            container = self._containers.get(name)
            if container is None:
                container = Container(
                    name=name,
                    function=function,
                    arn=f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{name}",
                    timeout_seconds=self.function_timeout_seconds,
                    max_retry_attempts=self.max_retry_attempts,
                    retry_delay_seconds=self.retry_delay_seconds,
                    idle=self._idle,
                    on_dead_letter=self.dead_letter_recorder.append,
                    on_completion=self.completion_recorder.append,
                    concurrency=self.concurrency,
                    on_stop=self._on_container_stop,
                    on_queue_wait=self.queue_wait_recorder.append,
                )
                self._containers[name] = container
            return container

    def _build_app(self) -> Starlette:
        return Starlette(routes=[Route(INVOKE_PATH, self._invoke, methods=["POST"])])

    async def _invoke(self, request: Request) -> Response:
        name = _function_name(request.path_params["name"])
        kind = request.headers.get("x-amz-invocation-type", InvocationType.REQUEST_RESPONSE.value)
        payload = await request.body()
        request_id = str(uuid.uuid4())

        def record(status: int, fault: FaultKind | None = None) -> None:
            self.recorder.append(
                Invocation(
                    function_name=name,
                    payload=payload,
                    invocation_type=kind,
                    request_id=request_id,
                    status=status,
                    fault=fault,
                )
            )

        fault = self.faults.take(name)
        if fault is not None and fault.kind is FaultKind.THROTTLE:
            record(429, fault.kind)
            return _error(
                429, "TooManyRequestsException", "Rate Exceeded.", Reason="ConcurrentInvocationLimitExceeded"
            )
        if fault is not None and fault.kind is FaultKind.SERVICE_ERROR:
            record(500, fault.kind)
            return _error(500, "ServiceException", "Lambda stand-in: scripted service error", kind="Service")
        if fault is not None:
            await self.pause(fault.seconds)
            if await request.is_disconnected():
                record(0, fault.kind)
                return Response(status_code=504)
        return await self._answer(name, kind, payload, request_id, record, fault)

    async def _answer(
        self,
        name: str,
        kind: str,
        payload: bytes,
        request_id: str,
        record: Callable[..., None],
        fault: LambdaFault | None,
    ) -> Response:
        fault_kind = fault.kind if fault is not None else None
        if name not in self._functions and not self.accept_any:
            record(404, fault_kind)
            arn = f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{name}"
            return _error(404, "ResourceNotFoundException", f"Function not found: {arn}")
        if kind not in set(InvocationType):
            record(400, fault_kind)
            return _error(400, "InvalidParameterValueException", f"Unsupported InvocationType {kind!r}")
        limit = self.event_payload_limit if kind == InvocationType.EVENT else SYNC_PAYLOAD_LIMIT
        if len(payload) > limit:
            record(413, fault_kind)
            return _error(
                413,
                "RequestTooLargeException",
                f"{len(payload)} byte payload is too large for the {kind} invocation type (limit {limit} bytes)",
            )
        try:
            json.loads(payload or b"{}")
        except ValueError:
            record(400, fault_kind)
            return _error(400, "InvalidRequestContentException", "Could not parse request body into json")
        if kind == InvocationType.DRY_RUN:
            record(204, fault_kind)
            return Response(status_code=204, headers={"x-amzn-RequestId": request_id})
        function = self._functions.get(name)
        if kind == InvocationType.EVENT:
            record(202, fault_kind)
            if function is not None:
                self._container(name, function).submit_event(payload, request_id)
            return Response(status_code=202, headers={"x-amzn-RequestId": request_id})
        record(200, fault_kind)
        if function is None:
            return Response(b"null", headers=_sync_headers(request_id))
        reply = self._container(name, function).submit_sync(payload, request_id)
        outcome = await asyncio.wrap_future(reply)
        return Response(outcome.body, headers=_sync_headers(request_id, failed=outcome.failed))


def _sync_headers(request_id: str, *, failed: bool = False) -> dict[str, str]:
    headers = {
        "x-amzn-RequestId": request_id,
        "X-Amz-Executed-Version": "$LATEST",
        "content-type": "application/json",
    }
    if failed:
        headers["X-Amz-Function-Error"] = "Unhandled"
    return headers


def load_function(spec: str) -> LambdaFunction:
    """`package.module:attribute` → the callable it names."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"expected module:callable, got {spec!r}")
    function = getattr(importlib.import_module(module_name), attribute)
    if not callable(function):
        raise ValueError(f"{spec} is not callable")
    return function  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    parser = standalone_arguments("A local AWS Lambda Invoke API.")
    parser.add_argument(
        "--function",
        action="append",
        default=[],
        metavar="NAME[=module:callable]",
        help="a function to accept; with a callable, run it in one emulated container (repeatable)",
    )
    parser.add_argument(
        "--accept-any", action="store_true", help="accept (and only record) any function name"
    )
    args = parser.parse_args(argv)
    functions: dict[str, LambdaFunction | None] = {}
    for spec in args.function:
        name, _, target = spec.partition("=")
        functions[name] = load_function(target) if target else None
    standin = LambdaInvokeStandin(functions, accept_any=args.accept_any, host=args.host, port=args.port)
    try:
        return serve_forever("lambda", standin.app, args.host, args.port)
    finally:
        standin.stop()


if __name__ == "__main__":
    raise SystemExit(main())
