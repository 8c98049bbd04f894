"""What a test scripts into a stand-in (faults, delays) and reads back out of it (recorded requests).

The stand-ins serve from a background thread while tests run on their own event loop, so both
structures here are guarded by a lock and copied on read.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

RequestT = TypeVar("RequestT")
FaultT = TypeVar("FaultT")
ItemT = TypeVar("ItemT")


@dataclass(slots=True)
class _Rule(Generic[RequestT, FaultT]):
    fault: FaultT
    when: Callable[[RequestT], bool]
    remaining: int | None  # None: every matching request, for as long as the rule stays


def _always(_request: object) -> bool:
    return True


class FaultScript(Generic[RequestT, FaultT]):
    """Faults in the order a test added them; each request takes the first rule that matches it."""

    def __init__(self) -> None:
        self._rules: list[_Rule[RequestT, FaultT]] = []
        self._lock = threading.Lock()

    def add(
        self, fault: FaultT, *, times: int | None = 1, when: Callable[[RequestT], bool] | None = None
    ) -> None:
        """Apply `fault` to the next `times` matching requests (every one when `times` is None)."""
        if times is not None and times < 1:
            raise ValueError("times must be at least 1, or None for every request")
        with self._lock:
            self._rules.append(_Rule(fault=fault, when=when or _always, remaining=times))

    def take(self, request: RequestT) -> FaultT | None:
        """The fault this request should suffer, if any, using up one of the rule's turns."""
        with self._lock:
            for index, rule in enumerate(self._rules):
                if not rule.when(request):
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        del self._rules[index]
                return rule.fault
        return None

    def pending(self) -> int:
        """How many rules are still waiting (a rule with no limit counts as one)."""
        with self._lock:
            return len(self._rules)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()


class Recorder(Generic[ItemT]):
    """An append-only, thread-safe list of what a stand-in received."""

    def __init__(self) -> None:
        self._items: list[ItemT] = []
        self._lock = threading.Lock()
        self._epoch = 0  # bumped by `clear`

    @property
    def epoch(self) -> int:
        """Which `clear` the recorder is at: a request takes it when it arrives, and records with
        it, so a request slowed past a `clear` (the previous test's) is not counted as this one's."""
        with self._lock:
            return self._epoch

    def append(self, item: ItemT, *, epoch: int | None = None) -> int:
        """Record `item`; return its position (0-based). With `epoch` (taken when the request
        arrived), nothing is recorded when the recorder was cleared since: -1."""
        with self._lock:
            if epoch is not None and epoch != self._epoch:
                return -1
            self._items.append(item)
            return len(self._items) - 1

    def snapshot(self) -> list[ItemT]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._epoch += 1

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    async def wait_for(
        self, count: int, *, timeout: float = 5.0, where: Callable[[ItemT], bool] | None = None
    ) -> list[ItemT]:
        """Wait until at least `count` recorded items satisfy `where`; return them all.

        Raises TimeoutError naming how many arrived, so a failing test says what it saw.
        """
        deadline = time.monotonic() + timeout
        while True:
            matching = [item for item in self.snapshot() if where is None or where(item)]
            if len(matching) >= count:
                return matching
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"expected {count} recorded item(s) within {timeout}s, got {len(matching)}"
                )
            await asyncio.sleep(0.005)
