"""The tenants' WhatsApp and Groq configs: the only module that reads or writes a secret column.

Secrets enter as `Secret` values, are stored encrypted (tenant_secrets.secrets_crypto, the master key from
the environment) and leave only as masked tails or "configured" flags.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

import asyncpg

from admin.errors import MissingSecret, NotConfigured, PhoneNumberInUse
from admin.records import Tenant, TenantOverview, TenantStatus
from admin.secrets_input import Secret, mask_secret
from tenant_secrets.master_keys import Keyring, MasterKeyError
from tenant_secrets.secrets_crypto import (
    SecretColumn,
    SecretUnreadable,
    decrypt_secret,
    encrypt_secret,
    is_encrypted,
)

# The database allows one active config per number (migration 002); it decides every race.
_ONE_ACTIVE_NUMBER = "user_whatsapp_config_one_active_number"


@dataclass(frozen=True, slots=True, kw_only=True)
class WhatsAppChanges:
    """What `set-whatsapp` sets; None leaves the stored value as it is."""

    phone_number_id: str
    app_id: str | None = None
    active: bool | None = None
    access_token: Secret | None = None
    app_secret: Secret | None = None
    graph_api_version: str | None = None  # "default": back to the deployment's version


@dataclass(frozen=True, slots=True, kw_only=True)
class GroqChanges:
    """What `set-groq` sets; None leaves the stored value (or the database's default) as it is."""

    api_key: Secret | None = None
    model: str | None = None
    temperature: Decimal | None = None
    system_prompt: str | None = None
    history_length: int | None = None
    fallback_text: str | None = None
    unsupported_media_text: str | None = None
    typing_indicator: bool | None = None
    vision_model: str | None = None  # "default": back to the deployment's
    transcription_model: str | None = None  # "default": back to the deployment's
    transcription_language: str | None = None  # "auto": Groq detects it


@dataclass(frozen=True, slots=True, kw_only=True)
class WhatsAppConfig:
    phone_number_id: str
    active: bool
    created: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class GroqConfig:
    model: str
    temperature: Decimal
    history_length: int
    created: bool
    vision_model: str | None = None  # None: the deployment's default
    transcription_model: str | None = None
    transcription_language: str | None = None


# A tenant has one config of each kind; a database the seed filled may hold several, and then the
# active one (WhatsApp), else the most recently updated, is the one the tenant uses.
_PRIMARY_WHATSAPP_CONFIG = """
SELECT id, phone_number_id, is_active
FROM user_whatsapp_config
WHERE user_id = $1
ORDER BY is_active DESC, updated_at DESC NULLS LAST, created_at DESC NULLS LAST
LIMIT 1
FOR UPDATE
"""

# $7: a Graph API version, 'default' (no override) or NULL (leave as it is).
_INSERT_WHATSAPP_CONFIG = """
INSERT INTO user_whatsapp_config
    (user_id, phone_number_id, access_token, app_id, app_secret, is_active, graph_api_version)
VALUES ($1, $2, $3, $4, $5, coalesce($6::boolean, true), nullif($7::text, 'default'))
RETURNING phone_number_id, is_active
"""

_UPDATE_WHATSAPP_CONFIG = """
UPDATE user_whatsapp_config
SET phone_number_id = $2,
    access_token = coalesce($3, access_token),
    app_id = coalesce($4, app_id),
    app_secret = coalesce($5, app_secret),
    is_active = coalesce($6::boolean, is_active),
    graph_api_version = CASE WHEN $7::text IS NULL THEN graph_api_version ELSE nullif($7::text, 'default') END,
    updated_at = now()
WHERE id = $1
RETURNING phone_number_id, is_active
"""

_DEACTIVATE_WHATSAPP = """
UPDATE user_whatsapp_config
SET is_active = false, updated_at = now()
WHERE user_id = $1 AND is_active
RETURNING phone_number_id
"""

_ACTIVATE_WHATSAPP = "UPDATE user_whatsapp_config SET is_active = true, updated_at = now() WHERE id = $1"

_PRIMARY_GROQ_CONFIG = """
SELECT id
FROM user_groq_config
WHERE user_id = $1
ORDER BY updated_at DESC NULLS LAST, created_at DESC NULLS LAST
LIMIT 1
FOR UPDATE
"""

# Settings are applied by the update below, so a new row takes the database's defaults for the rest.
_INSERT_GROQ_CONFIG = "INSERT INTO user_groq_config (user_id, api_key) VALUES ($1, $2) RETURNING id"

_UPDATE_GROQ_CONFIG = """
UPDATE user_groq_config
SET api_key = coalesce($2, api_key),
    model = coalesce($3, model),
    temperature = coalesce($4::numeric, temperature),
    system_prompt = coalesce($5, system_prompt),
    history_length = coalesce($6::integer, history_length),
    fallback_text = coalesce($7, fallback_text),
    unsupported_media_text = coalesce($8, unsupported_media_text),
    typing_indicator = coalesce($9::boolean, typing_indicator),
    vision_model = CASE WHEN $10::text IS NULL THEN vision_model ELSE nullif($10::text, 'default') END,
    transcription_model = CASE WHEN $11::text IS NULL THEN transcription_model
                               ELSE nullif($11::text, 'default') END,
    transcription_language = CASE WHEN $12::text IS NULL THEN transcription_language
                                  ELSE nullif($12::text, 'auto') END,
    updated_at = now()
WHERE id = $1
RETURNING model, temperature, history_length, vision_model, transcription_model, transcription_language
"""

_TENANT_CONFIGS = """
SELECT u.id, u.email,
       w.phone_number_id, w.is_active, w.access_token, w.app_secret, w.graph_api_version,
       g.id AS groq_config_id, g.api_key, g.model
FROM auth.users AS u
LEFT JOIN LATERAL (
    SELECT phone_number_id, is_active, access_token, app_secret, graph_api_version
    FROM user_whatsapp_config
    WHERE user_id = u.id
    ORDER BY is_active DESC, updated_at DESC NULLS LAST, created_at DESC NULLS LAST
    LIMIT 1
) AS w ON true
LEFT JOIN LATERAL (
    SELECT id, api_key, model
    FROM user_groq_config
    WHERE user_id = u.id
    ORDER BY updated_at DESC NULLS LAST, created_at DESC NULLS LAST
    LIMIT 1
) AS g ON true
ORDER BY u.email NULLS LAST, u.id
"""


async def set_whatsapp_config(
    conn: asyncpg.Connection, tenant: Tenant, changes: WhatsAppChanges
) -> WhatsAppConfig:
    """Create or update the tenant's WhatsApp config; call inside a transaction holding the tenant."""
    existing = await conn.fetchrow(_PRIMARY_WHATSAPP_CONFIG, tenant.id)
    if existing is None and changes.access_token is None:
        raise MissingSecret(
            "a new WhatsApp config needs an access token: use --access-token-env NAME or --access-token-stdin"
        )
    values = (
        changes.phone_number_id,
        await _seal(changes.access_token, SecretColumn.ACCESS_TOKEN, tenant.id),
        changes.app_id,
        await _seal(changes.app_secret, SecretColumn.APP_SECRET, tenant.id),
        changes.active,
        changes.graph_api_version,
    )
    try:
        if existing is None:
            row = await conn.fetchrow(_INSERT_WHATSAPP_CONFIG, tenant.id, *values)
        else:
            row = await conn.fetchrow(_UPDATE_WHATSAPP_CONFIG, existing["id"], *values)
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == _ONE_ACTIVE_NUMBER:
            raise PhoneNumberInUse(changes.phone_number_id) from None
        raise
    assert row is not None
    return WhatsAppConfig(
        phone_number_id=row["phone_number_id"], active=row["is_active"], created=existing is None
    )


async def deactivate_whatsapp(conn: asyncpg.Connection, tenant: Tenant) -> list[str]:
    """Deactivate the tenant's numbers; return those that were active (none: already inactive)."""
    rows = await conn.fetch(_DEACTIVATE_WHATSAPP, tenant.id)
    if not rows and await conn.fetchrow(_PRIMARY_WHATSAPP_CONFIG, tenant.id) is None:
        raise NotConfigured(f"tenant {tenant.email or tenant.id} has no WhatsApp config")
    return [row["phone_number_id"] for row in rows]


async def reactivate_whatsapp(conn: asyncpg.Connection, tenant: Tenant) -> tuple[str, bool]:
    """Activate the tenant's number; return it and whether it was inactive before."""
    existing = await conn.fetchrow(_PRIMARY_WHATSAPP_CONFIG, tenant.id)
    if existing is None:
        raise NotConfigured(f"tenant {tenant.email or tenant.id} has no WhatsApp config")
    number: str = existing["phone_number_id"]
    if existing["is_active"]:
        return number, False
    try:
        await conn.execute(_ACTIVATE_WHATSAPP, existing["id"])
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == _ONE_ACTIVE_NUMBER:
            raise PhoneNumberInUse(number) from None
        raise
    return number, True


async def set_groq_config(conn: asyncpg.Connection, tenant: Tenant, changes: GroqChanges) -> GroqConfig:
    """Create or update the tenant's Groq config; call inside a transaction holding the tenant."""
    config_id = await conn.fetchval(_PRIMARY_GROQ_CONFIG, tenant.id)
    created = config_id is None
    if created:
        if changes.api_key is None:
            raise MissingSecret(
                "a new Groq config needs an API key: use --api-key-env NAME or --api-key-stdin"
            )
    sealed_key = await _seal(changes.api_key, SecretColumn.GROQ_API_KEY, tenant.id)
    if created:
        config_id = await conn.fetchval(_INSERT_GROQ_CONFIG, tenant.id, sealed_key)
    row = await conn.fetchrow(
        _UPDATE_GROQ_CONFIG,
        config_id,
        sealed_key,
        changes.model,
        changes.temperature,
        changes.system_prompt,
        changes.history_length,
        changes.fallback_text,
        changes.unsupported_media_text,
        changes.typing_indicator,
        changes.vision_model,
        changes.transcription_model,
        changes.transcription_language,
    )
    assert row is not None
    return GroqConfig(
        model=row["model"],
        temperature=row["temperature"],
        history_length=row["history_length"],
        created=created,
        vision_model=row["vision_model"],
        transcription_model=row["transcription_model"],
        transcription_language=row["transcription_language"],
    )


async def tenant_overviews(conn: asyncpg.Connection) -> list[TenantOverview]:
    """Every tenant with its configs, secrets masked (`list`)."""
    overviews = []
    for row in await conn.fetch(_TENANT_CONFIGS):
        tenant_id = row["id"]
        overviews.append(
            TenantOverview(
                tenant=Tenant(id=tenant_id, email=row["email"]),
                phone_number_id=row["phone_number_id"],
                whatsapp_active=row["is_active"],
                access_token_tail=await _tail(row["access_token"], SecretColumn.ACCESS_TOKEN, tenant_id),
                app_secret_tail=await _tail(row["app_secret"], SecretColumn.APP_SECRET, tenant_id),
                groq_key_tail=await _tail(row["api_key"], SecretColumn.GROQ_API_KEY, tenant_id),
                model=row["model"],
            )
        )
    return overviews


async def tenant_statuses(conn: asyncpg.Connection) -> list[TenantStatus]:
    """Every tenant with what `check` needs to decide problems: each stored secret is decrypted
    (what the handler will do) and reported as configured and readable, never shown."""
    statuses = []
    for row in await conn.fetch(_TENANT_CONFIGS):
        tenant_id = row["id"]
        unreadable = [
            column.value
            for column, stored in (
                (SecretColumn.ACCESS_TOKEN, row["access_token"]),
                (SecretColumn.APP_SECRET, row["app_secret"]),
                (SecretColumn.GROQ_API_KEY, row["api_key"]),
            )
            if isinstance(await _open(stored, column, tenant_id), _Unreadable)
        ]
        statuses.append(
            TenantStatus(
                tenant=Tenant(id=tenant_id, email=row["email"]),
                phone_number_id=row["phone_number_id"],
                whatsapp_active=row["is_active"],
                access_token_configured=_present(row["access_token"]),
                has_groq_config=row["groq_config_id"] is not None,
                groq_key_configured=_present(row["api_key"]),
                model=row["model"],
                graph_api_version=row["graph_api_version"],
                unreadable_secrets=tuple(unreadable),
            )
        )
    return statuses


@dataclass(frozen=True, slots=True, kw_only=True)
class TenantCredentials:
    """A tenant's credentials in clear, for the live check and the webhook test only (never printed)."""

    tenant: Tenant
    phone_number_id: str | None
    active: bool
    graph_api_version: str | None
    model: str | None
    access_token: Secret | None  # None: not configured or unreadable (`*_unreadable` tells)
    groq_api_key: Secret | None
    access_token_unreadable: bool
    groq_api_key_unreadable: bool
    # The tenant's own Meta app secret, which signs its app's webhooks (None: none, or unreadable).
    app_secret: Secret | None = None
    app_secret_unreadable: bool = False


async def tenant_credentials(conn: asyncpg.Connection, only: Tenant | None = None) -> list[TenantCredentials]:
    """Every tenant's (or `only`'s) decrypted access token, app secret and Groq key."""
    found = []
    for row in await conn.fetch(_TENANT_CONFIGS):
        if only is not None and row["id"] != only.id:
            continue
        token = await _open(row["access_token"], SecretColumn.ACCESS_TOKEN, row["id"])
        key = await _open(row["api_key"], SecretColumn.GROQ_API_KEY, row["id"])
        app_secret = await _open(row["app_secret"], SecretColumn.APP_SECRET, row["id"])
        found.append(
            TenantCredentials(
                tenant=Tenant(id=row["id"], email=row["email"]),
                phone_number_id=row["phone_number_id"],
                active=bool(row["is_active"]),
                graph_api_version=row["graph_api_version"],
                model=row["model"],
                access_token=Secret(token) if isinstance(token, str) else None,
                groq_api_key=Secret(key) if isinstance(key, str) else None,
                access_token_unreadable=isinstance(token, _Unreadable),
                groq_api_key_unreadable=isinstance(key, _Unreadable),
                app_secret=Secret(app_secret) if isinstance(app_secret, str) else None,
                app_secret_unreadable=isinstance(app_secret, _Unreadable),
            )
        )
    return found


class _Unreadable:
    """A stored secret this process cannot decrypt (another master key, a tampered value)."""


_UNREADABLE = _Unreadable()


async def _open(stored: str | None, column: SecretColumn, tenant_id: UUID) -> str | _Unreadable | None:
    """The plaintext (a plain-text seed value as it is), None when nothing is stored."""
    if not stored or not stored.strip():
        return None
    if not is_encrypted(stored):
        return stored
    try:
        return await asyncio.to_thread(decrypt_secret, _keyring(), stored, column=column, tenant_id=tenant_id)
    except (SecretUnreadable, MasterKeyError):
        return _UNREADABLE


async def _seal(secret: Secret | None, column: SecretColumn, tenant_id: UUID) -> str | None:
    """The value to store: the secret encrypted under the configured master key (KMS: one call)."""
    if secret is None:
        return None
    return await asyncio.to_thread(
        encrypt_secret, _keyring(), secret.value, column=column, tenant_id=tenant_id
    )


def _keyring() -> Keyring:
    """The master keys this process uses (`KMS_KEY_ID`, `LOCAL_MASTER_KEY`, `LOCAL_MASTER_KEY_FILE`)."""
    return Keyring.from_env()


# What `list` shows for a stored secret this process cannot decrypt (no key, or the wrong one).
UNREADABLE_TAIL = "(unreadable)"


async def _tail(stored: str | None, column: SecretColumn, tenant_id: UUID) -> str:
    opened = await _open(stored, column, tenant_id)
    return UNREADABLE_TAIL if isinstance(opened, _Unreadable) else mask_secret(opened)


def _present(stored: str | None) -> bool:
    return bool(stored and stored.strip())
