"""Cold starts: a fresh interpreter imports a function's module and runs its first invocation, next to
the same interpreter importing only the third-party modules that function imports (its floor), and
optionally next to a reference app's cold start (an ASGI app served through Mangum, e.g. the
minimal forwarder: the same imports, one boto3 client, one invoke).

Both run as `python -I` (no PYTHONPATH, no user site), in turns, several times; the medians are
compared. The clock starts at the interpreter's first line of ours, so start-up of Python itself
(the same for both) is left out.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.imports import trace_imports

ROOT = Path(__file__).resolve().parents[1]

# Argument 1: the project folder; 2: the module; 3: a JSON event for its `lambda_handler`, or with
# a 4th argument "asgi" for its `app` served through Mangum.
_FIRST_INVOCATION = """
import json, sys, time
started = time.perf_counter()
sys.path.insert(0, sys.argv[1])
import importlib
module = importlib.import_module(sys.argv[2])
if sys.argv[4:] == ["asgi"]:
    from mangum import Mangum
    handler = Mangum(module.app, lifespan="off")
else:
    handler = module.lambda_handler
response = handler(json.loads(sys.argv[3]), None)
elapsed = time.perf_counter() - started
print(json.dumps({"ms": elapsed * 1000, "status": response.get("statusCode"), "modules": sorted(sys.modules)}))
"""
# Arguments: the modules to import.
_IMPORT_ONLY = """
import json, sys, time
started = time.perf_counter()
import importlib
for name in sys.argv[1:]:
    importlib.import_module(name)
elapsed = time.perf_counter() - started
print(json.dumps({"ms": elapsed * 1000, "status": None, "modules": sorted(sys.modules)}))
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class ColdStart:
    median_ms: float
    floor_ms: float  # the median of importing the floor modules alone
    reference_ms: float | None  # the median of the reference app's cold start
    floor_modules: tuple[str, ...]
    statuses: tuple[int | None, ...]  # the first invocation's status code, every run
    loaded: frozenset[str]  # the top-level modules the last cold run had loaded


def floor_modules(entry_module: str) -> tuple[str, ...]:
    """The third-party modules importing `entry_module` imports (read from our source)."""
    return tuple(sorted(trace_imports(entry_module, ROOT, at_import=True).third_party_modules()))


def measure_cold_start(
    entry_module: str,
    events: Sequence[Mapping[str, Any]],
    env: Mapping[str, str],
    *,
    reference_app: str | None = None,
    runs: int = 7,
) -> ColdStart:
    """Medians of `runs` fresh interpreters each (taking turns, so a busy moment hits all alike).

    Run n gets `events[n % len(events)]` (distinct messages, so that none is a duplicate)."""
    floor = floor_modules(entry_module)
    cold: list[float] = []
    floors: list[float] = []
    references: list[float] = []
    statuses: list[int | None] = []
    loaded: frozenset[str] = frozenset()
    for run in range(runs):
        event = events[run % len(events)]
        result = _run([_FIRST_INVOCATION, str(ROOT), entry_module, json.dumps(event)], env)
        cold.append(float(result["ms"]))
        statuses.append(result["status"])
        loaded = frozenset(str(name).split(".")[0] for name in result["modules"])
        floors.append(float(_run([_IMPORT_ONLY, *floor], env)["ms"]))
        if reference_app is not None:
            arguments = [_FIRST_INVOCATION, str(ROOT), reference_app, json.dumps(event), "asgi"]
            references.append(float(_run(arguments, env)["ms"]))
    return ColdStart(
        median_ms=statistics.median(cold),
        floor_ms=statistics.median(floors),
        reference_ms=statistics.median(references) if references else None,
        floor_modules=floor,
        statuses=tuple(statuses),
        loaded=loaded,
    )


def _run(arguments: list[str], env: Mapping[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-I", "-c", *arguments],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cold start failed: {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))
