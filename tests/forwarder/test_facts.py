"""The forwarder's log facts are the ones the handler's parser gives: the same messages kept, in order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from forwarder.facts import WebhookFacts, webhook_facts
from shared.logs import mask_phone
from shared.webhook import parse_webhook
from standins.meta import (
    BusinessNumber,
    messages_change,
    status,
    statuses_change,
    text_message,
    webhook_payload,
)
from tests.meta_samples import meta_sample


def parsed_facts(payload: dict[str, Any]) -> WebhookFacts:
    """The facts as the forwarder logged them from `parse_webhook`'s batch."""
    batch = parse_webhook(payload)
    messages = tuple(
        {
            "phone_number_id": message.phone_number_id,
            "message_id": message.id,
            "sender": mask_phone(message.customer_id),
            "message_type": message.type.value,
            "text_length": len(message.text or ""),
        }
        for message in batch.messages
    )
    return WebhookFacts(messages=messages, statuses=len(batch.statuses))


def test_a_text_message_and_a_status_give_one_line_each_and_a_count() -> None:
    shop = BusinessNumber(phone_number_id="123456789")
    message = text_message("Bonjour à vous", sender="242066582610")
    payload = webhook_payload(
        messages_change(message, business=shop), statuses_change(status("wamid.x", "read"), business=shop)
    )

    facts = webhook_facts(payload)

    assert facts.messages == (
        {
            "phone_number_id": "123456789",
            "message_id": message["id"],
            "sender": mask_phone("242066582610"),
            "message_type": "text",
            "text_length": len("Bonjour à vous"),
        },
    )
    assert facts.statuses == 1
    assert facts == parsed_facts(payload)


def test_meta_samples_with_a_business_scoped_user_id_give_the_parsers_facts() -> None:
    for name in ("bsuid_only_text", "phone_and_bsuid_text", "bsuid_status_delivered"):
        payload = meta_sample(name, phone_number_id="123456789")
        assert webhook_facts(payload) == parsed_facts(payload), name


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)
# Values around every rule: blank, padded, too long, not ASCII, a NUL, a lone surrogate, not a string.
tricky = (
    st.sampled_from(
        ["", " ", " wamid.2 ", "a b", "x" * 300, "9" * 161, "é", "\x00", "\ud83d", " \x00 ", "TEXT"]
    )
    | st.text(max_size=6)
    | json_values
)
ids = st.sampled_from(["wamid.1", "33612345678", " 2420665826 ", "US.1349120865530274191"])
words = st.sampled_from(["Bonjour", " hé ", "ok\x00", "\ud83d!", "\x00", "  ", " \x00 "])


@st.composite
def message(draw: st.DrawFn) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": draw(ids),
        "type": draw(st.sampled_from(["text", "button", "interactive", "image"])),
    }
    for sender in draw(st.sampled_from([("from",), ("from_user_id",), ("from", "from_user_id")])):
        raw[sender] = draw(ids)
    raw["text"] = {"body": draw(words)}
    raw["button"] = {"text": draw(words)}
    replies = draw(st.sampled_from([("button_reply",), ("list_reply",), ("button_reply", "list_reply")]))
    raw["interactive"] = {reply: {"title": draw(words)} for reply in replies}
    return raw


@st.composite
def payloads(draw: st.DrawFn) -> dict[str, Any]:
    """A valid payload of a few changes, then up to four of its values replaced by tricky ones."""
    changes = [
        {
            "field": "messages",
            "value": {
                "metadata": {"phone_number_id": draw(st.sampled_from(["123456789", " 987 "]))},
                "messages": draw(st.lists(message(), max_size=3)),
                "statuses": [{"id": draw(ids), "status": "read"} for _ in range(draw(st.integers(0, 2)))],
            },
        }
        for _ in range(draw(st.integers(1, 3)))
    ]
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "waba", "changes": changes}]}
    for _ in range(draw(st.integers(0, 4))):
        places = list(_places(payload))
        container, key = places[draw(st.integers(0, len(places) - 1))]
        container[key] = draw(tricky)
    return payload


def _places(value: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key) in `value` below the top level's `object` and `entry`."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        if key not in ("object", "entry"):
            yield value, key
        yield from _places(child)


@settings(max_examples=500, deadline=None)
@given(payload=payloads())
def test_any_payload_gives_the_facts_the_parser_gives(payload: dict[str, Any]) -> None:
    assert webhook_facts(payload) == parsed_facts(payload)
