"""Typed rows the admin queries return: the data the checks and the tables work on (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class Tenant:
    id: UUID
    email: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TenantOverview:
    """One line of `list`: secrets only as masked tails."""

    tenant: Tenant
    phone_number_id: str | None
    whatsapp_active: bool | None
    access_token_tail: str
    app_secret_tail: str
    groq_key_tail: str
    model: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejection:
    """The latest time Groq or Graph refused a tenant's credentials, with no success since."""

    at: datetime
    reason: str  # e.g. "http 401 invalid_api_key", or Graph's error title; never a secret


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSubstitution:
    """Groq refused the tenant's model and the deployment's default answered in its place."""

    requested_model: str
    substitute_model: str
    reason: str  # "http 404 model_not_found": status and code, never Groq's message
    times: int
    last_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryHealth:
    """What one tenant's recent conversation rows say about its Groq and WhatsApp credentials."""

    groq_rejection: Rejection | None = None  # last 24 h
    whatsapp_token_rejection: Rejection | None = None  # Graph error 190, last 24 h
    sends_outcome_unknown: int = 0  # customer messages, last 7 days
    # Customer messages of the last 7 days left unfinished for over 15 minutes: their events failed
    # every Lambda attempt (dead-letter queue) or their invocations never came back.
    unfinished_messages: int = 0
    oldest_unfinished_at: datetime | None = None
    model_substitution: ModelSubstitution | None = None  # the latest, last 7 days


@dataclass(frozen=True, slots=True, kw_only=True)
class TenantStatus:
    """What `check` knows about a tenant: the seed's verification columns plus what decides problems.

    The WhatsApp fields describe the tenant's active config, or its newest one when none is active.
    """

    tenant: Tenant
    phone_number_id: str | None  # None: no WhatsApp config at all
    whatsapp_active: bool | None
    access_token_configured: bool
    has_groq_config: bool
    groq_key_configured: bool
    model: str | None
    graph_api_version: str | None = None  # None: the deployment's GRAPH_API_VERSION
    # Secret columns holding a value this process cannot decrypt (SecretColumn values).
    unreadable_secrets: tuple[str, ...] = ()
    # What the handler recorded lately (monitoring.delivery_health); the default: nothing wrong.
    delivery: DeliveryHealth = DeliveryHealth()
    # The tenant's whole assistant is paused (`wa-admin pause TENANT --all`) until then (None: until resumed).
    assistant_paused: bool = False
    assistant_paused_until: datetime | None = None

    @property
    def has_active_number(self) -> bool:
        return bool(self.whatsapp_active)


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentificationRate:
    total_messages: int
    identified_messages: int
    success_rate: Decimal | None  # None when there were no messages


@dataclass(frozen=True, slots=True, kw_only=True)
class RecentMessage:
    created_at: datetime
    tenant_email: str | None
    phone_number: str | None
    sender: str | None
    content_preview: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TenantMessageCount:
    tenant_email: str | None  # None: messages no tenant was identified for
    total: int
    from_customers: int
    from_assistant: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TenantMediaCount:
    """Voice notes and images a tenant's customers sent: understood, or answered with the notice."""

    tenant_email: str | None
    voice_notes_understood: int  # transcribed and answered like a text
    voice_notes_fell_back: int
    images_understood: int  # images and stickers a vision model answered
    images_fell_back: int


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownOutcome:
    """A customer message whose reply may or may not have reached the customer (never resent)."""

    created_at: datetime
    tenant_email: str | None
    phone_number: str | None
    content_preview: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownOutcomes:
    total: int  # all of them in the window; `messages` holds the newest few
    messages: tuple[UnknownOutcome, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorCodeCount:
    error_code: int | None  # None: the failure carried no Graph code
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TenantFailedSends:
    tenant_email: str | None
    failed: int
    top_error_codes: tuple[ErrorCodeCount, ...]  # most frequent first


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationPause:
    """Why the assistant keeps out of a conversation, until when (None: until resumed)."""

    reason: str  # human_reply, operator
    until: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationSummary:
    """One line of `conversations TENANT`: a customer's conversation with the tenant."""

    customer_key: str
    last_at: datetime
    from_customer: int
    from_assistant: int
    from_business: int
    quiet: int  # customer messages stored and not answered on purpose
    pause: ConversationPause | None
    opted_out: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationRow:
    """One row of a conversation as stored (`conversations TENANT CUSTOMER`, make run's /history)."""

    created_at: datetime
    sender: str | None
    status: str | None
    quiet_reason: str | None  # why a customer message was not answered (migrations/011)
    error_title: str | None
    content: str | None
    media_outcome: str | None = None  # a voice note or image: transcribed, seen, fell_back


@dataclass(frozen=True, slots=True, kw_only=True)
class OptOut:
    """A customer who opted out, for `opt-outs TENANT`."""

    customer_key: str
    scope: str  # assistant (stop words), marketing (Meta's user_preferences)
    source: str
    detail: str | None
    changed_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class QuietCount:
    """Customer messages not answered on purpose, per tenant and reason (`stats`)."""

    tenant_email: str | None
    reason: str
    count: int
