"""What the forwarder's log lines say about a webhook: per message who wrote to which number and how
much (never what), and how many statuses it carries.

These are the facts `shared.webhook.parse_webhook` would give, by its own rules (the same changes,
messages and statuses kept or skipped, the same readable text: tests/forwarder/test_facts.py holds
the two equal on generated payloads), without building the handler's typed messages and statuses,
which cost more than the rest of the forwarder's own work on a webhook.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.logs import mask_phone
from shared.webhook import (
    MessageType,
    Skipped,
    iter_changes,
    message_refusal,
    objects_in,
    open_messages_change,
    readable_text,
    status_refusal,
    text_field,
)


@dataclass(frozen=True, slots=True)
class WebhookFacts:
    messages: tuple[dict[str, str | int], ...]  # one "Processing incoming message" line's fields each
    statuses: int


def webhook_facts(payload: Mapping[str, Any]) -> WebhookFacts:
    messages: list[dict[str, str | int]] = []
    statuses = 0
    for _entry, change in iter_changes(payload):
        opened = open_messages_change(change)
        if isinstance(opened, Skipped):
            continue
        phone_number_id, value = opened
        for raw in objects_in(value.get("messages")):
            fields = _message_facts(raw, phone_number_id)
            if fields is not None:
                messages.append(fields)
        for raw in objects_in(value.get("statuses")):
            if status_refusal(text_field(raw.get("id"))) is None:
                statuses += 1
    return WebhookFacts(messages=tuple(messages), statuses=statuses)


def _message_facts(raw: Mapping[str, Any], phone_number_id: str) -> dict[str, str | int] | None:
    """The line's fields; None for a message the handler skips."""
    message_id = text_field(raw.get("id"))
    phone, user_id = text_field(raw.get("from")), text_field(raw.get("from_user_id"))
    if message_refusal(message_id, phone, user_id) is not None:
        return None
    message_type = MessageType(text_field(raw.get("type")) or "unknown")
    return {
        "phone_number_id": phone_number_id,
        "message_id": message_id,
        "sender": mask_phone(phone or user_id),
        "message_type": message_type.value,
        "text_length": len(readable_text(message_type, raw) or ""),
    }
