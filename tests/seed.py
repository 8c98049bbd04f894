"""The seed system's SQL, read verbatim from tests/data, for tests that must run it unchanged."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data"


def seed_queries() -> dict[str, str]:
    """Each `-- name: x` block of seed_queries.sql, keyed by name."""
    queries: dict[str, str] = {}
    name = ""
    for line in (DATA / "seed_queries.sql").read_text(encoding="utf-8").splitlines():
        if line.startswith("-- name: "):
            name = line.removeprefix("-- name: ").strip()
            queries[name] = ""
        elif name:
            queries[name] += line + "\n"
    return {key: value.strip().rstrip(";") for key, value in queries.items()}
