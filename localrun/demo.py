"""The two demo tenants `make run` creates on a fresh database, through the admin tooling's functions."""

from __future__ import annotations

from dataclasses import dataclass

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


async def ensure_demo_tenants(
    conn: asyncpg.Connection, local_secrets: LocalSecrets, real_groq_key: str = ""
) -> list[str]:
    """Create each demo tenant that does not exist yet; return the emails created.

    With `real_groq_key`, every demo tenant's Groq key becomes that key (replies then come from Groq).
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
            if real_groq_key:
                await tenants.lock_tenant(conn, tenant)
                await configs.set_groq_config(
                    conn, tenant, configs.GroqChanges(api_key=Secret(real_groq_key))
                )
    return created


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
