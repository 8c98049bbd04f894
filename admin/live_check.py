"""The live check: each tenant's credentials tried against Groq and the Graph API themselves.

Groq's `GET /openai/v1/models` with the tenant's key (through the official SDK, so `GROQ_BASE_URL`
applies) and Graph's `GET /{version}/{phone_number_id}` with its token. Each answer is working,
refused (Groq 401/403, Graph 190 and the like) or unreachable; nothing is sent to a customer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import groq
import httpx

from admin.configs import TenantCredentials
from admin.records import Tenant
from providers.graph_api import DEFAULT_BASE_URL, DEFAULT_VERSION
from shared.env import optional_str

PROBE_TIMEOUT_SECONDS = 10.0


class Verdict(StrEnum):
    WORKING = "working"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"
    NOT_CONFIGURED = "not configured"
    UNREADABLE = "unreadable"  # stored, but this process cannot decrypt it

    @property
    def ok(self) -> bool:
        return self is Verdict.WORKING


@dataclass(frozen=True, slots=True, kw_only=True)
class Probe:
    verdict: Verdict
    detail: str = ""  # status and code, model availability, the number's display name: never a secret

    def describe(self) -> str:
        return self.verdict.value + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveResult:
    tenant: Tenant
    active: bool
    groq: Probe
    whatsapp: Probe

    @property
    def ok(self) -> bool:
        return self.groq.verdict.ok and self.whatsapp.verdict.ok


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphTarget:
    base_url: str
    version: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GraphTarget:
        return cls(
            base_url=optional_str(env, "GRAPH_API_BASE_URL", DEFAULT_BASE_URL).rstrip("/"),
            version=optional_str(env, "GRAPH_API_VERSION", DEFAULT_VERSION),
        )


async def probe_groq(api_key: str, model: str | None, *, base_url: str | None = None) -> Probe:
    async with groq.AsyncGroq(
        api_key=api_key, base_url=base_url, max_retries=0, timeout=PROBE_TIMEOUT_SECONDS
    ) as client:
        try:
            listing = await client.models.list()
        except groq.APIStatusError as error:
            return Probe(
                verdict=Verdict.REFUSED, detail=f"http {error.status_code} {_groq_code(error.body)}".strip()
            )
        except groq.APIConnectionError as error:
            return Probe(verdict=Verdict.UNREACHABLE, detail=type(error).__name__)
    available = {model.id for model in listing.data}
    if model and model not in available:
        return Probe(
            verdict=Verdict.REFUSED, detail=f"the key works, but model {model} is not available to it"
        )
    return Probe(verdict=Verdict.WORKING, detail=f"model {model} available" if model else "")


async def probe_graph(
    http: httpx.AsyncClient, target: GraphTarget, phone_number_id: str, token: str, version: str | None
) -> Probe:
    url = f"{target.base_url}/{version or target.version}/{phone_number_id}"
    try:
        response = await http.get(
            url,
            params={"fields": "display_phone_number,verified_name,quality_rating"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=PROBE_TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as failure:
        return Probe(verdict=Verdict.UNREACHABLE, detail=type(failure).__name__)
    data = _json(response)
    if response.is_success:
        name = data.get("verified_name") or data.get("display_phone_number") or phone_number_id
        return Probe(verdict=Verdict.WORKING, detail=str(name)[:80])
    graph_error = data.get("error")
    code = graph_error.get("code") if isinstance(graph_error, dict) else None
    meaning = {190: "access token expired or invalid", 100: "this token cannot reach the number"}.get(
        code if isinstance(code, int) else -1, ""
    )
    detail = f"http {response.status_code}, code {code}" + (f": {meaning}" if meaning else "")
    return Probe(verdict=Verdict.REFUSED, detail=detail)


async def live_check(credentials: Sequence[TenantCredentials], env: Mapping[str, str]) -> list[LiveResult]:
    """Both probes for every tenant given, all at once."""
    target = GraphTarget.from_env(env)
    groq_base_url = optional_str(env, "GROQ_BASE_URL") or None
    async with httpx.AsyncClient() as http:

        async def one(tenant: TenantCredentials) -> LiveResult:
            groq_probe, graph_probe = await asyncio.gather(
                _groq_for(tenant, groq_base_url), _graph_for(http, target, tenant)
            )
            return LiveResult(
                tenant=tenant.tenant, active=tenant.active, groq=groq_probe, whatsapp=graph_probe
            )

        return list(await asyncio.gather(*(one(tenant) for tenant in credentials)))


async def _groq_for(tenant: TenantCredentials, base_url: str | None) -> Probe:
    if tenant.groq_api_key_unreadable:
        return Probe(verdict=Verdict.UNREADABLE, detail="the Groq key cannot be decrypted")
    if tenant.groq_api_key is None:
        return Probe(verdict=Verdict.NOT_CONFIGURED)
    return await probe_groq(tenant.groq_api_key.value, tenant.model, base_url=base_url)


async def _graph_for(http: httpx.AsyncClient, target: GraphTarget, tenant: TenantCredentials) -> Probe:
    if tenant.access_token_unreadable:
        return Probe(verdict=Verdict.UNREADABLE, detail="the access token cannot be decrypted")
    if tenant.access_token is None or tenant.phone_number_id is None:
        return Probe(verdict=Verdict.NOT_CONFIGURED)
    return await probe_graph(
        http, target, tenant.phone_number_id, tenant.access_token.value, tenant.graph_api_version
    )


def _groq_code(body: object) -> str:
    inner = body.get("error", body) if isinstance(body, dict) else None
    code = inner.get("code") if isinstance(inner, dict) else None
    return str(code)[:64] if isinstance(code, str) else ""


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
