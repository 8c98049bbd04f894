"""The one database connection an admin command uses, and the check that the schema is migrated."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import asyncpg

from admin.errors import DatabaseFailure, DatabaseNotReachable, SchemaNotMigrated
from ops.database import resolve_database_url
from ops.database_connect import DatabaseUnusable, connect_database
from ops.migrate import discover_migrations

_CONNECT_TIMEOUT_SECONDS = 10.0


@asynccontextmanager
async def connect(env: Mapping[str, str]) -> AsyncIterator[asyncpg.Connection]:
    """`DATABASE_URL` or the embedded server: one that cannot be used is `DatabaseNotReachable`, a
    failure during the command `DatabaseFailure` (each one line)."""
    url = resolve_database_url(env)
    try:
        conn = await connect_database(
            url, configured=bool(env.get("DATABASE_URL", "").strip()), timeout=_CONNECT_TIMEOUT_SECONDS
        )
    except DatabaseUnusable as unusable:
        raise DatabaseNotReachable(str(unusable)) from None
    try:
        yield conn
    except asyncpg.PostgresError as exc:
        # Only the kind of failure: a server message may quote the values of the statement.
        raise DatabaseFailure(f"database error {type(exc).__name__} (SQLSTATE {exc.sqlstate})") from None
    finally:
        await conn.close()


async def require_migrated_schema(conn: asyncpg.Connection) -> None:
    """`SchemaNotMigrated` unless every migration this code knows has been applied."""
    known = [migration.version for migration in discover_migrations()]
    try:
        rows = await conn.fetch("SELECT version FROM schema_migrations")
    except asyncpg.UndefinedTableError:
        raise SchemaNotMigrated(known) from None
    applied = {row["version"] for row in rows}
    pending = [version for version in known if version not in applied]
    if pending:
        raise SchemaNotMigrated(pending)
