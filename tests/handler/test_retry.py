"""The retry policy: bounded attempts, retry-after honoured, permanent errors not retried."""

from __future__ import annotations

import pytest

from handler.adapters.retry import RetryPolicy, with_retries
from handler.model import Deadline

FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01)


class Transient(Exception):
    pass


class Permanent(Exception):
    pass


async def test_retries_transient_failures_until_success() -> None:
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Transient()
        return "ok"

    result = await with_retries(
        flaky, policy=FAST, deadline=Deadline.after(5), is_retryable=lambda e: isinstance(e, Transient)
    )
    assert result == "ok" and len(calls) == 3


async def test_gives_up_after_the_last_attempt() -> None:
    calls: list[int] = []

    async def down() -> None:
        calls.append(1)
        raise Transient()

    with pytest.raises(Transient):
        await with_retries(down, policy=FAST, deadline=Deadline.after(5), is_retryable=lambda e: True)
    assert len(calls) == 3


async def test_permanent_failure_is_not_retried() -> None:
    calls: list[int] = []

    async def refused() -> None:
        calls.append(1)
        raise Permanent()

    with pytest.raises(Permanent):
        await with_retries(
            refused, policy=FAST, deadline=Deadline.after(5), is_retryable=lambda e: isinstance(e, Transient)
        )
    assert len(calls) == 1


async def test_no_retry_when_the_wait_would_pass_the_deadline() -> None:
    calls: list[int] = []

    async def limited() -> None:
        calls.append(1)
        raise Transient()

    with pytest.raises(Transient):
        await with_retries(
            limited,
            policy=RetryPolicy(max_attempts=5, base_delay=1, max_delay=10),
            deadline=Deadline.after(0.5),
            is_retryable=lambda e: True,
            retry_after=lambda e: 2.0,
        )
    assert len(calls) == 1


def test_retry_after_is_honoured_but_capped() -> None:
    policy = RetryPolicy(max_attempts=3, base_delay=0.5, max_delay=8)
    assert policy.delay_before(2, 3.0) == 3.0
    assert policy.delay_before(2, 60.0) == 8
    assert 0 <= policy.delay_before(4, None) <= 2.0
