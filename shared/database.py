"""Where the Postgres server is: `DATABASE_URL`, or an embedded server under the project's data folder."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """The git-ignored folder for local state (`APP_DATA_DIR` overrides)."""
    env = os.environ if env is None else env
    configured = env.get("APP_DATA_DIR", "").strip()
    return Path(configured) if configured else PROJECT_ROOT / ".data"


def start_embedded_postgres(pgdata: Path) -> str:
    """Start (or join) the embedded server whose files live in `pgdata`; return its URL.

    The server keeps running while any process that joined it is alive, and stops with the last.
    """
    import warnings

    with warnings.catch_warnings():
        # pgserver asks platformdirs for XDG_RUNTIME_DIR, unset in CI and containers; the fallback is fine.
        warnings.simplefilter("ignore")
        import pgserver  # local-only dependency: never part of the Lambda package

    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    uri: str = server.get_uri()
    return uri


def resolve_database_url(env: Mapping[str, str] | None = None) -> str:
    """`DATABASE_URL` when set, otherwise the embedded server under the data folder."""
    env = os.environ if env is None else env
    configured = env.get("DATABASE_URL", "").strip()
    if configured:
        return configured
    return start_embedded_postgres(data_dir(env) / "postgres")


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database (keeps host, socket and credentials)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))
