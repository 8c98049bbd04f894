"""The handler's vocabulary, its ground floor: tenants, the states a customer message and a reply
go through (the SQL in migrations/ mirrors those values), claims, outcomes, what vouches for a
payload, and time. Data only: the decisions about it live in `conversation/decide.py`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID

from shared.envelope import Envelope

# --- tenants -----------------------------------------------------------------------------------


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
    # Voice notes and images (None: the deployment's defaults, `MediaPolicy`).
    vision_model: str | None = None
    transcription_model: str | None = None
    transcription_language: str | None = None  # ISO-639-1 hint, e.g. "fr"; None: Groq detects it


@dataclass(frozen=True, slots=True, kw_only=True)
class AssistantSettings:
    system_prompt: str
    history_length: int
    fallback_text: str
    unsupported_media_text: str
    typing_indicator: bool = True  # mark the message read and show "typing…" before asking Groq


DEFAULT_HUMAN_PAUSE_SECONDS = 12 * 3600
# Every language with default words (conversation/opt_out_words.py; migrations/011's default).
DEFAULT_OPT_OUT_LANGUAGES = ("fr", "en", "es", "pt", "de", "it")


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoverSettings:
    """When the assistant steps aside for a human, and the words that opt a customer out and back in
    (`tenant_handover_settings`, migrations/011; the default words: conversation/opt_out_words.py)."""

    bot_paused: bool = False  # the whole assistant is off: messages recorded, none answered
    human_pause_seconds: int = DEFAULT_HUMAN_PAUSE_SECONDS  # quiet after the business wrote by hand
    languages: tuple[str, ...] = DEFAULT_OPT_OUT_LANGUAGES
    stop_words: tuple[str, ...] = ()  # (): the defaults of `languages`
    start_words: tuple[str, ...] = ()
    opt_out_text: str | None = None  # None: the default confirmation in the stop word's language
    opt_in_text: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Tenant:
    user_id: UUID
    whatsapp: WhatsAppCredentials | None  # None: replies are saved but cannot be sent
    groq: GroqConfig | None  # None: the tenant cannot be served (503)
    assistant: AssistantSettings
    handover: HandoverSettings = HandoverSettings()


# --- messages, replies and their states ---------------------------------------------------------


class MessageStatus(StrEnum):
    """A customer's message (`sender = 'user'`)."""

    RECEIVED = "received"  # recorded, nobody answering it (given back after a failure)
    ANSWERING = "answering"  # claimed under a lease: the reply is being made
    SENDING = "sending"  # the reply is recorded and being sent (a lease that runs out: outcome unknown)
    SEND_RETRY = "send_retry"  # the reply is recorded; Meta refused a part for now: a retry resends it
    RESENDING = "resending"  # a retry is sending the recorded reply (never asks Groq again)
    ANSWERED = "answered"  # done: replied, noticed, or nothing to answer
    QUIET = "quiet"  # done, not answered on purpose: `quiet_reason` says why (paused, opted out, …)
    FAILED = "failed"  # done without a reply: a permanent error, or a passing one with no retry left
    OUTCOME_UNKNOWN = "outcome_unknown"  # a crash during a send: it may have reached the customer


# A message in one of these is someone's to finish: never answered from scratch by another.
CLAIMABLE = (
    MessageStatus.RECEIVED,
    MessageStatus.ANSWERING,
    MessageStatus.SENDING,
    MessageStatus.SEND_RETRY,
    MessageStatus.RESENDING,
)


class ReplyStatus(StrEnum):
    """One WhatsApp message of a reply (`sender = 'bot'`), up to what Meta's statuses report."""

    SENDING = "sending"  # recorded, being sent
    SEND_RETRY = "send_retry"  # not accepted by Meta yet (a passing error): the next attempt sends it
    SENT = "sent"
    DELIVERED = "delivered"  # also: a web chat reply, handed back in the response
    READ = "read"
    FAILED = "failed"
    NOT_SENT = "not_sent"  # never sent: no credentials, or an earlier part failed for good
    OUTCOME_UNKNOWN = "outcome_unknown"  # the request left, no answer came back: never resent


@dataclass(frozen=True, slots=True, kw_only=True)
class Recipient:
    """Whom a reply goes to: the phone number when the customer's message carried one (`to`),
    else their business-scoped user id (`recipient`, Meta's field for BSUIDs since July 2026)."""

    phone: str | None = None
    user_id: str | None = None

    def __post_init__(self) -> None:
        if not (self.phone or self.user_id):
            raise ValueError("a recipient needs a phone number or a business-scoped user id")

    def payload_fields(self) -> dict[str, str]:
        return {"to": self.phone} if self.phone else {"recipient": self.user_id or ""}


@dataclass(frozen=True, slots=True, kw_only=True)
class Turn:
    """One earlier message of the conversation, oldest first when in a list: the customer's
    (`user`), the assistant's (`bot`) or one the business wrote by hand (`business`)."""

    sender: Literal["user", "bot", "business"]
    content: str


# --- a human in the conversation ----------------------------------------------------------------


class QuietReason(StrEnum):
    """Why a customer message got no answer from the AI (`customer_conversations.quiet_reason`)."""

    BOT_OFF = "bot_off"  # the tenant's whole assistant is paused
    PAUSED_BY_OPERATOR = "paused_by_operator"  # `wa-admin pause TENANT CUSTOMER`
    PAUSED_BY_HUMAN = "paused_by_human"  # the business wrote to the customer by hand lately
    OPTED_OUT = "opted_out"  # the customer wrote a stop word and no start word since
    STOP_WORD = "stop_word"  # this message opted out: answered with the confirmation only
    START_WORD = "start_word"  # this message opted back in: answered with the confirmation only


class PauseReason(StrEnum):
    """Who paused a conversation (`conversation_pauses.reason`)."""

    HUMAN_REPLY = "human_reply"
    OPERATOR = "operator"


class OptOutScope(StrEnum):
    ASSISTANT = "assistant"  # the assistant's answers (stop and start words)
    MARKETING = "marketing"  # marketing messages (Meta's `user_preferences`): recorded, listed


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerControls:
    """What keeps the assistant out of one conversation right now."""

    pause_reason: PauseReason | None = None  # None: not paused
    paused_until: datetime | None = None  # None while paused: until resumed
    opted_out: bool = False  # of the assistant's answers


@dataclass(frozen=True, slots=True, kw_only=True)
class OptChange:
    """A customer's choice to record: out of the assistant's answers, or back in."""

    opted_out: bool
    source: Literal["stop_word", "start_word"]
    word: str  # as the customer wrote it


class EchoOutcome(StrEnum):
    """What recording one of the business's own messages did (`record_business_echo`, 011)."""

    RECORDED = "recorded"
    DUPLICATE = "duplicate"  # recorded before (Meta repeats webhooks)
    EDITED = "edited"
    REVOKED = "revoked"
    UNKNOWN_ORIGINAL = "unknown_original"  # an edit or revoke of a message we never saw
    OWN_MESSAGE = "own_message"  # an echo of a message this system sent: nothing changes


@dataclass(frozen=True, slots=True, kw_only=True)
class EchoRecord:
    outcome: EchoOutcome
    customer_key: str
    paused_until: datetime | None  # the conversation's pause now (None: not paused, or until resumed)


class MediaOutcome(StrEnum):
    """What became of a customer's voice note or image (`customer_conversations.media_outcome`)."""

    TRANSCRIBED = "transcribed"  # its content is the transcript, answered like a text
    SEEN = "seen"  # a vision model answered it (its content says an image came, and its caption)
    FELL_BACK = "fell_back"  # not understood: the notice was sent, the reason is its error_title


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaPolicy:
    """The deployment's rules for media: how large a file is fetched, and the default models."""

    max_audio_bytes: int
    max_image_bytes: int
    vision_model: str
    transcription_model: str
    check_sha256: bool = True  # compare the bytes with Meta's checksum when Meta gives one


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaMetadata:
    """Graph's answer to `GET /{media-id}`: where the bytes are for the next 5 minutes, and what they are."""

    url: str = field(repr=False)
    mime_type: str
    sha256: str | None
    file_size: int | None


# --- claims and what the store reports ---------------------------------------------------------


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"  # ours to answer (first attempt, or resuming after a crash)
    RESEND = "resend"  # ours to finish: its recorded reply is sent again, Groq is not asked
    ALREADY_HANDLED = "already_handled"  # a duplicate of a message answered (or given up) before
    IN_PROGRESS = "in_progress"  # another invocation holds the lease right now
    OUTCOME_UNKNOWN = "outcome_unknown"  # a crash during the send: it may have reached the customer
    NO_TENANT = "no_tenant"  # no active tenant has this business number


class StatusApplied(StrEnum):
    """What a delivery status did to the reply it names."""

    APPLIED = "applied"
    STALE = "stale"  # a known reply already at this stage or later (Meta repeats and reorders them)
    UNKNOWN = "unknown"  # no reply of this tenant has that id (or it may not act for the tenant)


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusWrite:
    """What writing a delivery status did. A reply of a tenant with its own Meta app secret is not
    written until the payload is proven for that app: `needs_proof_for` is then that secret."""

    applied: StatusApplied
    needs_proof_for: str | None = field(default=None, repr=False)
    app_secret_unreadable: bool = False  # nothing can be proven against a secret we cannot read


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    outcome: ClaimOutcome
    tenant: Tenant | None = None
    inbound_id: UUID | None = None
    attempts: int = 0
    customer_key: str = ""  # the conversation's key: the customer's phone number or BSUID
    earlier_pending: int = 0  # earlier messages of this customer still being answered elsewhere
    earlier_waiting: int = 0  # earlier messages of this customer waiting for a retry
    history: tuple[Turn, ...] = ()
    controls: CustomerControls = CustomerControls()  # as of the claim


@dataclass(frozen=True, slots=True, kw_only=True)
class NewMessage:
    """An inbound message as it is recorded."""

    phone_number_id: str
    customer_phone: str | None  # Meta's `from`
    customer_user_id: str | None  # Meta's `from_user_id` (BSUID)
    content: str
    wa_message_id: str
    message_type: str
    meta_timestamp: datetime | None

    def parameters(self) -> tuple[object, ...]:
        """$1–$7 of the statements that record an inbound message, in their order."""
        return (
            self.phone_number_id,
            self.customer_phone,
            self.customer_user_id,
            self.content,
            self.wa_message_id,
            self.message_type,
            self.meta_timestamp,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SendResult:
    """What the Graph API said about one part of a reply."""

    row_id: UUID
    wa_message_id: str | None
    status: ReplyStatus
    error_code: int | None = None
    error_title: str | None = None


# --- what vouches for a payload ----------------------------------------------------------------


class ProofKind(StrEnum):
    SIGNED = "signed"  # a whole payload: Meta's bytes and signature, and maybe the forwarder's key id
    SPLIT_PART = "split_part"  # a part of a payload the forwarder split: its key id only
    UNSIGNED = "unsigned"
    SEED_RELAY = "seed_relay"


@dataclass(frozen=True, slots=True)
class PayloadProof:
    kind: ProofKind
    body: bytes | None = field(default=None, repr=False)
    signature: str | None = None
    verified_by: str | None = None  # the key id of the app secret that verified the whole payload

    @classmethod
    def signed(cls, body: bytes, signature: str | None, *, verified_by: str | None = None) -> PayloadProof:
        return cls(ProofKind.SIGNED, body, signature, verified_by)

    @classmethod
    def from_envelope(cls, envelope: Envelope, raw_body: str) -> PayloadProof:
        """A whole payload (inline or parked) is Meta's original bytes; a part of a split one is not."""
        if envelope.parts == 1:
            return cls.signed(raw_body.encode(), envelope.signature, verified_by=envelope.verified_by)
        return cls(ProofKind.SPLIT_PART, verified_by=envelope.verified_by)

    @classmethod
    def unsigned(cls) -> PayloadProof:
        return cls(ProofKind.UNSIGNED)

    @classmethod
    def seed_relay(cls) -> PayloadProof:
        return cls(ProofKind.SEED_RELAY)


# --- outcomes ----------------------------------------------------------------------------------


class Outcome(StrEnum):
    REPLIED = "replied"  # every part of the reply was accepted by Meta
    SEND_FAILED = "send_failed"  # Meta refused the reply (recorded with code and title)
    NOT_SENT = "not_sent"  # saved, but the tenant has no WhatsApp credentials
    IGNORED = "ignored"  # nothing to answer (reaction, system notice)
    DUPLICATE = "duplicate"  # answered before
    DEFERRED = "deferred"  # another invocation holds it now and finishes it (or its own retry does)
    RETRY_LATER = "retry_later"  # a passing failure outlasted this invocation: a retry finishes it
    OUTCOME_UNKNOWN = "outcome_unknown"  # an earlier attempt died during the send
    NO_TENANT = "no_tenant"  # no active tenant for the business number
    NO_GROQ = "no_groq"  # the tenant has no Groq configuration
    REFUSED = "refused"  # not signed with the tenant's own Meta app secret (conversation/decide.py)
    QUIET = "quiet"  # stored, not answered on purpose (paused, opted out): its row says why
    INVALID = "invalid"  # a value Postgres cannot store: refused with the reason, the batch goes on


class FallbackKind(StrEnum):
    """Why a customer got the tenant's fallback text instead of the AI's answer."""

    GROQ_UNAVAILABLE = "groq_unavailable"  # down, rate-limited or timing out, with no retry left
    GROQ_REJECTED = "groq_rejected"  # refused the request for good (key, model, request)

    @property
    def description(self) -> str:
        """How the recorded reason starts (`wa-admin` reads it): `groq unavailable: http 503`."""
        return self.value.replace("_", " ")


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageResult:
    outcome: Outcome
    reply: str | None = None
    wa_message_ids: tuple[str, ...] = ()


@dataclass(slots=True)
class BatchSummary:
    outcomes: dict[str, int] = field(default_factory=dict)
    statuses_applied: int = 0
    statuses_stale: int = 0  # for a known reply, not moving it forward (repeated, out of order)
    statuses_unmatched: int = 0
    skipped: int = 0
    # The fields beside messages and statuses (echoes, preferences, syncs): "field: what became of it".
    events: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: Outcome) -> None:
        self.outcomes[outcome.value] = self.outcomes.get(outcome.value, 0) + 1

    def count_event(self, name: str) -> None:
        self.events[name] = self.events.get(name, 0) + 1

    @property
    def retry_later(self) -> int:
        """Messages a retry of this invocation must finish."""
        return self.outcomes.get(Outcome.RETRY_LATER.value, 0)

    def as_dict(self) -> dict[str, object]:
        return {
            "messages": dict(self.outcomes),
            "statuses_applied": self.statuses_applied,
            "statuses_stale": self.statuses_stale,
            "statuses_unmatched": self.statuses_unmatched,
            "skipped": self.skipped,
            **({"events": dict(self.events)} if self.events else {}),
        }


# --- time --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Deadline:
    """A point in monotonic time by which the work must have recorded its outcome."""

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())


@dataclass(frozen=True, slots=True, kw_only=True)
class LambdaEvent:
    """What tells one asynchronous event's attempts apart from other events' and from each other.

    Lambda tries an event 1 + N times (its MaximumRetryAttempts), waiting about 1 then 2 minutes,
    and keeps the request id across them. Two estimates of this attempt's number: the event's
    claims of a message counted by request id (blind to an attempt that failed before reaching the
    database), and the time since the forwarder first received the event against Lambda's delays
    (too high only when Lambda queued the event). The later one decides: giving up one retry early
    beats raising on the last attempt, which would send the event to the dead-letter queue."""

    request_id: str | None = None
    first_received_at: float | None = None  # the envelope's `received_at` (epoch seconds)

    def attempt_by_time(self, retry_delays: tuple[float, ...], now: float | None = None) -> int:
        """1 + how many of Lambda's cumulative retry delays have passed since the first receipt."""
        if self.first_received_at is None:
            return 1
        elapsed = (time.time() if now is None else now) - self.first_received_at
        attempt, waited = 1, 0.0
        for delay in retry_delays:
            waited += delay
            if elapsed < waited:
                break
            attempt += 1
        return attempt
