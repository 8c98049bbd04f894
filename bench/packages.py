"""Lambda package sizes: each function's package, unzipped, next to its dependencies alone (its floor).

The packages are built as `make package` builds them (bytecode included), into a scratch folder.
"Beyond boto3" leaves out boto3 and what it needs, which the Lambda runtime also has.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench import Row
from infra.build_package import FUNCTION_PACKAGES, BuildResult, build_folder, folder_size, request_for

MIB = 1_048_576
FORWARDER_BEYOND_BOTO3_LIMIT = 12 * MIB


def _ours(result: BuildResult, function: str) -> int:
    """Bytes of our own packages in the folder."""
    return sum(folder_size(result.path / package)[0] for package in FUNCTION_PACKAGES[function])


def measure() -> dict[str, tuple[BuildResult, int]]:
    """{function: (its package, the bytes of its dependencies alone)}."""
    built: dict[str, tuple[BuildResult, int]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-packages-") as scratch:
        for function in sorted(FUNCTION_PACKAGES):
            result = build_folder(request_for(function), Path(scratch) / function)
            built[function] = (result, result.unzipped_bytes - _ours(result, function))
    return built


def run() -> list[Row]:
    rows: list[Row] = []
    for function, (result, dependencies) in measure().items():
        beyond = result.unzipped_bytes - result.boto3_bytes
        rows.append(
            Row(
                name=f"{function} package, unzipped, vs its dependencies alone",
                figure=result.unzipped_bytes / MIB,
                unit="MiB",
                baseline=dependencies / MIB,
            )
        )
        limited = function == "forwarder"
        rows.append(
            Row(
                name=f"{function} package, unzipped beyond boto3",
                figure=beyond / MIB,
                unit="MiB",
                baseline=(dependencies - result.boto3_bytes) / MIB,
                target="<= 12 MiB" if limited else "",
                met=beyond <= FORWARDER_BEYOND_BOTO3_LIMIT if limited else None,
            )
        )
    return rows
