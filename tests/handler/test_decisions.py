"""Which inbound messages go to the AI, which get the polite notice, which get nothing."""

from __future__ import annotations

import pytest

from handler.conversation.decide import Action, decide, stored_content
from shared.webhook import InboundMessage, MessageType


def message(message_type: MessageType, text: str | None = None) -> InboundMessage:
    return InboundMessage(
        id="wamid.1",
        phone_number_id="1",
        customer_phone="2",
        type=message_type,
        timestamp=None,
        text=text,
        raw={},
    )


def test_text_goes_to_the_ai() -> None:
    assert decide(message(MessageType.TEXT, "Hello")).action is Action.ASK_AI


def test_button_and_list_titles_go_to_the_ai() -> None:
    assert decide(message(MessageType.INTERACTIVE, "Oui")).action is Action.ASK_AI
    assert decide(message(MessageType.BUTTON, "Stop")).action is Action.ASK_AI


@pytest.mark.parametrize(
    "message_type",
    [
        MessageType.IMAGE,
        MessageType.AUDIO,
        MessageType.VIDEO,
        MessageType.DOCUMENT,
        MessageType.STICKER,
        MessageType.LOCATION,
        MessageType.CONTACTS,
        MessageType.ORDER,
    ],
)
def test_media_get_the_notice(message_type: MessageType) -> None:
    assert decide(message(message_type)).action is Action.SEND_UNREADABLE_NOTICE


@pytest.mark.parametrize(
    "message_type", [MessageType.REACTION, MessageType.SYSTEM, MessageType.UNSUPPORTED, MessageType.UNKNOWN]
)
def test_reactions_and_notices_get_nothing(message_type: MessageType) -> None:
    assert decide(message(message_type)).action is Action.IGNORE


def test_stored_content_names_what_could_not_be_read() -> None:
    assert stored_content(message(MessageType.IMAGE)) == "[image]"
    assert stored_content(message(MessageType.TEXT, "Hi")) == "Hi"
