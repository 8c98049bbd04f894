"""Benchmarks for `make bench`: every module here with a `run() -> list[Row]` adds rows to one table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One measured figure, next to the same measure of a baseline when there is one."""

    name: str  # what was measured, e.g. "forwarder: webhooks/s at full load"
    figure: float
    unit: str  # "req/s", "ms", "round trips", ...
    baseline: float | None = None  # the same measure of the reference implementation, same run
    target: str = ""  # the goal in words, e.g. ">= 0.8x baseline", "<= 50 ms"
    met: bool | None = None  # None: no target, or not decidable

    @property
    def ratio(self) -> float | None:
        """figure / baseline."""
        if self.baseline is None or self.baseline == 0:
            return None
        return self.figure / self.baseline
