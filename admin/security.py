"""Admin work on keys: issuing a tenant's web chat key, re-encrypting every secret under a new master key."""

from __future__ import annotations

import asyncpg

from admin.records import Tenant
from ops.secret_rewrap import RewrapReport, rewrap_secrets
from tenant_secrets.master_keys import Keyring
from tenant_secrets.web_chat_keys import new_web_chat_key, web_chat_key_digest

_STORE_WEB_CHAT_KEY = """
INSERT INTO web_chat_keys (user_id, key_hash) VALUES ($1, $2)
ON CONFLICT (user_id) DO UPDATE SET key_hash = EXCLUDED.key_hash, created_at = now()
RETURNING (xmax <> 0) AS replaced
"""


async def issue_web_chat_key(conn: asyncpg.Connection, tenant: Tenant) -> tuple[str, bool]:
    """A new web chat key for the tenant (only its digest is stored); True when it replaced one."""
    key = new_web_chat_key()
    return key, await store_web_chat_key(conn, tenant, key)


async def store_web_chat_key(conn: asyncpg.Connection, tenant: Tenant, key: str) -> bool:
    """Make `key` the tenant's web chat key (its digest, bound to the tenant); True when it replaced one."""
    replaced = await conn.fetchval(_STORE_WEB_CHAT_KEY, tenant.id, web_chat_key_digest(tenant.id, key))
    return bool(replaced)


async def rotate_master_key(conn: asyncpg.Connection, keyring: Keyring | None = None) -> RewrapReport:
    """Re-encrypt every secret not under the current master key (plain-text ones too), row by row."""
    return await rewrap_secrets(conn, Keyring.from_env() if keyring is None else keyring, rotate=True)
