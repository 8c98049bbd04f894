"""Blocking calls (boto3) run on a dedicated, bounded thread pool, off the event loop, with a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")


class Offloader:
    """A pool of `max_workers` threads; waiting for a free thread counts against the deadline.

    Starlette's shared pool (40 tokens) would cap throughput and mix our calls with others'. Every
    webhook passes through `run`, so it is one future and one timer: `run_in_executor` with
    `asyncio.timeout` costs about twice the CPU for the same outcome.
    """

    def __init__(self, max_workers: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="forwarder-handoff")

    async def run(self, call: Callable[[], T], *, timeout: float) -> T:
        """Run `call` in a thread; raise TimeoutError after `timeout` seconds (the thread finishes alone)."""
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[T] = loop.create_future()
        work = self._executor.submit(call)
        work.add_done_callback(partial(_report_from_thread, loop, outcome))
        deadline = loop.call_later(timeout, _expire, outcome)
        try:
            return await outcome
        except asyncio.CancelledError:
            work.cancel()  # only stops a call that has not started
            raise
        finally:
            deadline.cancel()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _report_from_thread(
    loop: asyncio.AbstractEventLoop, outcome: asyncio.Future[Any], work: Future[Any]
) -> None:
    """Runs on the thread that finished `work`: hand its result to the event loop."""
    try:
        loop.call_soon_threadsafe(_settle, outcome, work)
    except RuntimeError:  # the loop is closed: nobody waits any more
        pass


def _settle(outcome: asyncio.Future[Any], work: Future[Any]) -> None:
    if outcome.done():  # timed out or cancelled meanwhile
        return
    if work.cancelled():
        outcome.cancel()
        return
    error = work.exception()
    if error is not None:
        outcome.set_exception(error)
    else:
        outcome.set_result(work.result())


def _expire(outcome: asyncio.Future[Any]) -> None:
    if not outcome.done():
        outcome.set_exception(TimeoutError())
