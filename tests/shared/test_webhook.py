"""Parsing Meta's webhook payload: every item of every entry and change, and nothing that raises."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.webhook import (
    DeliveryStatus,
    MalformedWebhook,
    MessageType,
    WebhookBatch,
    is_whatsapp_payload,
    parse_webhook,
)

JSON = dict[str, Any]


def payload_with(*values: JSON, field: str = "messages") -> JSON:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "waba", "changes": [{"field": field, "value": value} for value in values]}],
    }


def value(phone_number_id: object = "106540352242922", **lists: Any) -> JSON:
    return {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
        **lists,
    }


def text(wamid: str = "wamid.1", sender: str = "33612345678", body: str = "Bonjour", **extra: Any) -> JSON:
    return {
        "from": sender,
        "id": wamid,
        "timestamp": "1700000000",
        "type": "text",
        "text": {"body": body},
    } | extra


def test_a_text_message() -> None:
    raw = text()
    batch = parse_webhook(payload_with(value(messages=[raw])))
    (message,) = batch.messages
    assert message.id == "wamid.1"
    assert message.phone_number_id == "106540352242922"
    assert message.customer_phone == "33612345678"
    assert message.type is MessageType.TEXT
    assert message.text == "Bonjour"
    assert message.timestamp == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert message.raw == raw
    assert batch.statuses == () and batch.skipped == ()


@pytest.mark.parametrize(
    "payload", [None, [], "text", 3, {"object": "whatsapp_business_account"}, {"entry": {}}]
)
def test_not_a_payload_is_malformed(payload: object) -> None:
    with pytest.raises(MalformedWebhook):
        parse_webhook(payload)


def test_is_whatsapp_payload() -> None:
    assert is_whatsapp_payload({"object": "whatsapp_business_account", "entry": []})
    assert not is_whatsapp_payload({"object": "page", "entry": []})
    assert not is_whatsapp_payload([])


def test_every_entry_and_change_is_read_in_order() -> None:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "w1",
                "changes": [
                    {"field": "messages", "value": value("A", messages=[text("m1"), text("m2")])},
                    {"field": "messages", "value": value("A", statuses=[{"id": "s1", "status": "read"}])},
                ],
            },
            {"id": "w2", "changes": [{"field": "messages", "value": value("B", messages=[text("m3")])}]},
        ],
    }
    batch = parse_webhook(payload)
    assert [(m.phone_number_id, m.id) for m in batch.messages] == [("A", "m1"), ("A", "m2"), ("B", "m3")]
    assert [(s.phone_number_id, s.message_id) for s in batch.statuses] == [("A", "s1")]


def test_other_fields_and_changes_without_a_number_are_skipped_with_a_reason() -> None:
    batch = parse_webhook(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "w",
                    "changes": [
                        {"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}},
                        {"field": "messages", "value": value("", messages=[text()])},
                        {"field": "messages", "value": value(12345, messages=[text()])},
                        {"field": "messages", "value": "not an object"},
                    ],
                },
                "not an entry",
                {"id": "no changes list", "changes": {}},
            ],
        }
    )
    assert batch.messages == ()
    assert [(s.field, s.reason) for s in batch.skipped] == [
        ("account_update", "not a messages change"),
        ("messages", "change without metadata.phone_number_id"),
        ("messages", "change without metadata.phone_number_id"),
        ("messages", "not a messages change"),
    ]


def test_items_without_id_or_sender_are_skipped_and_the_rest_kept() -> None:
    messages = [text("ok"), text(""), {"id": "no-sender", "type": "text"}, "junk", text("ok2", sender=" ")]
    statuses = [{"status": "sent"}, {"id": "s", "status": "sent"}]
    batch = parse_webhook(payload_with(value(messages=messages, statuses=statuses)))
    assert [m.id for m in batch.messages] == ["ok"]
    assert [s.message_id for s in batch.statuses] == ["s"]
    assert sorted(s.reason for s in batch.skipped) == [
        "message without id or sender",
        "message without id or sender",
        "message without id or sender",
        "status without message id",
    ]


@pytest.mark.parametrize(
    ("raw", "expected_type", "expected_text"),
    [
        ({"type": "button", "button": {"payload": "P", "text": "Stop"}}, MessageType.BUTTON, "Stop"),
        (
            {
                "type": "interactive",
                "interactive": {"type": "button_reply", "button_reply": {"id": "b", "title": "Oui"}},
            },
            MessageType.INTERACTIVE,
            "Oui",
        ),
        (
            {
                "type": "interactive",
                "interactive": {"type": "list_reply", "list_reply": {"id": "r", "title": "Lundi"}},
            },
            MessageType.INTERACTIVE,
            "Lundi",
        ),
        (
            {"type": "interactive", "interactive": {"type": "nfm_reply", "nfm_reply": {}}},
            MessageType.INTERACTIVE,
            None,
        ),
        ({"type": "text", "text": {"body": "   "}}, MessageType.TEXT, None),
        ({"type": "text", "text": "not an object"}, MessageType.TEXT, None),
        ({"type": "image", "image": {"id": "1", "caption": "légende"}}, MessageType.IMAGE, None),
        ({"type": "poll_v2"}, MessageType.UNKNOWN, None),
        ({"type": 7}, MessageType.UNKNOWN, None),
        ({}, MessageType.UNKNOWN, None),
    ],
)
def test_type_and_readable_text(raw: JSON, expected_type: MessageType, expected_text: str | None) -> None:
    (message,) = parse_webhook(payload_with(value(messages=[{"id": "w", "from": "1"} | raw]))).messages
    assert (message.type, message.text) == (expected_type, expected_text)


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("1700000000", 1_700_000_000),
        (1_700_000_000, 1_700_000_000),
        (" 0 ", 0),
        ("-5", None),
        ("--5", None),
        ("²", None),
        ("9" * 5000, None),
        ("1.5", None),
        (1.5, None),
        (True, None),
        (None, None),
        (10**11, None),
    ],
)
def test_timestamps(timestamp: object, expected: int | None) -> None:
    (message,) = parse_webhook(payload_with(value(messages=[text(timestamp=timestamp)]))).messages
    got = message.timestamp
    assert (int(got.timestamp()) if got is not None else None) == expected


def test_statuses_with_errors_and_unknown_states() -> None:
    statuses = [
        {
            "id": "wamid.F",
            "status": "failed",
            "timestamp": "1700000000",
            "recipient_id": "33612345678",
            "errors": [
                {"code": 131047, "title": "Re-engagement message"},
                {"code": "131026", "title": " Message undeliverable "},
                {"title": "no code"},
                "junk",
            ],
        },
        {"id": "wamid.D", "status": "delivered", "recipient_id": "1"},
        {"id": "wamid.X", "status": "played"},
    ]
    failed, delivered, unknown = parse_webhook(payload_with(value(statuses=statuses))).statuses
    assert failed.status is DeliveryStatus.FAILED
    assert [(e.code, e.title) for e in failed.errors] == [
        (131047, "Re-engagement message"),
        (131026, "Message undeliverable"),
        (None, "no code"),
    ]
    assert (delivered.status, delivered.recipient, delivered.errors) == (DeliveryStatus.DELIVERED, "1", ())
    assert unknown.status is DeliveryStatus.UNKNOWN and unknown.recipient == ""


# --- property: any JSON-like input is a batch or MalformedWebhook, never another exception -----------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
texts = st.text(max_size=12) | st.sampled_from(["", " ", "--5", "²", "9" * 30, "1700000000", "wamid.1"])
ids = st.sampled_from(["wamid.1", "33612345678", "106540352242922"]) | texts | json_values
# Near-valid shapes (the keys we read are usually there) reach the deep code paths that random
# JSON almost never does; each level may still be replaced by any JSON value.
titled = st.fixed_dictionaries({"title": texts | json_values}) | json_values
messages = st.fixed_dictionaries(
    {"id": ids, "from": ids, "timestamp": texts | st.integers() | json_values},
    optional={
        "type": st.sampled_from([t.value for t in MessageType]) | json_values,
        "text": st.fixed_dictionaries({"body": texts | json_values}) | json_values,
        "button": st.fixed_dictionaries({"text": texts | json_values}) | json_values,
        "interactive": st.fixed_dictionaries({}, optional={"button_reply": titled, "list_reply": titled})
        | json_values,
    },
)
errors = st.fixed_dictionaries(
    {"code": st.integers() | texts | json_values}, optional={"title": texts | json_values}
)
statuses = st.fixed_dictionaries(
    {"id": ids, "timestamp": texts | st.integers() | json_values},
    optional={
        "status": st.sampled_from([s.value for s in DeliveryStatus]) | json_values,
        "recipient_id": ids,
        "errors": st.lists(errors | json_values, max_size=3) | json_values,
    },
)
values = st.fixed_dictionaries(
    {"metadata": st.fixed_dictionaries({"phone_number_id": ids}) | json_values},
    optional={
        "messages": st.lists(messages | json_values, max_size=3) | json_values,
        "statuses": st.lists(statuses | json_values, max_size=3) | json_values,
    },
)
changes = st.fixed_dictionaries({"field": st.just("messages") | json_values, "value": values | json_values})
entries = st.fixed_dictionaries(
    {"changes": st.lists(changes | json_values, max_size=3)}, optional={"id": texts}
)
payloads = (
    st.fixed_dictionaries(
        {"entry": st.lists(entries | json_values, max_size=3) | json_values},
        optional={"object": st.just("whatsapp_business_account") | json_values},
    )
    | json_values
)


@settings(max_examples=300, deadline=None)
@given(payload=payloads)
def test_any_input_is_a_batch_or_malformed(payload: object) -> None:
    try:
        batch = parse_webhook(payload)
    except MalformedWebhook:
        return
    assert isinstance(batch, WebhookBatch)
    for message in batch.messages:
        assert message.id and message.customer_phone and message.phone_number_id
        assert isinstance(message.type, MessageType)
        assert message.text is None or message.text.strip()
    for update in batch.statuses:
        assert update.message_id and isinstance(update.status, DeliveryStatus)
