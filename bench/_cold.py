"""Cold starts: a fresh interpreter imports a function's module and runs its first invocation, next to
the same interpreter importing only the third-party modules that function imports (its floor), and
optionally next to a reference app's cold start (an ASGI app served through Mangum, e.g. the
minimal forwarder: the same imports, one boto3 client, one invoke).

Both run as `python -I` (no PYTHONPATH, no user site), in turns, several times; the medians are
compared. The clock starts at the interpreter's first line of ours, so start-up of Python itself
(the same for both) is left out. With `package=` (a folder `package_here` built), every run imports
from that folder alone (`-I -S`: no site-packages either), as the Lambda runtime imports from its
zip; the reference app also finds bench/ in the project.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from infra.build_package import build_folder, request_for, this_machine_target
from infra.imports import trace_imports

ROOT = Path(__file__).resolve().parents[1]

# Argument 1: the folders to import from (os.pathsep between them); 2: the module; 3: a JSON event for its `lambda_handler`, or with
# a 4th argument "asgi" for its `app` served through Mangum.
_FIRST_INVOCATION = """
import json, sys, time
started = time.perf_counter()
sys.path[:0] = sys.argv[1].split(__import__("os").pathsep)
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
# Argument 1: the folders to import from (os.pathsep between them, or none); the rest: the modules.
_IMPORT_ONLY = """
import json, sys, time
started = time.perf_counter()
sys.path[:0] = [path for path in sys.argv[1].split(__import__("os").pathsep) if path]
import importlib
for name in sys.argv[2:]:
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
    package: Path | None = None,
) -> ColdStart:
    """Medians of `runs` fresh interpreters each (taking turns, so a busy moment hits all alike).

    Run n gets `events[n % len(events)]` (distinct messages, so that none is a duplicate). With
    `package`, an unmeasured run 0 of each first writes the folder's bytecode, as the Lambda's zip
    carries it (pass `runs + 1` events then)."""
    floor = floor_modules(entry_module)
    isolation = ["-I", "-S"] if package is not None else ["-I"]
    ours = str(package) if package is not None else str(ROOT)
    floor_path = str(package) if package is not None else ""
    reference_path = os.pathsep.join([str(package), str(ROOT)]) if package is not None else str(ROOT)
    cold: list[float] = []
    floors: list[float] = []
    references: list[float] = []
    statuses: list[int | None] = []
    loaded: frozenset[str] = frozenset()
    warm_up = 1 if package is not None else 0
    for run in range(warm_up + runs):
        event = events[run % len(events)]
        result = _run(isolation, [_FIRST_INVOCATION, ours, entry_module, json.dumps(event)], env)
        floor_ms = float(_run(isolation, [_IMPORT_ONLY, floor_path, *floor], env)["ms"])
        reference_ms = None
        if reference_app is not None:
            arguments = [_FIRST_INVOCATION, reference_path, reference_app, json.dumps(event), "asgi"]
            reference_ms = float(_run(isolation, arguments, env)["ms"])
        if run < warm_up:
            continue
        cold.append(float(result["ms"]))
        statuses.append(result["status"])
        loaded = frozenset(str(name).split(".")[0] for name in result["modules"])
        floors.append(floor_ms)
        if reference_ms is not None:
            references.append(reference_ms)
    return ColdStart(
        median_ms=statistics.median(cold),
        floor_ms=statistics.median(floors),
        reference_ms=statistics.median(references) if references else None,
        floor_modules=floor,
        statuses=tuple(statuses),
        loaded=loaded,
    )


def _run(isolation: list[str], arguments: list[str], env: Mapping[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, *isolation, "-c", *arguments],
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


@contextmanager
def package_here(function: str) -> Iterator[Path]:
    """`function`'s package as `make package` builds it, with this machine's wheels (the arm64 ones
    would not load here) and no bytecode (the first run writes it), in a scratch folder."""
    request = replace(request_for(function, compile_bytecode=False), target=this_machine_target())
    with tempfile.TemporaryDirectory(prefix=f"bench-{function}-") as scratch:
        yield build_folder(request, Path(scratch) / "package").path
