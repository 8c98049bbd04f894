"""The one retry policy: bounded attempts, exponential backoff with full jitter, and a deadline."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    max_attempts: int
    base_delay: float
    max_delay: float

    def delay_before(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before `attempt` (2, 3, …): the server's `retry-after` when it gave one."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 2))
        return random.uniform(0, ceiling)


@dataclass(frozen=True, slots=True)
class Deadline:
    """A point in monotonic time by which the work must have recorded its outcome."""

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())


async def with_retries(
    operation: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    deadline: Deadline,
    is_retryable: Callable[[BaseException], bool],
    retry_after: Callable[[BaseException], float | None] = lambda _: None,
) -> T:
    """Run `operation` until it succeeds, fails for good, runs out of attempts, or of time.

    The last error is re-raised unchanged, so the caller decides what a final failure means.
    """
    attempt = 1
    while True:
        try:
            return await operation()
        except Exception as error:
            if attempt >= policy.max_attempts or not is_retryable(error):
                raise
            delay = policy.delay_before(attempt + 1, retry_after(error))
            if delay >= deadline.remaining():
                raise
            await asyncio.sleep(delay)
            attempt += 1


@dataclass(frozen=True, slots=True, kw_only=True)
class LambdaEvent:
    """What tells one asynchronous event's attempts apart from other events' and from each other.

    Lambda tries an event 1 + N times (its MaximumRetryAttempts), waiting about 1 then 2 minutes,
    and keeps the request id across them. Two estimates of this attempt's number: the event's
    claims of a message counted by request id (blind to an attempt that failed before reaching the
    database), and the time since the forwarder first received the event against Lambda's delays
    (too high only when Lambda queued the event). The later one decides: giving up one retry early
    beats raising on the last attempt, which would send the event to the dead-letter queue."""

    request_id: str | None = None
    first_received_at: float | None = None  # the envelope's `received_at` (epoch seconds)

    def attempt_by_time(self, retry_delays: tuple[float, ...], now: float | None = None) -> int:
        """1 + how many of Lambda's cumulative retry delays have passed since the first receipt."""
        if self.first_received_at is None:
            return 1
        elapsed = (time.time() if now is None else now) - self.first_received_at
        attempt, waited = 1, 0.0
        for delay in retry_delays:
            waited += delay
            if elapsed < waited:
                break
            attempt += 1
        return attempt
