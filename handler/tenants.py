"""A tenant as the handler sees it: who they are, their WhatsApp number and their assistant settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class WhatsAppCredentials:
    phone_number_id: str
    access_token: str = field(repr=False)
    app_secret: str | None = field(default=None, repr=False)


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Tenant:
    user_id: UUID
    whatsapp: WhatsAppCredentials | None  # None: replies are saved but cannot be sent
    groq: GroqConfig | None  # None: the tenant cannot be served (503)
    assistant: AssistantSettings
