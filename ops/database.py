"""Where the Postgres server is: `DATABASE_URL`, or an embedded server under the project's data folder
(which also holds the local run's secrets file)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# `make run` keeps its verify token, Meta app secret and demo tokens here (localrun/local_secrets.py);
# `wa-admin webhook-test` signs with that app secret when META_APP_SECRET is unset.
LOCAL_SECRETS_FILE = "local-secrets.json"


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """The git-ignored folder for local state (`APP_DATA_DIR` overrides)."""
    env = os.environ if env is None else env
    configured = env.get("APP_DATA_DIR", "").strip()
    return Path(configured) if configured else PROJECT_ROOT / ".data"


def local_secrets_path(env: Mapping[str, str] | None = None) -> Path:
    """The local run's secrets file in the data folder (mode 0600, written by `make run`)."""
    return data_dir(env) / LOCAL_SECRETS_FILE


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
    with pgserver.PostgresServer._lock:
        _forget_dead_handles(pgdata)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    uri: str = server.get_uri()
    return uri


def _forget_dead_handles(pgdata: Path) -> None:
    """pgserver stops the server when the last process that joined it exits, by a list of pids; a
    process killed outright never leaves that list, and the server would then never be stopped."""
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text())
    except ValueError:
        return
    alive = [pid for pid in pids if isinstance(pid, int) and _is_running(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
