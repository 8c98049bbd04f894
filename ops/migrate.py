"""Apply the SQL files in `migrations/` in order, once each, safely when several run at once."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from ops.database import PROJECT_ROOT, resolve_database_url
from ops.database_connect import DatabaseUnusable, connect_database
from ops.model_upgrade import ModelUpgrade, upgrade_retired_models
from ops.secret_rewrap import encrypt_plaintext_secrets
from shared.env import ConfigurationError
from tenant_secrets.master_keys import Keyring, MasterKeyError

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
# Any constant works; it only has to be the same for every migrator of this schema.
_MIGRATION_LOCK_KEY = 7_310_942_001

logger = logging.getLogger("migrate")


@dataclass(frozen=True, slots=True)
class Migration:
    version: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def discover_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """`NNN_name.sql` files sorted by their number."""
    files = sorted(directory.glob("[0-9][0-9][0-9]_*.sql"))
    return [Migration(version=path.stem, path=path) for path in files]


@dataclass(frozen=True, slots=True, kw_only=True)
class MigrationReport:
    applied: list[str]  # the SQL files applied now
    models_upgraded: list[ModelUpgrade]  # stored retired Groq models moved to their replacement
    secrets_encrypted: int  # plain-text tenant secrets encrypted now


async def run_migrations(
    conn: asyncpg.Connection, migrations: list[Migration] | None = None, *, keyring: Keyring | None = None
) -> MigrationReport:
    """Apply every pending migration, each in its own transaction, then the steps SQL cannot do:
    apply the Groq model catalogue (`ops.model_upgrade`) and encrypt any plain-text tenant
    secret (with `keyring`, or the master key the environment configures; none configured while
    plain-text secrets exist is an error)."""
    migrations = discover_migrations() if migrations is None else migrations
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_KEY)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    text PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        done = {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}
        applied: list[str] = []
        for migration in migrations:
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", migration.version)
            logger.info("migration applied", extra={"version": migration.version})
            applied.append(migration.version)
        upgraded = await upgrade_retired_models(conn)
        encrypted = await encrypt_plaintext_secrets(conn, keyring)
        return MigrationReport(applied=applied, models_upgraded=upgraded, secrets_encrypted=encrypted)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK_KEY)


async def apply_migrations(
    conn: asyncpg.Connection, migrations: list[Migration] | None = None, *, keyring: Keyring | None = None
) -> list[str]:
    """`run_migrations`, when only the SQL files applied matter."""
    return (await run_migrations(conn, migrations, keyring=keyring)).applied


async def migrate(database_url: str) -> list[str]:
    conn = await asyncpg.connect(database_url)
    try:
        return await apply_migrations(conn)
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Apply pending database migrations.")
    parser.parse_args(argv)
    from shared.logs import configure_logging

    configure_logging(loggers=("migrate",))
    configured = bool(os.environ.get("DATABASE_URL", "").strip())

    async def migrate_explained(url: str) -> list[str]:
        conn = await connect_database(url, configured=configured, timeout=10.0)
        try:
            return await apply_migrations(conn)
        finally:
            await conn.close()

    try:
        applied = asyncio.run(migrate_explained(resolve_database_url()))
    except DatabaseUnusable as unusable:
        logger.error("migration stopped: %s", unusable)
        return 2
    except (MasterKeyError, ConfigurationError) as error:
        logger.error("migration stopped: %s", error)
        return 1
    logger.info("migrations up to date", extra={"applied": applied})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
