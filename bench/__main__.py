"""`python -m bench`: run every benchmark module in bench/ and print one table of all their rows.

A benchmark module exposes `run() -> list[Row]`; modules whose name starts with `_`, and helper
modules without `run`, are not benchmarks. `python -m bench forwarder handler` runs only those.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from bench import Row

_HEADERS = ("benchmark", "figure", "baseline", "ratio", "target", "met")


def benchmark_modules(only: Sequence[str] = ()) -> list[str]:
    names = [
        info.name
        for info in pkgutil.iter_modules([str(Path(__file__).parent)])
        if not info.name.startswith("_") and (not only or info.name in only)
    ]
    return sorted(names)


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    return f"{text} {unit}".strip()


def render(rows: Sequence[Row]) -> str:
    cells = [
        (
            row.name,
            _number(row.figure, row.unit),
            _number(row.baseline, row.unit),
            "" if row.ratio is None else f"{row.ratio:.2f}x",
            row.target,
            {True: "yes", False: "NO", None: ""}[row.met],
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [_HEADERS, *cells]) for i in range(len(_HEADERS))]
    right = {1, 2, 3}

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if i in right else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        )

    return "\n".join([line(_HEADERS), line(["-" * w for w in widths]), *(line(c) for c in cells)])


def main(argv: Sequence[str]) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    rows: list[Row] = []
    failed: list[str] = []
    helpers: list[str] = []
    for name in benchmark_modules(argv):
        module = importlib.import_module(f"bench.{name}")
        run = getattr(module, "run", None)
        if run is None:
            helpers.append(name)
            continue
        print(f"running bench.{name} ...", file=sys.stderr, flush=True)  # noqa: T201
        started = time.perf_counter()
        try:
            rows.extend(run())
        except Exception:
            traceback.print_exc()
            failed.append(name)
        print(f"  bench.{name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)  # noqa: T201
    if helpers:
        print(f"not benchmarks (no run()): {', '.join(helpers)}", file=sys.stderr)  # noqa: T201
    print(render(rows))  # noqa: T201
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)  # noqa: T201
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
