"""Meta's WhatsApp webhook payload, parsed once into frozen, typed objects.

Parsing is lenient about what Meta may add (unknown keys are ignored, unknown types map to
UNKNOWN) and strict about what we rely on: an item without its id or sender is skipped with a
reason, never guessed at. Ids must be storable as they are (short printable ASCII), or the item is
skipped with a reason: one bad item never costs the rest of the payload. Customer text is made
storable (`shared.text.storable_text`). Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared.errors import InvalidInput
from shared.media import Location, Media, parse_location, parse_media
from shared.text import is_identifier, storable_text

WHATSAPP_OBJECT = "whatsapp_business_account"
# Longest ids we store (Meta's are far shorter: wamid.… ~60, phone numbers ≤ 15 digits, BSUIDs ≤ 131).
MAX_MESSAGE_ID_LENGTH = 256
MAX_CUSTOMER_ID_LENGTH = 160
MAX_PHONE_NUMBER_ID_LENGTH = 32
_INT32 = 2**31


class MalformedWebhook(InvalidInput):
    """The payload is not a JSON object with Meta's `object`/`entry` structure."""


class MessageType(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"
    CONTACTS = "contacts"
    INTERACTIVE = "interactive"
    BUTTON = "button"
    REACTION = "reaction"
    ORDER = "order"
    SYSTEM = "system"
    UNSUPPORTED = "unsupported"
    UNKNOWN = "unknown"

    @classmethod
    def _missing_(cls, value: object) -> MessageType:
        return cls.UNKNOWN


class DeliveryStatus(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    DELETED = "deleted"
    UNKNOWN = "unknown"

    @classmethod
    def _missing_(cls, value: object) -> DeliveryStatus:
        return cls.UNKNOWN


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphErrorDetail:
    code: int | None
    title: str


class MessageOrigin(StrEnum):
    """How a message reached us: a Meta webhook, or the old system's relay (no Meta id of its own:
    nothing can be marked read on WhatsApp for it)."""

    WEBHOOK = "webhook"
    SEED_RELAY = "seed_relay"


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundMessage:
    """A customer's message to a business number.

    The customer is known by phone number (`from`) when Meta shares it and by business-scoped user
    id (`from_user_id`, a BSUID such as `US.13491208655302741918`, sent since April 2026): at least
    one of the two is set. A customer who adopted a WhatsApp username may come with the BSUID only.
    """

    id: str
    phone_number_id: str  # the business number that received it
    customer_phone: str | None  # `from`, as Meta sends it (digits, no plus sign)
    customer_user_id: str | None = None  # `from_user_id`, the BSUID
    type: MessageType
    timestamp: datetime | None
    text: str | None  # what we answer: the text body, or the title of a button or list reply
    raw: Mapping[str, Any] = field(repr=False, compare=False)
    origin: MessageOrigin = MessageOrigin.WEBHOOK
    media: Media | None = None  # audio, image, sticker, document, video: what Graph can give us
    location: Location | None = None  # a shared place

    @property
    def customer_id(self) -> str:
        """The phone number when Meta gave one, else the BSUID (for logs and first contact)."""
        return self.customer_phone or self.customer_user_id or ""


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusUpdate:
    """Meta's report on a message the business sent."""

    message_id: str
    phone_number_id: str
    recipient: str  # `recipient_id`: the phone number ("" when the reply went to a BSUID only)
    recipient_user_id: str = ""  # `recipient_user_id`: the BSUID (set on most statuses since 2026)
    status: DeliveryStatus
    timestamp: datetime | None
    errors: tuple[GraphErrorDetail, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Skipped:
    """Something in the payload we do not act on, and why (for one log line)."""

    reason: str
    field: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookBatch:
    """Every message and status of every entry and change of one payload."""

    messages: tuple[InboundMessage, ...] = ()
    statuses: tuple[StatusUpdate, ...] = ()
    skipped: tuple[Skipped, ...] = ()


def is_whatsapp_payload(payload: object) -> bool:
    return isinstance(payload, Mapping) and payload.get("object") == WHATSAPP_OBJECT


def iter_changes(payload: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(entry, change) pairs of a payload, skipping anything that is not a JSON object."""
    entries = payload.get("entry")
    if not isinstance(entries, list):
        return
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        changes = entry.get("changes")
        if not isinstance(changes, list):
            continue
        for change in changes:
            if isinstance(change, Mapping):
                yield entry, change


def parse_webhook(payload: object) -> WebhookBatch:
    """Every message and status in the payload, in payload order."""
    if not isinstance(payload, Mapping):
        raise MalformedWebhook("the payload must be a JSON object")
    if not isinstance(payload.get("entry"), list):
        raise MalformedWebhook("the payload has no `entry` list")
    messages: list[InboundMessage] = []
    statuses: list[StatusUpdate] = []
    skipped: list[Skipped] = []
    for _entry, change in iter_changes(payload):
        opened = open_messages_change(change)
        if isinstance(opened, Skipped):
            skipped.append(opened)
            continue
        phone_number_id, value = opened
        for raw in objects_in(value.get("messages")):
            parsed = _parse_message(raw, phone_number_id)
            if isinstance(parsed, Skipped):
                skipped.append(parsed)
            else:
                messages.append(parsed)
        for raw in objects_in(value.get("statuses")):
            status = _parse_status(raw, phone_number_id)
            if isinstance(status, Skipped):
                skipped.append(status)
            else:
                statuses.append(status)
    return WebhookBatch(messages=tuple(messages), statuses=tuple(statuses), skipped=tuple(skipped))


def open_messages_change(change: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | Skipped:
    """A `messages` change's business number and value, or why the whole change is skipped."""
    change_field = change.get("field")
    value = change.get("value")
    if change_field != "messages" or not isinstance(value, Mapping):
        return Skipped(reason="not a messages change", field=str(change_field))
    metadata = value.get("metadata")
    phone_number_id = text_field(metadata.get("phone_number_id")) if isinstance(metadata, Mapping) else ""
    if not phone_number_id:
        return Skipped(reason="change without metadata.phone_number_id", field="messages")
    if not is_identifier(phone_number_id, MAX_PHONE_NUMBER_ID_LENGTH):
        return Skipped(reason="metadata.phone_number_id is not a storable id", field="messages")
    return phone_number_id, value


def message_refusal(message_id: str, phone: str, user_id: str) -> str | None:
    """Why a message with these (trimmed) ids is skipped, or None when it is kept."""
    if not message_id or not (phone or user_id):
        return "message without id or sender"
    if not is_identifier(message_id, MAX_MESSAGE_ID_LENGTH):
        return "message id is not a storable WhatsApp id"
    if any(sender and not is_identifier(sender, MAX_CUSTOMER_ID_LENGTH) for sender in (phone, user_id)):
        return "sender is not a storable WhatsApp id"
    return None


def status_refusal(message_id: str) -> str | None:
    """Why a status about the (trimmed) message id is skipped, or None when it is kept."""
    if not message_id:
        return "status without message id"
    if not is_identifier(message_id, MAX_MESSAGE_ID_LENGTH):
        return "status message id is not a storable WhatsApp id"
    return None


def _parse_message(raw: Mapping[str, Any], phone_number_id: str) -> InboundMessage | Skipped:
    message_id = text_field(raw.get("id"))
    phone, user_id = text_field(raw.get("from")), text_field(raw.get("from_user_id"))
    refusal = message_refusal(message_id, phone, user_id)
    if refusal is not None:
        return Skipped(reason=refusal, field="messages")
    message_type = MessageType(text_field(raw.get("type")) or "unknown")
    return InboundMessage(
        id=message_id,
        phone_number_id=phone_number_id,
        customer_phone=phone or None,
        customer_user_id=user_id or None,
        type=message_type,
        timestamp=_timestamp(raw.get("timestamp")),
        text=readable_text(message_type, raw),
        raw=raw,
        media=parse_media(message_type.value, raw),
        location=parse_location(raw) if message_type is MessageType.LOCATION else None,
    )


def readable_text(message_type: MessageType, raw: Mapping[str, Any]) -> str | None:
    """The words a customer sent: a text body, or the title of the button or list row they chose."""
    if message_type is MessageType.TEXT:
        return _nested_text(raw, "text", "body")
    if message_type is MessageType.BUTTON:
        return _nested_text(raw, "button", "text")
    if message_type is MessageType.INTERACTIVE:
        interactive = raw.get("interactive")
        if isinstance(interactive, Mapping):
            for reply_kind in ("button_reply", "list_reply"):
                title = _nested_text(interactive, reply_kind, "title")
                if title:
                    return title
    return None


def _parse_status(raw: Mapping[str, Any], phone_number_id: str) -> StatusUpdate | Skipped:
    message_id = text_field(raw.get("id"))
    refusal = status_refusal(message_id)
    if refusal is not None:
        return Skipped(reason=refusal, field="statuses")
    errors = tuple(
        GraphErrorDetail(
            code=_error_code(error.get("code")), title=storable_text(text_field(error.get("title")))
        )
        for error in objects_in(raw.get("errors"))
    )
    return StatusUpdate(
        message_id=message_id,
        phone_number_id=phone_number_id,
        recipient=text_field(raw.get("recipient_id")),
        recipient_user_id=text_field(raw.get("recipient_user_id")),
        status=DeliveryStatus(text_field(raw.get("status")) or "unknown"),
        timestamp=_timestamp(raw.get("timestamp")),
        errors=errors,
    )


def objects_in(value: object) -> Iterator[Mapping[str, Any]]:
    """The objects of a JSON list (anything else in it, or a non-list, gives none)."""
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, Mapping))


def text_field(value: object) -> str:
    """A JSON string field, trimmed; anything else is empty."""
    return value.strip() if isinstance(value, str) else ""


def _nested_text(raw: Mapping[str, Any], outer: str, inner: str) -> str | None:
    container = raw.get(outer)
    if isinstance(container, Mapping):
        value = container.get(inner)
        if isinstance(value, str) and value.strip():
            cleaned = storable_text(value)
            return cleaned if cleaned.strip() else None
    return None


def _error_code(value: object) -> int | None:
    """Meta's error code, when it fits the column that stores it (Meta's have at most 6 digits)."""
    code = _int(value)
    return code if code is not None and -_INT32 <= code < _INT32 else None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    # ASCII digits only, and few of them: "²".isdigit() is true, int() of 5,000 digits raises.
    text = value.strip() if isinstance(value, str) else ""
    digits = text.removeprefix("-")
    if digits.isascii() and digits.isdigit() and len(digits) <= 18:
        return int(text)
    return None


def _timestamp(value: object) -> datetime | None:
    seconds = _int(value)
    if seconds is None or not 0 <= seconds < 10**11:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)
