"""`DEMO_GROQ_API_KEY` is for the run it is given to: the next run without it is offline again,
and a key the operator set for a demo tenant with `wa-admin` is never overwritten."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from admin import configs, tenants
from admin.secrets_input import Secret
from localrun.demo import DEMO_TENANTS, WrittenKeys, ensure_demo_tenants
from localrun.local_secrets import LocalSecrets, load_or_create
from ops.migrate import apply_migrations

REAL_KEY = "gsk_" + "R" * 52
OPERATORS_KEY = "gsk_" + "O" * 52


@pytest.fixture
async def demo_db(db: asyncpg.Connection) -> asyncpg.Connection:
    await apply_migrations(db)
    return db


@pytest.fixture
def local_secrets(tmp_path: Path) -> LocalSecrets:
    return load_or_create(tmp_path / "local-secrets.json")


async def groq_keys(conn: asyncpg.Connection) -> dict[str | None, str | None]:
    found: dict[str | None, str | None] = {}
    for credentials in await configs.tenant_credentials(conn):
        key = credentials.groq_api_key
        found[credentials.tenant.email] = key.value if key is not None else None
    return found


async def test_a_run_without_the_real_key_puts_the_offline_key_back(
    demo_db: asyncpg.Connection, local_secrets: LocalSecrets, tmp_path: Path
) -> None:
    written = WrittenKeys(tmp_path / "demo-groq-keys")
    created = await ensure_demo_tenants(demo_db, local_secrets, written=written)
    with_real = await ensure_demo_tenants(demo_db, local_secrets, REAL_KEY, written=written)
    during = await groq_keys(demo_db)

    again = await ensure_demo_tenants(demo_db, local_secrets, written=written)

    assert created == [demo.email for demo in DEMO_TENANTS] and with_real == again == []
    assert during == {demo.email: REAL_KEY for demo in DEMO_TENANTS}
    assert await groq_keys(demo_db) == {demo.email: local_secrets.demo_groq_api_key for demo in DEMO_TENANTS}
    assert REAL_KEY not in (tmp_path / "demo-groq-keys").read_text()  # only its digest


async def test_a_key_the_operator_set_for_a_demo_tenant_is_kept(
    demo_db: asyncpg.Connection, local_secrets: LocalSecrets, tmp_path: Path
) -> None:
    written = WrittenKeys(tmp_path / "demo-groq-keys")
    await ensure_demo_tenants(demo_db, local_secrets, REAL_KEY, written=written)
    garage = await tenants.find_tenant(demo_db, "garage@demo.example")
    await configs.set_groq_config(demo_db, garage, configs.GroqChanges(api_key=Secret(OPERATORS_KEY)))

    await ensure_demo_tenants(demo_db, local_secrets, written=written)

    assert await groq_keys(demo_db) == {
        "boulangerie@demo.example": local_secrets.demo_groq_api_key,
        "garage@demo.example": OPERATORS_KEY,
    }
