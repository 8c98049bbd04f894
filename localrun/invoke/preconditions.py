"""What the sample events assume the database holds, made true idempotently before `make invoke`
runs one: the tenants they name, the web chat key `http-api-web-chat.json` carries, and the reply
a status event reports on.

The tenants' WhatsApp tokens and Groq keys are offline values that only this run's stand-ins
accept; they are stored encrypted under the master key, as `wa-admin` stores real ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from uuid import UUID

import asyncpg

from admin import configs, security, tenants
from admin.errors import PhoneNumberInUse, UnknownTenant
from admin.records import Tenant
from admin.secrets_input import Secret
from infra.sample_events import signed_body
from localrun.errors import SampleConflict
from providers.groq_models import DEFAULT_CHAT_MODEL
from shared.webhook import is_whatsapp_payload, parse_webhook
from tenant_secrets.web_chat_keys import web_chat_key_matches

# The tenant `http-api-web-chat.json` names (`webUserId`) and the key its `authorization` header
# carries: documented test values, like the test app secret, never a real tenant's.
WEB_CHAT_TENANT_ID = UUID("5f0c6a8e-1d2b-4c3a-9e4f-7a8b9c0d1e2f")
SAMPLE_WEB_CHAT_KEY = "wck_sample-web-chat-key-of-tenant-5f0c6a8e"


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleTenant:
    email: str
    phone_number_id: str
    access_token: str = field(repr=False)
    groq_api_key: str = field(repr=False)
    user_id: UUID | None = None  # fixed where an event names the tenant's id

    @property
    def label(self) -> str:
        return f"tenant {self.phone_number_id}"


def _sample(phone_number_id: str, user_id: UUID | None = None) -> SampleTenant:
    return SampleTenant(
        email=f"sample-{phone_number_id}@sample-events.example",
        phone_number_id=phone_number_id,
        access_token=f"EAA-offline-sample-token-{phone_number_id}",
        groq_api_key=f"gsk_offline_sample_key_{phone_number_id}",
        user_id=user_id,
    )


# The numbers the events write to; the first one is also the web chat tenant.
SAMPLE_TENANTS: tuple[SampleTenant, ...] = (
    _sample("123456789", WEB_CHAT_TENANT_ID),
    _sample("111111111"),
    _sample("222222222"),
)
WEB_CHAT_TENANT = SAMPLE_TENANTS[0]


class Readiness(StrEnum):
    CREATED = "created"
    UPDATED = "updated"  # it was there, but not as the events need it
    READY = "already there"


@dataclass(frozen=True, slots=True, kw_only=True)
class Prepared:
    """One precondition and what making it true took."""

    what: str
    readiness: Readiness


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportedReply:
    """A reply a status event reports on: it must exist, as sent, for the status to move it on."""

    phone_number_id: str
    wa_message_id: str
    customer: str


def reported_replies(event: Mapping[str, Any]) -> tuple[ReportedReply, ...]:
    """The replies the statuses in `event`'s webhook body name (none for other events)."""
    body = signed_body(event)
    if body is None:
        return ()
    try:
        payload = json.loads(body)
    except ValueError:
        return ()
    if not is_whatsapp_payload(payload):
        return ()
    return tuple(
        ReportedReply(
            phone_number_id=status.phone_number_id, wa_message_id=status.message_id, customer=status.recipient
        )
        for status in parse_webhook(payload).statuses
    )


def credentials_match(current: configs.TenantCredentials | None, sample: SampleTenant) -> bool:
    """Does the tenant already have the sample's active number, token, Groq key and model?"""
    return (
        current is not None
        and current.phone_number_id == sample.phone_number_id
        and current.active
        and current.access_token is not None
        and current.access_token.value == sample.access_token
        and current.groq_api_key is not None
        and current.groq_api_key.value == sample.groq_api_key
        and current.model == DEFAULT_CHAT_MODEL
    )


async def prepare(conn: asyncpg.Connection, event: Mapping[str, Any]) -> list[Prepared]:
    """Make every precondition of `event` true; return each, with what it took."""
    prepared: list[Prepared] = []
    found: dict[str, Tenant] = {}
    for sample in SAMPLE_TENANTS:
        tenant, readiness = await _ensure_tenant(conn, sample)
        found[sample.phone_number_id] = tenant
        prepared.append(Prepared(what=f"{sample.label} (id {tenant.id})", readiness=readiness))
    prepared.append(await _ensure_web_chat_key(conn, found[WEB_CHAT_TENANT.phone_number_id]))
    for reply in reported_replies(event):
        owner = found.get(reply.phone_number_id)
        if owner is not None:  # a number no sample tenant has: the status stays unmatched
            prepared.append(await _ensure_reply(conn, owner, reply))
    return prepared


async def _ensure_tenant(conn: asyncpg.Connection, sample: SampleTenant) -> tuple[Tenant, Readiness]:
    async with conn.transaction():
        try:
            tenant = await tenants.find_tenant(conn, str(sample.user_id or sample.email))
            created = False
        except UnknownTenant:
            tenant = await tenants.add_tenant(conn, sample.email, sample.user_id)
            created = True
        await tenants.lock_tenant(conn, tenant)
        current = await configs.tenant_credentials(conn, only=tenant)
        if credentials_match(current[0] if current else None, sample):
            return tenant, Readiness.READY
        changes = configs.WhatsAppChanges(
            phone_number_id=sample.phone_number_id, active=True, access_token=Secret(sample.access_token)
        )
        try:
            await configs.set_whatsapp_config(conn, tenant, changes)
        except PhoneNumberInUse:
            raise SampleConflict(
                f"phone_number_id {sample.phone_number_id} is active for a tenant make invoke did not"
                f" create (not {sample.email}); deactivate it (wa-admin deactivate TENANT) or use"
                " another APP_DATA_DIR"
            ) from None
        await configs.set_groq_config(
            conn,
            tenant,
            configs.GroqChanges(api_key=Secret(sample.groq_api_key), model=DEFAULT_CHAT_MODEL),
        )
    return tenant, Readiness.CREATED if created else Readiness.UPDATED


_WEB_CHAT_KEY_HASH = "SELECT key_hash FROM web_chat_keys WHERE user_id = $1"


async def _ensure_web_chat_key(conn: asyncpg.Connection, tenant: Tenant) -> Prepared:
    what = (
        f"web chat key of {WEB_CHAT_TENANT.label} (the key in http-api-web-chat.json's authorization header)"
    )
    stored = await conn.fetchval(_WEB_CHAT_KEY_HASH, tenant.id)
    if web_chat_key_matches(tenant.id, SAMPLE_WEB_CHAT_KEY, stored):
        return Prepared(what=what, readiness=Readiness.READY)
    replaced = await security.store_web_chat_key(conn, tenant, SAMPLE_WEB_CHAT_KEY)
    return Prepared(what=what, readiness=Readiness.UPDATED if replaced else Readiness.CREATED)


# A reply this tool records so that the status has something to move on; an existing one at a
# later stage (delivered by an earlier run) goes back to `sent`, so every run shows the change.
_ENSURE_SENT_REPLY = """
INSERT INTO customer_conversations AS c
    (user_id, phone_number, content, sender, source, wa_message_id, business_phone_number_id, status)
VALUES ($1, $2, $3, 'bot', 'whatsapp', $4, $5, 'sent')
ON CONFLICT (user_id, wa_message_id) WHERE wa_message_id IS NOT NULL DO UPDATE
SET status = 'sent', error_code = NULL, error_title = NULL, updated_at = now()
WHERE c.sender = 'bot' AND c.status IS DISTINCT FROM 'sent'
RETURNING (xmax = 0) AS created
"""
SAMPLE_REPLY_TEXT = "A sample reply (recorded by make invoke for a status to report on)."


async def _ensure_reply(conn: asyncpg.Connection, tenant: Tenant, reply: ReportedReply) -> Prepared:
    created = await conn.fetchval(
        _ENSURE_SENT_REPLY,
        tenant.id,
        reply.customer,
        SAMPLE_REPLY_TEXT,
        reply.wa_message_id,
        reply.phone_number_id,
    )
    what = f"reply {reply.wa_message_id} to {reply.customer} with status sent (for the status to move on)"
    if created is None:
        return Prepared(what=what, readiness=Readiness.READY)
    return Prepared(what=what, readiness=Readiness.CREATED if created else Readiness.UPDATED)


def secret_owners(samples: Sequence[SampleTenant] = SAMPLE_TENANTS) -> dict[str, str]:
    """Each sample token and key → whose it is, so a report can say whose was used without showing it."""
    owners: dict[str, str] = {}
    for sample in samples:
        owners[sample.access_token] = f"{sample.label}'s token"
        owners[sample.groq_api_key] = f"{sample.label}'s key"
    return owners
