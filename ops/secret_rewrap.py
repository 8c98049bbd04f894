"""Rewriting stored tenant secrets: encrypting plain-text ones (after migrations) and rotating master keys.

Each row is rewritten by one conditional UPDATE, its own short transaction: a row changed meanwhile
(an admin command setting a new token) is left as it now is, and the handler, which can read both
the old and the new value, never waits for more than one row.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg

from tenant_secrets.master_keys import KEY_VARIABLES, Keyring, MasterKeyNotConfigured
from tenant_secrets.secrets_crypto import (
    SecretColumn,
    decrypt_secret,
    encrypt_secret,
    is_encrypted,
    key_ref_of,
)

logger = logging.getLogger("migrate")


@dataclass(frozen=True, slots=True)
class _ColumnStatements:
    select: str
    rewrite: str  # $1 row id, $2 new value, $3 the value it replaces (unchanged since read)
    count_plain: str


# Each column's statements written out: no statement is built from a name at run time.
_STATEMENTS = {
    SecretColumn.ACCESS_TOKEN: _ColumnStatements(
        select="SELECT id, user_id, access_token AS stored FROM user_whatsapp_config WHERE access_token IS NOT NULL AND access_token <> ''",
        rewrite="UPDATE user_whatsapp_config SET access_token = $2 WHERE id = $1 AND access_token = $3",
        count_plain="SELECT count(*) FROM user_whatsapp_config"
        " WHERE access_token IS NOT NULL AND access_token <> '' AND access_token NOT LIKE 'enc:v1:%'",
    ),
    SecretColumn.APP_SECRET: _ColumnStatements(
        select="SELECT id, user_id, app_secret AS stored FROM user_whatsapp_config WHERE app_secret IS NOT NULL AND app_secret <> ''",
        rewrite="UPDATE user_whatsapp_config SET app_secret = $2 WHERE id = $1 AND app_secret = $3",
        count_plain="SELECT count(*) FROM user_whatsapp_config"
        " WHERE app_secret IS NOT NULL AND app_secret <> '' AND app_secret NOT LIKE 'enc:v1:%'",
    ),
    SecretColumn.GROQ_API_KEY: _ColumnStatements(
        select="SELECT id, user_id, api_key AS stored FROM user_groq_config WHERE api_key IS NOT NULL AND api_key <> ''",
        rewrite="UPDATE user_groq_config SET api_key = $2 WHERE id = $1 AND api_key = $3",
        count_plain="SELECT count(*) FROM user_groq_config"
        " WHERE api_key IS NOT NULL AND api_key <> '' AND api_key NOT LIKE 'enc:v1:%'",
    ),
}
_VACUUM = {
    "user_whatsapp_config": "VACUUM FULL user_whatsapp_config",
    "user_groq_config": "VACUUM FULL user_groq_config",
}


@dataclass(slots=True)
class RewrapReport:
    encrypted: int = 0  # plain-text values now encrypted
    rotated: int = 0  # values re-encrypted under the current master key
    unchanged: int = 0  # already under the current key
    skipped: int = 0  # changed by someone else meanwhile
    by_column: dict[str, int] = field(default_factory=dict)


async def _tables_present(conn: asyncpg.Connection) -> set[str]:
    names = {column.table for column in SecretColumn}
    rows = await conn.fetch(
        "SELECT relname FROM pg_class WHERE relname = ANY($1::text[]) AND relkind = 'r'", list(names)
    )
    return {row["relname"] for row in rows}


async def count_plaintext_secrets(conn: asyncpg.Connection) -> int:
    present = await _tables_present(conn)
    total = 0
    for column in SecretColumn:
        if column.table in present:
            total += await conn.fetchval(_STATEMENTS[column].count_plain)
    return total


async def rewrap_secrets(conn: asyncpg.Connection, keyring: Keyring, *, rotate: bool) -> RewrapReport:
    """Encrypt every plain-text secret; with `rotate`, also re-encrypt those under another master key."""
    current = keyring.require_current()
    present = await _tables_present(conn)
    report = RewrapReport()
    for column in SecretColumn:
        if column.table not in present:
            continue
        rows = await conn.fetch(_STATEMENTS[column].select)
        for row in rows:
            stored: str = row["stored"]
            ref = key_ref_of(stored)
            if ref == current.ref or (ref is not None and not rotate):
                report.unchanged += 1
                continue
            new = await asyncio.to_thread(_rewrap, keyring, stored, column, row["user_id"])
            status = await conn.execute(_STATEMENTS[column].rewrite, row["id"], new, stored)
            if status.endswith(" 0"):
                report.skipped += 1
                continue
            if ref is None:
                report.encrypted += 1
            else:
                report.rotated += 1
            report.by_column[column.value] = report.by_column.get(column.value, 0) + 1
    return report


def _rewrap(keyring: Keyring, stored: str, column: SecretColumn, tenant_id: UUID | None) -> str:
    plaintext = (
        stored
        if not is_encrypted(stored)
        else decrypt_secret(keyring, stored, column=column, tenant_id=tenant_id)
    )
    return encrypt_secret(keyring, plaintext, column=column, tenant_id=tenant_id)


async def encrypt_plaintext_secrets(conn: asyncpg.Connection, keyring: Keyring | None = None) -> int:
    """The migration step: encrypt plain-text secrets (a database the seed filled); return how many.

    Without a master key this refuses rather than leave them readable.
    """
    if await count_plaintext_secrets(conn) == 0:
        return 0
    keyring = Keyring.from_env() if keyring is None else keyring
    if keyring.current is None:
        raise MasterKeyNotConfigured(
            f"the database holds plain-text tenant secrets and no master key is configured to encrypt them: set {KEY_VARIABLES} and run the migration again"
        )
    report = await rewrap_secrets(conn, keyring, rotate=False)
    # An UPDATE leaves the old row version on disk until vacuumed; a full vacuum rewrites the
    # (small) config tables so no plain copy stays in them. Backups and WAL from before keep theirs.
    for table in sorted(await _tables_present(conn) & {c.table for c in SecretColumn}):
        await conn.execute(_VACUUM[table])
    logger.info(
        "plain-text secrets encrypted", extra={"encrypted": report.encrypted, "columns": report.by_column}
    )
    return report.encrypted
