"""The local run's database: the embedded Postgres (or DATABASE_URL), migrated, with the demo tenants."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

import asyncpg

from localrun.demo import WrittenKeys, ensure_demo_tenants
from localrun.errors import DatabaseFailure
from localrun.local_secrets import LocalSecrets
from localrun.settings import LocalSettings
from ops.database import start_embedded_postgres
from ops.database_connect import DatabaseUnusable, connect_database
from ops.migrate import apply_migrations

_CONNECT_TIMEOUT_SECONDS = 10.0


def database_url(settings: LocalSettings) -> str:
    """DATABASE_URL, or the embedded server under the data folder, started (or joined) now.

    The embedded server stops when the last process that joined it exits: `make run` itself.
    """
    if settings.database_url:
        return settings.database_url
    try:
        return start_embedded_postgres(settings.postgres_dir)
    except (OSError, subprocess.SubprocessError) as exc:
        raise DatabaseFailure(
            f"cannot start the embedded Postgres in {settings.postgres_dir}: {type(exc).__name__}"
            f" (see {settings.postgres_dir / 'log'})"
        ) from None


def release_embedded_postgres(settings: LocalSettings) -> bool:
    """Leave the embedded server now rather than at exit; True when that stopped it.

    It keeps running when another process (say `wa-admin`) joined it too: the last one stops it.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    pgserver.get_server(settings.postgres_dir, cleanup_mode="stop").cleanup()
    return not (settings.postgres_dir / "postmaster.pid").exists()


@dataclass(frozen=True, slots=True, kw_only=True)
class PreparedDatabase:
    migrations_applied: list[str]
    demo_tenants_created: list[str]


async def prepare(
    url: str,
    local_secrets: LocalSecrets,
    real_groq_key: str,
    *,
    written_keys: WrittenKeys,
    configured: bool = True,
) -> PreparedDatabase:
    """Apply pending migrations and create the demo tenants that are missing. `configured`: the
    URL is DATABASE_URL's (else the embedded server's), for the message when it cannot be used."""
    try:
        conn = await connect_database(url, configured=configured, timeout=_CONNECT_TIMEOUT_SECONDS)
    except DatabaseUnusable as unusable:
        raise DatabaseFailure(str(unusable)) from None
    try:
        applied = await apply_migrations(conn)
        created = await ensure_demo_tenants(conn, local_secrets, real_groq_key, written=written_keys)
    except asyncpg.PostgresError as exc:
        raise DatabaseFailure(f"database error {type(exc).__name__} (SQLSTATE {exc.sqlstate})") from None
    finally:
        await conn.close()
    return PreparedDatabase(migrations_applied=applied, demo_tenants_created=created)
