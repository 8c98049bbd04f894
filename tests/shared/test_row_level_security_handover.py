"""Row Level Security on migrations/011's tenant tables, as on the others (migrations/005, 006): a
tenant's own role sees only its rows; the handler's (BYPASSRLS) sees every tenant's."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.factories import add_tenant

TABLES = ("tenant_handover_settings", "conversation_pauses", "customer_opt_outs")


@pytest.fixture
async def roles(db: asyncpg.Connection) -> AsyncIterator[tuple[str, str]]:
    suffix = uuid.uuid4().hex[:8]
    tenant_role, handler_role = f"tenant_{suffix}", f"handler_{suffix}"
    await db.execute(f"CREATE ROLE {tenant_role} NOLOGIN")
    await db.execute(f"CREATE ROLE {handler_role} NOLOGIN BYPASSRLS")
    for role in (tenant_role, handler_role):
        await db.execute(f"GRANT USAGE ON SCHEMA auth TO {role}")
        await db.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(TABLES)} TO {role}")
    try:
        yield tenant_role, handler_role
    finally:
        for role in (tenant_role, handler_role):
            await db.execute(f"DROP OWNED BY {role}")
            await db.execute(f"DROP ROLE {role}")


async def owners_seen(db: asyncpg.Connection, role: str, tenant: uuid.UUID | None) -> dict[str, set[object]]:
    async with db.transaction():
        await db.execute(f"SET LOCAL ROLE {role}")
        if tenant is not None:
            await db.execute("SELECT set_config('request.jwt.claim.sub', $1, true)", str(tenant))
        return {
            table: {row["user_id"] for row in await db.fetch(f"SELECT user_id FROM {table}")}
            for table in TABLES
        }


async def test_each_tenant_sees_only_its_pauses_opt_outs_and_settings(
    db: asyncpg.Connection, roles: tuple[str, str]
) -> None:
    first, second = await add_tenant(db, 1), await add_tenant(db, 2)
    for tenant in (first, second):
        await db.execute("INSERT INTO tenant_handover_settings (user_id) VALUES ($1)", tenant.user_id)
        await db.execute(
            "INSERT INTO conversation_pauses (user_id, customer_key, paused_until, reason)"
            " VALUES ($1, '33612345678', 'infinity', 'operator')",
            tenant.user_id,
        )
        await db.execute(
            "INSERT INTO customer_opt_outs (user_id, customer_key, scope, opted_out, source, changed_at)"
            " VALUES ($1, '33612345678', 'assistant', true, 'stop_word', now())",
            tenant.user_id,
        )
    tenant_role, handler_role = roles

    assert await owners_seen(db, tenant_role, first.user_id) == dict.fromkeys(TABLES, {first.user_id})
    assert await owners_seen(db, tenant_role, None) == dict.fromkeys(TABLES, set())
    assert await owners_seen(db, handler_role, None) == dict.fromkeys(TABLES, {first.user_id, second.user_id})
    async with db.transaction():
        await db.execute(f"SET LOCAL ROLE {tenant_role}")
        await db.execute("SELECT set_config('request.jwt.claim.sub', $1, true)", str(first.user_id))
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await db.execute(
                "INSERT INTO conversation_pauses (user_id, customer_key, paused_until, reason)"
                " VALUES ($1, 'x', 'infinity', 'operator')",
                second.user_id,
            )
