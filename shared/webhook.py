"""Meta's WhatsApp webhook payload, parsed once into frozen, typed objects.

Parsing is lenient about what Meta may add (unknown keys are ignored, unknown types map to
UNKNOWN) and strict about what we rely on: an item without its id or sender is skipped with a
reason, never guessed at. Ids must be storable as they are (short printable ASCII), or the item is
skipped with a reason: one bad item never costs the rest of the payload. Customer text is made
storable (`shared.text.storable_text`). Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
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
    # The id behind a tapped button: a template quick reply's `payload`, an interactive reply's `id`.
    reply_payload: str | None = None
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


class EchoKind(StrEnum):
    """What the business did in the WhatsApp Business app."""

    MESSAGE = "message"  # sent a message
    EDIT = "edit"  # edited one it sent (`original_id`)
    REVOKE = "revoke"  # deleted one it sent (`original_id`)


@dataclass(frozen=True, slots=True, kw_only=True)
class BusinessEcho:
    """A message the business sent to a customer by hand, from the WhatsApp Business app on the same
    number ("coexistence": field `smb_message_echoes`, items of `value.message_echoes`).

    The customer is the recipient: `to` (a phone number, digits only here; Meta's example writes
    it with a plus sign, and may omit it) and/or `to_user_id` (their BSUID). `from` is the business."""

    id: str
    phone_number_id: str
    customer_phone: str | None
    customer_user_id: str | None
    kind: EchoKind
    type: MessageType  # of what the customer sees (for an edit: of the new version)
    timestamp: datetime | None
    text: str | None  # a text's body or a media caption (for an edit: the new version's)
    original_id: str | None = None  # EDIT, REVOKE: the business message it changes
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def customer_id(self) -> str:
        return self.customer_phone or self.customer_user_id or ""


class PreferenceValue(StrEnum):
    STOP = "stop"  # the customer stopped marketing messages
    RESUME = "resume"  # … and takes them again
    SIGNUP = "signup"  # signed up through a signup link (pywa knows it; Meta's page does not show it)
    UNKNOWN = "unknown"

    @classmethod
    def _missing_(cls, value: object) -> PreferenceValue:
        return cls.UNKNOWN


@dataclass(frozen=True, slots=True, kw_only=True)
class PreferenceUpdate:
    """A customer's marketing preference changed in WhatsApp (field `user_preferences`)."""

    phone_number_id: str
    customer_phone: str | None  # `wa_id` (may be omitted since BSUIDs)
    customer_user_id: str | None  # `user_id`, the BSUID
    category: str  # "marketing_messages"
    value: PreferenceValue
    detail: str
    timestamp: datetime | None  # an integer in Meta's payload, unlike message timestamps

    @property
    def customer_id(self) -> str:
        return self.customer_phone or self.customer_user_id or ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AppSync:
    """One of coexistence's syncs from the WhatsApp Business app: past conversations (`history`,
    in chunks, up to 180 days) or the app's contacts (`smb_app_state_sync`). Acknowledged and
    counted; never answered, and not imported."""

    field: str
    phone_number_id: str
    items: int  # history: messages in this chunk; state sync: contacts added, edited or removed
    phase: int | None = None  # history: 0 (day 0-1), 1 (day 1-90), 2 (day 90-180)
    chunk_order: int | None = None
    progress: int | None = None  # history: 100 once the sync is complete
    errors: int = 0  # history: the business declined to share it


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookBatch:
    """Every message and status of every entry and change of one payload."""

    messages: tuple[InboundMessage, ...] = ()
    statuses: tuple[StatusUpdate, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    echoes: tuple[BusinessEcho, ...] = ()
    preferences: tuple[PreferenceUpdate, ...] = ()
    syncs: tuple[AppSync, ...] = ()


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
    others = _OtherFields()
    for _entry, change in iter_changes(payload):
        change_field = change.get("field")
        value = change.get("value")
        if isinstance(change_field, str) and change_field in _OTHER_FIELDS and isinstance(value, Mapping):
            others.parse(change_field, value, skipped)
            continue
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
    return WebhookBatch(
        messages=tuple(messages),
        statuses=tuple(statuses),
        skipped=tuple(skipped),
        echoes=tuple(others.echoes),
        preferences=tuple(others.preferences),
        syncs=tuple(others.syncs),
    )


def open_messages_change(change: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | Skipped:
    """A `messages` change's business number and value, or why the whole change is skipped."""
    change_field = change.get("field")
    value = change.get("value")
    if change_field != "messages" or not isinstance(value, Mapping):
        return Skipped(reason="not a messages change", field=str(change_field))
    phone_number_id = _business_number(value, "messages")
    if isinstance(phone_number_id, Skipped):
        return phone_number_id
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
        reply_payload=_reply_payload(message_type, raw),
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


def _reply_payload(message_type: MessageType, raw: Mapping[str, Any]) -> str | None:
    """The business-defined id of the button a customer tapped, when there is one."""
    if message_type is MessageType.BUTTON:
        return _nested_text(raw, "button", "payload")
    interactive = raw.get("interactive")
    if message_type is MessageType.INTERACTIVE and isinstance(interactive, Mapping):
        for reply_kind in ("button_reply", "list_reply"):
            reply_id = _nested_text(interactive, reply_kind, "id")
            if reply_id:
                return reply_id
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


# --- fields other than `messages`: coexistence and marketing preferences ------------------------
# One parser per webhook field, each given the change's value and its business number; a field
# without one here is skipped as "not a messages change".

OtherItem = BusinessEcho | PreferenceUpdate | AppSync | Skipped
ECHOES_FIELD = "smb_message_echoes"
PREFERENCES_FIELD = "user_preferences"
HISTORY_FIELD = "history"
STATE_SYNC_FIELD = "smb_app_state_sync"
_CUSTOMER_NUMBER_PUNCTUATION = str.maketrans("", "", " -().")


@dataclass(slots=True)
class _OtherFields:
    echoes: list[BusinessEcho] = field(default_factory=list)
    preferences: list[PreferenceUpdate] = field(default_factory=list)
    syncs: list[AppSync] = field(default_factory=list)

    def parse(self, change_field: str, value: Mapping[str, Any], skipped: list[Skipped]) -> None:
        phone_number_id = _business_number(value, change_field)
        if isinstance(phone_number_id, Skipped):
            skipped.append(phone_number_id)
            return
        for item in _OTHER_FIELDS[change_field](value, phone_number_id):
            match item:
                case BusinessEcho():
                    self.echoes.append(item)
                case PreferenceUpdate():
                    self.preferences.append(item)
                case AppSync():
                    self.syncs.append(item)
                case Skipped():
                    skipped.append(item)


def _business_number(value: Mapping[str, Any], change_field: str) -> str | Skipped:
    metadata = value.get("metadata")
    phone_number_id = text_field(metadata.get("phone_number_id")) if isinstance(metadata, Mapping) else ""
    if not phone_number_id:
        return Skipped(reason="change without metadata.phone_number_id", field=change_field)
    if not is_identifier(phone_number_id, MAX_PHONE_NUMBER_ID_LENGTH):
        return Skipped(reason="metadata.phone_number_id is not a storable id", field=change_field)
    return phone_number_id


def _customer_number(value: str) -> str:
    """A customer's number as the `messages` field writes it (digits, no plus sign) when it is one."""
    digits = value.translate(_CUSTOMER_NUMBER_PUNCTUATION).removeprefix("+")
    return digits if digits.isascii() and digits.isdigit() else value


def _storable_customer(*ids: str) -> bool:
    return all(not value or is_identifier(value, MAX_CUSTOMER_ID_LENGTH) for value in ids)


def _parse_echoes(value: Mapping[str, Any], phone_number_id: str) -> Iterator[OtherItem]:
    for raw in objects_in(value.get("message_echoes")):
        yield _parse_echo(raw, phone_number_id)


def _parse_echo(raw: Mapping[str, Any], phone_number_id: str) -> BusinessEcho | Skipped:
    echo_id = text_field(raw.get("id"))
    phone, user_id = _customer_number(text_field(raw.get("to"))), text_field(raw.get("to_user_id"))
    if not echo_id or not (phone or user_id):
        return Skipped(reason="message echo without id or customer", field=ECHOES_FIELD)
    if not is_identifier(echo_id, MAX_MESSAGE_ID_LENGTH):
        return Skipped(reason="message echo id is not a storable WhatsApp id", field=ECHOES_FIELD)
    if not _storable_customer(phone, user_id):
        return Skipped(reason="echo recipient is not a storable WhatsApp id", field=ECHOES_FIELD)
    raw_type = text_field(raw.get("type"))
    kind = EchoKind(raw_type) if raw_type in (EchoKind.EDIT, EchoKind.REVOKE) else EchoKind.MESSAGE
    shown: Mapping[str, Any] = raw
    original_id = None
    if kind is not EchoKind.MESSAGE:
        change = raw.get(raw_type)
        change = change if isinstance(change, Mapping) else {}
        original_id = text_field(change.get("original_message_id"))
        if not is_identifier(original_id, MAX_MESSAGE_ID_LENGTH):
            return Skipped(
                reason=f"{raw_type} echo without a storable original_message_id", field=ECHOES_FIELD
            )
        edited = change.get("message")
        shown = edited if isinstance(edited, Mapping) else {}
    message_type = MessageType(text_field(shown.get("type")) or "unknown")
    return BusinessEcho(
        id=echo_id,
        phone_number_id=phone_number_id,
        customer_phone=phone or None,
        customer_user_id=user_id or None,
        kind=kind,
        type=message_type,
        timestamp=_timestamp(raw.get("timestamp")),
        text=_echo_text(message_type, shown),
        original_id=original_id,
        raw=raw,
    )


def _echo_text(message_type: MessageType, shown: Mapping[str, Any]) -> str | None:
    if message_type is MessageType.TEXT:
        return _nested_text(shown, "text", "body")
    if message_type in (MessageType.IMAGE, MessageType.VIDEO, MessageType.DOCUMENT):
        return _nested_text(shown, message_type.value, "caption")
    return None


def _parse_preferences(value: Mapping[str, Any], phone_number_id: str) -> Iterator[OtherItem]:
    for raw in objects_in(value.get("user_preferences")):
        phone, user_id = _customer_number(text_field(raw.get("wa_id"))), text_field(raw.get("user_id"))
        if not (phone or user_id):
            yield Skipped(reason="preference without wa_id or user_id", field=PREFERENCES_FIELD)
        elif not _storable_customer(phone, user_id):
            yield Skipped(reason="preference customer is not a storable WhatsApp id", field=PREFERENCES_FIELD)
        else:
            yield PreferenceUpdate(
                phone_number_id=phone_number_id,
                customer_phone=phone or None,
                customer_user_id=user_id or None,
                category=storable_text(text_field(raw.get("category")))[:64],
                value=PreferenceValue(text_field(raw.get("value")) or "unknown"),
                detail=storable_text(text_field(raw.get("detail")))[:200],
                timestamp=_timestamp(raw.get("timestamp")),
            )


def _parse_history(value: Mapping[str, Any], phone_number_id: str) -> Iterator[OtherItem]:
    for chunk in objects_in(value.get("history")):
        metadata = chunk.get("metadata")
        metadata = metadata if isinstance(metadata, Mapping) else {}
        messages = sum(len(list(objects_in(t.get("messages")))) for t in objects_in(chunk.get("threads")))
        yield AppSync(
            field=HISTORY_FIELD,
            phone_number_id=phone_number_id,
            items=messages,
            phase=_int(metadata.get("phase")),
            chunk_order=_int(metadata.get("chunk_order")),
            progress=_int(metadata.get("progress")),
            errors=len(list(objects_in(chunk.get("errors")))),
        )


def _parse_state_sync(value: Mapping[str, Any], phone_number_id: str) -> Iterator[OtherItem]:
    contacts = len(list(objects_in(value.get("state_sync"))))
    yield AppSync(field=STATE_SYNC_FIELD, phone_number_id=phone_number_id, items=contacts)


_OTHER_FIELDS: dict[str, Callable[[Mapping[str, Any], str], Iterator[OtherItem]]] = {
    ECHOES_FIELD: _parse_echoes,
    PREFERENCES_FIELD: _parse_preferences,
    HISTORY_FIELD: _parse_history,
    STATE_SYNC_FIELD: _parse_state_sync,
}
