"""A tenant as the handler sees it: who they are, their WhatsApp number and their assistant settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class WhatsAppCredentials:
    phone_number_id: str
    access_token: str = field(repr=False)
    app_secret: str | None = field(default=None, repr=False)
    graph_api_version: str | None = None  # None: the deployment's GRAPH_API_VERSION
    # An app secret is stored but cannot be decrypted: no payload can be proven, so none is acted on.
    app_secret_unreadable: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class GroqConfig:
    api_key: str = field(repr=False)
    model: str
    temperature: float


@dataclass(frozen=True, slots=True, kw_only=True)
class AssistantSettings:
    system_prompt: str
    history_length: int
    fallback_text: str
    unsupported_media_text: str
    typing_indicator: bool = True  # mark the message read and show "typing…" before asking Groq


@dataclass(frozen=True, slots=True, kw_only=True)
class Tenant:
    user_id: UUID
    whatsapp: WhatsAppCredentials | None  # None: replies are saved but cannot be sent
    groq: GroqConfig | None  # None: the tenant cannot be served (503)
    assistant: AssistantSettings
