"""Fixtures every test can use: a real Postgres server and fresh, migrated databases on it."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import asyncpg
import pytest

from ops.database import data_dir, start_embedded_postgres, with_database
from ops.migrate import migrate
from tenant_secrets.master_keys import new_local_master_key
from tests.aws import moto_server

CreateDatabase = Callable[[], Awaitable[str]]
KMS_REGION = "eu-west-1"


@pytest.fixture(scope="session", autouse=True)
def master_key() -> Iterator[str]:
    """Tenant secrets are stored encrypted: every test run has a local master key (the admin code,
    the handler and tests/factories.py all read it from the environment)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("KMS_KEY_ID", "LOCAL_MASTER_KEY_FILE"):
            patch.delenv(name, raising=False)
        key = new_local_master_key()
        patch.setenv("LOCAL_MASTER_KEY", key)
        yield key


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


@pytest.fixture(scope="session")
def moto_kms_url() -> Iterator[str]:
    """A KMS API (moto's server) on 127.0.0.1, reached through boto3 with `AWS_ENDPOINT_URL_KMS`."""
    with moto_server() as url:
        yield url


@pytest.fixture
def kms_key_id(moto_kms_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh KMS key on moto's server; the environment points boto3 at it (`KMS_KEY_ID` is not set)."""
    import boto3

    from tenant_secrets import master_keys

    for name, value in {
        "AWS_ENDPOINT_URL_KMS": moto_kms_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": KMS_REGION,
    }.items():
        monkeypatch.setenv(name, value)
    master_keys._kms_client.cache_clear()  # a client made before would not see this endpoint
    kms = boto3.client("kms", region_name=KMS_REGION, endpoint_url=moto_kms_url)
    key_id: str = kms.create_key(Description="tenant secrets (test)")["KeyMetadata"]["Arn"]
    yield key_id
    master_keys._kms_client.cache_clear()
