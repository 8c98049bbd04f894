"""A function's emulated Lambda containers: each a worker thread running one invocation at a time.

A real container runs one invocation at a time, and a warm one reuses the same process (and
here, the same thread: a handler may keep an event loop per container). Several containers take
invocations from one queue, as Lambda scales out. Asynchronous invocations that fail are tried
again after a delay (scheduled, not slept: the container takes other work meanwhile), like Lambda
does, then become dead letters.
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
    # Not in Lambda's real context (a function cannot know it): which try of an asynchronous event
    # this is, for harnesses that measure retries (bench/soak.py). Code under test must not read it.
    standin_attempt: int = 1

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
    attempt: int = 1
    queued_at: float = field(default_factory=time.monotonic)  # when it was due to run


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
    """The function's containers (`concurrency` worker threads) and their shared queue."""

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
        concurrency: int = 1,
        on_stop: Callable[[], object] | None = None,
        on_queue_wait: Callable[[float], object] | None = None,
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
        self._on_stop = on_stop
        self._on_queue_wait = on_queue_wait
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._timers: set[threading.Timer] = set()
        self._timers_lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, name=f"lambda-{name}-{index}", daemon=True)
            for index in range(concurrency)
        ]
        for thread in self._threads:
            thread.start()

    def submit_event(self, payload: bytes, request_id: str) -> None:
        self._idle.add()
        self._queue.put(_Job(payload=payload, request_id=request_id, reply=None))

    def submit_sync(self, payload: bytes, request_id: str) -> Future[SyncOutcome]:
        reply: Future[SyncOutcome] = Future()
        self._idle.add()
        self._queue.put(_Job(payload=payload, request_id=request_id, reply=reply))
        return reply

    def stop(self, timeout: float = 5.0) -> None:
        """Finish what is queued, then end the worker threads (scheduled retries are dropped)."""
        with self._timers_lock:
            timers, self._timers = list(self._timers), set()
        for timer in timers:
            timer.cancel()
            self._idle.done()
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout)

    def _run(self) -> None:
        try:
            while (job := self._queue.get()) is not None:
                try:
                    if job.reply is None:
                        self._run_event(job)
                    else:
                        self._run_sync(job, job.reply)
                finally:
                    self._idle.done()
        finally:
            if self._on_stop is not None:
                self._on_stop()

    def _retry_later(self, job: _Job) -> None:
        """Queue the next attempt after the retry delay; it counts as pending meanwhile."""
        self._idle.add()

        def fire() -> None:
            with self._timers_lock:
                self._timers.discard(timer)
            self._queue.put(
                _Job(payload=job.payload, request_id=job.request_id, reply=None, attempt=job.attempt + 1)
            )

        timer = threading.Timer(self._retry_delay_seconds, fire)
        timer.daemon = True
        with self._timers_lock:
            self._timers.add(timer)
        timer.start()

    def _call(self, job: _Job) -> Any:
        if self._on_queue_wait is not None:
            self._on_queue_wait(time.monotonic() - job.queued_at)
        context = FakeLambdaContext(
            function_name=self.name,
            aws_request_id=job.request_id,
            invoked_function_arn=self._arn,
            log_group_name=f"/aws/lambda/{self.name}",
            log_stream_name="standin",
            deadline=time.monotonic() + self._timeout_seconds,
            standin_attempt=job.attempt,
        )
        return self._function(json.loads(job.payload or b"{}"), context)

    def _run_event(self, job: _Job) -> None:
        try:
            result = self._call(job)
        except Exception as exc:
            if job.attempt == 1 + self._max_retry_attempts:
                self._on_dead_letter(
                    DeadLetter(
                        function_name=self.name,
                        request_id=job.request_id,
                        payload=job.payload,
                        error_type=type(exc).__name__,
                        error_message=str(exc),
                        attempts=job.attempt,
                    )
                )
                return
            self._retry_later(job)
        else:
            self._completed(job, "Event", result, job.attempt)

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
