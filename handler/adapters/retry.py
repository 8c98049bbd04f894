"""The one retry policy: bounded attempts, exponential backoff with full jitter, and a deadline."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from handler.model import Deadline

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
