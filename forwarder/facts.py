"""What the forwarder's log lines say about a webhook: per message who wrote to which number and how
much (never what), and how many statuses it carries.

These are the facts `shared.webhook.parse_webhook` would give (the same items kept, the same ones
skipped: tests/forwarder/test_facts.py holds the two equal on generated payloads), read straight
from the decoded JSON: the forwarder needs five fields of each message, not the handler's typed
objects, and building those cost more than the rest of its own work on a webhook.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.logs import mask_phone
from shared.text import is_identifier, storable_text
from shared.webhook import (
    MAX_CUSTOMER_ID_LENGTH,
    MAX_MESSAGE_ID_LENGTH,
    MAX_PHONE_NUMBER_ID_LENGTH,
    MessageType,
    iter_changes,
)

# Where a message's readable text is, by type: (outer key, inner key), tried in order.
_TEXT_PLACES: Mapping[MessageType, tuple[tuple[str, ...], ...]] = {
    MessageType.TEXT: (("text", "body"),),
    MessageType.BUTTON: (("button", "text"),),
    MessageType.INTERACTIVE: (
        ("interactive", "button_reply", "title"),
        ("interactive", "list_reply", "title"),
    ),
}


@dataclass(frozen=True, slots=True)
class WebhookFacts:
    messages: tuple[dict[str, str | int], ...]  # one "Processing incoming message" line's fields each
    statuses: int


def webhook_facts(payload: Mapping[str, Any]) -> WebhookFacts:
    messages: list[dict[str, str | int]] = []
    statuses = 0
    for _entry, change in iter_changes(payload):
        value = change.get("value")
        if change.get("field") != "messages" or not isinstance(value, Mapping):
            continue
        metadata = value.get("metadata")
        phone_number_id = _text(metadata.get("phone_number_id")) if isinstance(metadata, Mapping) else ""
        if not is_identifier(phone_number_id, MAX_PHONE_NUMBER_ID_LENGTH):
            continue
        for raw in _objects(value.get("messages")):
            fields = _message_facts(raw, phone_number_id)
            if fields is not None:
                messages.append(fields)
        for raw in _objects(value.get("statuses")):
            if is_identifier(_text(raw.get("id")), MAX_MESSAGE_ID_LENGTH):
                statuses += 1
    return WebhookFacts(messages=tuple(messages), statuses=statuses)


def _message_facts(raw: Mapping[str, Any], phone_number_id: str) -> dict[str, str | int] | None:
    """The line's fields; None for a message the handler would skip (no usable id or sender)."""
    message_id = _text(raw.get("id"))
    phone, user_id = _text(raw.get("from")), _text(raw.get("from_user_id"))
    if not is_identifier(message_id, MAX_MESSAGE_ID_LENGTH) or not (phone or user_id):
        return None
    if (phone and not is_identifier(phone, MAX_CUSTOMER_ID_LENGTH)) or (
        user_id and not is_identifier(user_id, MAX_CUSTOMER_ID_LENGTH)
    ):
        return None
    message_type = MessageType(_text(raw.get("type")) or "unknown")
    return {
        "phone_number_id": phone_number_id,
        "message_id": message_id,
        "sender": mask_phone(phone or user_id),
        "message_type": message_type.value,
        "text_length": len(_readable_text(message_type, raw)),
    }


def _readable_text(message_type: MessageType, raw: Mapping[str, Any]) -> str:
    for place in _TEXT_PLACES.get(message_type, ()):
        container: object = raw
        for key in place[:-1]:
            container = container.get(key) if isinstance(container, Mapping) else None
        value = container.get(place[-1]) if isinstance(container, Mapping) else None
        if isinstance(value, str) and value.strip():
            cleaned = storable_text(value)
            if cleaned.strip():
                return cleaned
    return ""


def _objects(value: object) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""
