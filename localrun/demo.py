"""The two demo tenants `make run` creates on a fresh database, through the admin tooling's functions."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from admin import configs, tenants
from admin.errors import UnknownTenant
from admin.records import Tenant
from admin.secrets_input import Secret
from localrun.local_secrets import LocalSecrets


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoTenant:
    number: int  # 1 or 2: which demo access token it uses
    email: str
    phone_number_id: str
    model: str
    system_prompt: str


DEMO_TENANTS = (
    DemoTenant(
        number=1,
        email="boulangerie@demo.example",
        phone_number_id="100000000000001",
        model="openai/gpt-oss-120b",
        system_prompt=(
            "Tu es l'assistant WhatsApp de la Boulangerie Démo (pains, viennoiseries, commandes de gâteaux)."
            " Réponds poliment, brièvement et dans la langue du client."
        ),
    ),
    DemoTenant(
        number=2,
        email="garage@demo.example",
        phone_number_id="100000000000002",
        model="openai/gpt-oss-20b",
        system_prompt=(
            "You are the WhatsApp assistant of Demo Garage (repairs, servicing, appointments)."
            " Answer politely, briefly, in the customer's language."
        ),
    ),
)


class WrittenKeys:
    """Digests of the real Groq keys `make run` gave the demo tenants (DEMO_GROQ_API_KEY), kept in
    the data folder: a run without it puts back the offline key only where one of these is still
    set, never over a key the operator set with `wa-admin set-groq`."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def remember(self, key: str) -> None:
        digest = _digest(key)
        if not self._contains(digest):
            self._path.parent.mkdir(parents=True, exist_ok=True)
            with self._path.open("a") as file:
                file.write(digest + "\n")

    def wrote(self, key: str) -> bool:
        return self._contains(_digest(key))

    def _contains(self, digest: str) -> bool:
        return self._path.is_file() and digest in self._path.read_text().split()


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def ensure_demo_tenants(
    conn: asyncpg.Connection, local_secrets: LocalSecrets, real_groq_key: str = "", *, written: WrittenKeys
) -> list[str]:
    """Create each demo tenant that does not exist yet; return the emails created.

    Every run sets the demo tenants' Groq key for that run: `real_groq_key` when given (replies
    then come from Groq), otherwise the offline stand-in's key again (see `WrittenKeys`).
    """
    created: list[str] = []
    for demo in DEMO_TENANTS:
        async with conn.transaction():
            try:
                tenant = await tenants.find_tenant(conn, demo.email)
            except UnknownTenant:
                tenant = await tenants.add_tenant(conn, demo.email)
                await tenants.lock_tenant(conn, tenant)
                await _configure(conn, tenant, demo, local_secrets)
                created.append(demo.email)
            await _use_run_groq_key(
                conn,
                tenant,
                real_groq_key or local_secrets.demo_groq_api_key,
                written,
                offline=not real_groq_key,
            )
            if real_groq_key:
                written.remember(real_groq_key)
    return created


async def _use_run_groq_key(
    conn: asyncpg.Connection, tenant: Tenant, wanted: str, written: WrittenKeys, *, offline: bool
) -> None:
    [credentials] = await configs.tenant_credentials(conn, only=tenant)
    current = credentials.groq_api_key.value if credentials.groq_api_key is not None else None
    if current == wanted:
        return
    if offline and current is not None and not written.wrote(current):
        return  # the operator's own key (or one this master key cannot read): kept
    await tenants.lock_tenant(conn, tenant)
    await configs.set_groq_config(conn, tenant, configs.GroqChanges(api_key=Secret(wanted)))


async def _configure(
    conn: asyncpg.Connection, tenant: Tenant, demo: DemoTenant, local_secrets: LocalSecrets
) -> None:
    whatsapp = configs.WhatsAppChanges(
        phone_number_id=demo.phone_number_id,
        active=True,
        access_token=Secret(local_secrets.demo_access_token(demo.number)),
    )
    await configs.set_whatsapp_config(conn, tenant, whatsapp)
    groq = configs.GroqChanges(
        api_key=Secret(local_secrets.demo_groq_api_key), model=demo.model, system_prompt=demo.system_prompt
    )
    await configs.set_groq_config(conn, tenant, groq)
