"""Fixtures every test can use: a real Postgres server and fresh, migrated databases on it."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import asyncpg
import pytest

from shared.database import data_dir, start_embedded_postgres, with_database
from shared.migrate import migrate

CreateDatabase = Callable[[], Awaitable[str]]


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """`DATABASE_URL` when set, otherwise an embedded server that lives as long as the test run."""
    configured = os.environ.get("DATABASE_URL", "").strip()
    if configured:
        yield configured
        return
    yield start_embedded_postgres(data_dir() / "test-postgres")


@pytest.fixture(scope="session")
async def create_database(postgres_server_url: str) -> AsyncIterator[CreateDatabase]:
    """Make empty databases on the test server; every one is dropped when the run ends."""
    created: list[str] = []

    async def create() -> str:
        name = "test_" + uuid.uuid4().hex[:16]
        admin = await asyncpg.connect(postgres_server_url)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        created.append(name)
        return with_database(postgres_server_url, name)

    yield create

    admin = await asyncpg.connect(postgres_server_url)
    try:
        for name in created:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def database_url(create_database: CreateDatabase) -> str:
    """A database with every migration applied, shared by the tests of one run."""
    url = await create_database()
    await migrate(url)
    return url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the shared migrated database, with every tenant table emptied first."""
    conn = await asyncpg.connect(database_url)
    await conn.execute(
        "TRUNCATE customer_conversations, user_groq_config, user_whatsapp_config, auth.users CASCADE"
    )
    try:
        yield conn
    finally:
        await conn.close()
