"""Blocking calls (boto3) run on a dedicated, bounded thread pool, off the event loop, with a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class Offloader:
    """A pool of `max_workers` threads; waiting for a free thread counts against the deadline.

    Starlette's shared pool (40 tokens) would cap throughput and mix our calls with others'.
    """

    def __init__(self, max_workers: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="forwarder-handoff")

    async def run(self, call: Callable[[], T], *, timeout: float) -> T:
        """Run `call` in a thread; raise TimeoutError after `timeout` seconds (the thread finishes alone)."""
        future = asyncio.get_running_loop().run_in_executor(self._executor, call)
        async with asyncio.timeout(timeout):
            return await future

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
