"""Row Level Security: a tenant's own database role sees and writes only its rows; the handler's
role (BYPASSRLS, or the tables' owner) sees every tenant."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from ops.migrate import migrate
from tests.conftest import CreateDatabase
from tests.factories import SeededTenant, add_tenant, issue_web_chat_key

TABLES = ("user_whatsapp_config", "user_groq_config", "customer_conversations", "web_chat_keys")


@pytest.fixture
async def roles(db: asyncpg.Connection) -> AsyncIterator[tuple[str, str]]:
    """A tenant dashboard's role (like Supabase's `authenticated`) and a handler role with BYPASSRLS."""
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


async def two_tenants(db: asyncpg.Connection) -> tuple[SeededTenant, SeededTenant]:
    first, second = await add_tenant(db, 1), await add_tenant(db, 2)
    for tenant in (first, second):
        await issue_web_chat_key(db, tenant.user_id)
        await db.execute(
            "INSERT INTO customer_conversations (user_id, phone_number, content, sender)"
            " VALUES ($1, '+242066582610', 'Hello', 'user')",
            tenant.user_id,
        )
    await db.execute(
        "INSERT INTO customer_conversations (user_id, phone_number, content, sender)"
        " VALUES (NULL, '+242000000000', 'Who?', 'user')"
    )
    return first, second


async def owners_seen(
    db: asyncpg.Connection, role: str, claim: tuple[str, str] | None
) -> dict[str, set[object]]:
    async with db.transaction():
        await db.execute(f"SET LOCAL ROLE {role}")
        if claim is not None:
            await db.execute("SELECT set_config($1, $2, true)", *claim)
        return {
            table: {row["user_id"] for row in await db.fetch(f"SELECT user_id FROM {table}")}
            for table in TABLES
        }


async def test_a_tenant_role_sees_only_its_own_rows(db: asyncpg.Connection, roles: tuple[str, str]) -> None:
    first, second = await two_tenants(db)
    tenant_role, _ = roles

    as_first = await owners_seen(db, tenant_role, ("request.jwt.claim.sub", str(first.user_id)))
    as_second = await owners_seen(
        db,
        tenant_role,
        ("request.jwt.claims", json.dumps({"sub": str(second.user_id), "role": "authenticated"})),
    )
    anonymous = await owners_seen(db, tenant_role, None)

    assert as_first == dict.fromkeys(TABLES, {first.user_id})
    assert as_second == dict.fromkeys(TABLES, {second.user_id})
    assert anonymous == dict.fromkeys(TABLES, set())


async def test_a_tenant_role_cannot_write_rows_of_another_tenant(
    db: asyncpg.Connection, roles: tuple[str, str]
) -> None:
    first, second = await two_tenants(db)
    tenant_role, _ = roles

    async with db.transaction():
        await db.execute(f"SET LOCAL ROLE {tenant_role}")
        await db.execute("SELECT set_config('request.jwt.claim.sub', $1, true)", str(first.user_id))
        changed = await db.execute(
            "UPDATE customer_conversations SET content = 'x' WHERE user_id = $1", second.user_id
        )
        assert changed == "UPDATE 0"
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await db.execute(
                "INSERT INTO customer_conversations (user_id, phone_number, content, sender)"
                " VALUES ($1, '+1', 'forged', 'user')",
                second.user_id,
            )
    assert await db.fetchval("SELECT count(*) FROM customer_conversations WHERE content = 'x'") == 0


async def test_the_handlers_role_sees_every_tenant(db: asyncpg.Connection, roles: tuple[str, str]) -> None:
    first, second = await two_tenants(db)
    _, handler_role = roles

    seen = await owners_seen(db, handler_role, None)

    assert seen["customer_conversations"] == {first.user_id, second.user_id, None}
    assert seen["user_whatsapp_config"] == {first.user_id, second.user_id}


async def test_rls_is_enabled_but_not_forced_so_the_owner_is_not_restricted(db: asyncpg.Connection) -> None:
    rows = await db.fetch(
        "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = ANY($1::text[])",
        list(TABLES),
    )
    assert {(r["relname"], r["relrowsecurity"], r["relforcerowsecurity"]) for r in rows} == {
        (table, True, False) for table in TABLES
    }


async def test_an_existing_auth_uid_is_kept_as_on_supabase(create_database: CreateDatabase) -> None:
    url = await create_database()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE SCHEMA auth;"
            " CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE"
            " AS $$ SELECT '00000000-0000-0000-0000-00000000beef'::uuid /* supabase */ $$"
        )
        await migrate(url)
        source = await conn.fetchval("SELECT prosrc FROM pg_proc WHERE oid = 'auth.uid()'::regprocedure")
        assert "supabase" in source
    finally:
        await conn.close()


async def test_a_role_bound_to_a_tenant_cannot_claim_another_by_setting_the_jwt_claim(
    db: asyncpg.Connection, roles: tuple[str, str]
) -> None:
    first, second = await two_tenants(db)
    tenant_role, _ = roles
    await db.execute(
        "INSERT INTO auth.tenant_roles (role_name, user_id) VALUES ($1, $2)", tenant_role, first.user_id
    )

    forged_sub = await owners_seen(db, tenant_role, ("request.jwt.claim.sub", str(second.user_id)))
    forged_claims = await owners_seen(
        db, tenant_role, ("request.jwt.claims", json.dumps({"sub": str(second.user_id)}))
    )
    nothing_set = await owners_seen(db, tenant_role, None)

    assert forged_sub == forged_claims == nothing_set == dict.fromkeys(TABLES, {first.user_id})


async def test_a_role_sees_only_its_own_binding(db: asyncpg.Connection, roles: tuple[str, str]) -> None:
    first, second = await two_tenants(db)
    tenant_role, handler_role = roles
    await db.execute(
        "INSERT INTO auth.tenant_roles (role_name, user_id) VALUES ($1, $2), ($3, $4)",
        tenant_role,
        first.user_id,
        handler_role,
        second.user_id,
    )
    async with db.transaction():
        await db.execute(f"SET LOCAL ROLE {tenant_role}")
        visible = await db.fetch("SELECT role_name, user_id FROM auth.tenant_roles")
    assert [(r["role_name"], r["user_id"]) for r in visible] == [(tenant_role, first.user_id)]
