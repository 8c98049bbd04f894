"""Tenants written straight into the test database, the way the admin CLI stores them (secrets
encrypted under the test run's master key, bound to the tenant and column)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg

from providers.groq_models import DEFAULT_CHAT_MODEL
from tenant_secrets.master_keys import Keyring
from tenant_secrets.secrets_crypto import SecretColumn, encrypt_secret
from tenant_secrets.web_chat_keys import new_web_chat_key, web_chat_key_digest


@dataclass(frozen=True, slots=True, kw_only=True)
class SeededTenant:
    user_id: UUID
    email: str
    phone_number_id: str
    access_token: str
    groq_key: str
    model: str


def seal(secret: str, column: SecretColumn, tenant_id: UUID) -> str:
    """What production stores for `secret` (the master key comes from the environment)."""
    return encrypt_secret(Keyring.from_env(), secret, column=column, tenant_id=tenant_id)


async def add_tenant(
    conn: asyncpg.Connection,
    number: int,
    *,
    whatsapp: bool = True,
    groq: bool = True,
    active: bool = True,
    model: str = DEFAULT_CHAT_MODEL,
    history_length: int = 10,
    system_prompt: str | None = None,
    app_secret: str | None = None,
) -> SeededTenant:
    """Tenant `number` gets phone_number_id 10000000000+number and secrets that name it."""
    tenant = SeededTenant(
        user_id=UUID(int=0),
        email=f"tenant{number}@example.com",
        phone_number_id=str(10_000_000_000 + number),
        access_token=f"EAA-token-of-tenant-{number}",
        groq_key=f"gsk_key_of_tenant_{number}",
        model=model,
    )
    user_id = await conn.fetchval("INSERT INTO auth.users (email) VALUES ($1) RETURNING id", tenant.email)
    if whatsapp:
        await conn.execute(
            "INSERT INTO user_whatsapp_config (user_id, access_token, phone_number_id, app_secret, is_active)"
            " VALUES ($1, $2, $3, $4, $5)",
            user_id,
            seal(tenant.access_token, SecretColumn.ACCESS_TOKEN, user_id),
            tenant.phone_number_id,
            None if app_secret is None else seal(app_secret, SecretColumn.APP_SECRET, user_id),
            active,
        )
    if groq:
        await conn.execute(
            "INSERT INTO user_groq_config (user_id, api_key, model, history_length) VALUES ($1, $2, $3, $4)",
            user_id,
            seal(tenant.groq_key, SecretColumn.GROQ_API_KEY, user_id),
            model,
            history_length,
        )
        if system_prompt is not None:
            await conn.execute(
                "UPDATE user_groq_config SET system_prompt = $2 WHERE user_id = $1", user_id, system_prompt
            )
    return SeededTenant(
        user_id=user_id,
        email=tenant.email,
        phone_number_id=tenant.phone_number_id,
        access_token=tenant.access_token,
        groq_key=tenant.groq_key,
        model=model,
    )


async def issue_web_chat_key(conn: asyncpg.Connection, user_id: UUID, key: str | None = None) -> str:
    """Give the tenant a web chat key (stored as `wa-admin issue-web-chat-key` stores it); return it."""
    key = key or new_web_chat_key()
    await conn.execute(
        "INSERT INTO web_chat_keys (user_id, key_hash) VALUES ($1, $2)"
        " ON CONFLICT (user_id) DO UPDATE SET key_hash = EXCLUDED.key_hash",
        user_id,
        web_chat_key_digest(user_id, key),
    )
    return key
