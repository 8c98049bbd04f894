"""One emulated Lambda container: a single worker thread running a function's invocations in order.

A real container runs one invocation at a time, and a warm one reuses the same process (and
here, the same thread: a handler may keep an event loop per container). Asynchronous invocations
are retried on error like Lambda does, then become dead letters.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from mangum.types import LambdaCognitoIdentity, LambdaMobileClientContext


@dataclass(slots=True, kw_only=True)
class FakeLambdaContext:
    """What the Lambda runtime passes as `context` (satisfies `shared.types.LambdaContext`)."""

    function_name: str
    aws_request_id: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: LambdaCognitoIdentity | None = None
    client_context: LambdaMobileClientContext | None = None
    deadline: float = field(default=0.0, repr=False)  # time.monotonic() when the function times out

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


LambdaFunction = Callable[[Any, FakeLambdaContext], Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Completion:
    """An invocation the function finished (after `attempts` tries), with what it returned."""

    function_name: str
    request_id: str
    invocation_type: str
    result: Any
    attempts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    """An asynchronous invocation whose every attempt raised."""

    function_name: str
    request_id: str
    payload: bytes
    error_type: str
    error_message: str
    attempts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncOutcome:
    body: bytes  # the JSON result, or Lambda's error object
    failed: bool  # answered with `X-Amz-Function-Error: Unhandled`


@dataclass(frozen=True, slots=True, kw_only=True)
class _Job:
    payload: bytes
    request_id: str
    reply: Future[SyncOutcome] | None  # None: an Event invocation


class IdleTracker:
    """Counts invocations queued or running, so a test can wait until everything has run."""

    def __init__(self) -> None:
        self._pending = 0
        self._condition = threading.Condition()

    def add(self) -> None:
        with self._condition:
            self._pending += 1

    def done(self) -> None:
        with self._condition:
            self._pending -= 1
            if self._pending == 0:
                self._condition.notify_all()

    def wait(self, timeout: float) -> None:
        with self._condition:
            if not self._condition.wait_for(lambda: self._pending == 0, timeout):
                raise TimeoutError(f"{self._pending} invocation(s) still queued or running after {timeout}s")


class Container:
    def __init__(
        self,
        *,
        name: str,
        function: LambdaFunction,
        arn: str,
        timeout_seconds: float,
        max_retry_attempts: int,
        retry_delay_seconds: float,
        idle: IdleTracker,
        on_dead_letter: Callable[[DeadLetter], object],
        on_completion: Callable[[Completion], object],
    ) -> None:
        self.name = name
        self._function = function
        self._arn = arn
        self._timeout_seconds = timeout_seconds
        self._max_retry_attempts = max_retry_attempts
        self._retry_delay_seconds = retry_delay_seconds
        self._idle = idle
        self._on_dead_letter = on_dead_letter
        self._on_completion = on_completion
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"lambda-{name}", daemon=True)
        self._thread.start()

    def submit_event(self, payload: bytes, request_id: str) -> None:
        self._idle.add()
        self._queue.put(_Job(payload=payload, request_id=request_id, reply=None))

    def submit_sync(self, payload: bytes, request_id: str) -> Future[SyncOutcome]:
        reply: Future[SyncOutcome] = Future()
        self._idle.add()
        self._queue.put(_Job(payload=payload, request_id=request_id, reply=reply))
        return reply

    def stop(self, timeout: float = 5.0) -> None:
        """Finish what is queued, then end the worker thread."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            try:
                if job.reply is None:
                    self._run_event(job)
                else:
                    self._run_sync(job, job.reply)
            finally:
                self._idle.done()

    def _call(self, job: _Job) -> Any:
        context = FakeLambdaContext(
            function_name=self.name,
            aws_request_id=job.request_id,
            invoked_function_arn=self._arn,
            log_group_name=f"/aws/lambda/{self.name}",
            log_stream_name="standin",
            deadline=time.monotonic() + self._timeout_seconds,
        )
        return self._function(json.loads(job.payload or b"{}"), context)

    def _run_event(self, job: _Job) -> None:
        attempts = 1 + self._max_retry_attempts
        for attempt in range(1, attempts + 1):
            try:
                result = self._call(job)
            except Exception as exc:
                if attempt == attempts:
                    self._on_dead_letter(
                        DeadLetter(
                            function_name=self.name,
                            request_id=job.request_id,
                            payload=job.payload,
                            error_type=type(exc).__name__,
                            error_message=str(exc),
                            attempts=attempt,
                        )
                    )
                    return
                time.sleep(self._retry_delay_seconds)
            else:
                self._completed(job, "Event", result, attempt)
                return

    def _run_sync(self, job: _Job, reply: Future[SyncOutcome]) -> None:
        try:
            result = self._call(job)
            body = json.dumps(result).encode()
        except Exception as exc:
            error = {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "requestId": job.request_id,
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }
            reply.set_result(SyncOutcome(body=json.dumps(error).encode(), failed=True))
            return
        self._completed(job, "RequestResponse", result, 1)
        reply.set_result(SyncOutcome(body=body, failed=False))

    def _completed(self, job: _Job, invocation_type: str, result: Any, attempts: int) -> None:
        self._on_completion(
            Completion(
                function_name=self.name,
                request_id=job.request_id,
                invocation_type=invocation_type,
                result=result,
                attempts=attempts,
            )
        )
