"""Tenants are rows of `auth.users`: adding one, and finding one by id or email."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from admin.errors import DuplicateEmail, InvalidInput, UnknownTenant
from admin.records import Tenant

_EMAIL_TAKEN = "SELECT 1 FROM auth.users WHERE lower(email) = lower($1) LIMIT 1"

# $2: a chosen id (the sample events name one), or NULL for a new random one.
_INSERT_TENANT = """
INSERT INTO auth.users (id, email) VALUES (coalesce($2, gen_random_uuid()), $1) RETURNING id, email
"""

_PRIMARY_KEY = "users_pkey"

_TENANT_BY_ID = "SELECT id, email FROM auth.users WHERE id = $1"

# Supabase stores emails lower-cased; a database the seed filled may not have, so compare both ways.
_TENANTS_BY_EMAIL = "SELECT id, email FROM auth.users WHERE lower(email) = lower($1) ORDER BY id LIMIT 2"


async def add_tenant(conn: asyncpg.Connection, email: str, tenant_id: UUID | None = None) -> Tenant:
    """Create the tenant (with `tenant_id` when given); `DuplicateEmail` when the email is taken
    (the unique index decides races)."""
    async with conn.transaction():
        if await conn.fetchval(_EMAIL_TAKEN, email) is not None:
            raise DuplicateEmail(email)
        try:
            row = await conn.fetchrow(_INSERT_TENANT, email, tenant_id)
        except asyncpg.UniqueViolationError as exc:
            if tenant_id is not None and exc.constraint_name == _PRIMARY_KEY:
                raise InvalidInput(f"a tenant with id {tenant_id} already exists") from None
            raise DuplicateEmail(email) from None
    assert row is not None
    return Tenant(id=row["id"], email=row["email"])


async def find_tenant(conn: asyncpg.Connection, reference: str) -> Tenant:
    """The tenant whose id or email is `reference`; `UnknownTenant` when there is none."""
    tenant_id = _as_uuid(reference)
    if tenant_id is not None:
        row = await conn.fetchrow(_TENANT_BY_ID, tenant_id)
        if row is None:
            raise UnknownTenant(reference)
        return Tenant(id=row["id"], email=row["email"])
    rows = await conn.fetch(_TENANTS_BY_EMAIL, reference.strip())
    if not rows:
        raise UnknownTenant(reference)
    if len(rows) > 1:
        raise InvalidInput(f"several tenants have email {reference}; give the tenant's id instead")
    return Tenant(id=rows[0]["id"], email=rows[0]["email"])


def _as_uuid(reference: str) -> UUID | None:
    try:
        return UUID(reference.strip())
    except ValueError:
        return None


# Serialises admin commands changing one tenant's configs (two first `set-whatsapp` runs would
# otherwise both insert). NO KEY UPDATE does not block the handler's inserts referencing the tenant.
_LOCK_TENANT = "SELECT 1 FROM auth.users WHERE id = $1 FOR NO KEY UPDATE"


async def lock_tenant(conn: asyncpg.Connection, tenant: Tenant) -> None:
    """Hold the tenant's row until the current transaction ends."""
    await conn.execute(_LOCK_TENANT, tenant.id)
