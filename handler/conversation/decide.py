"""What to do with one inbound message: ask the AI, send the polite notice, or nothing."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.webhook import InboundMessage, MessageType


class Action(StrEnum):
    ASK_AI = "ask_ai"
    SEND_UNREADABLE_NOTICE = "send_unreadable_notice"
    IGNORE = "ignore"


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    action: Action
    reason: str


# Meta's own notices and reactions need no answer; an unknown type is one Meta added after us.
_NOTHING_TO_ANSWER = frozenset(
    {MessageType.REACTION, MessageType.SYSTEM, MessageType.UNSUPPORTED, MessageType.UNKNOWN}
)


def decide(message: InboundMessage) -> Decision:
    """Text, and the titles of button and list replies, go to the AI; other media get the notice."""
    if message.text is not None:
        return Decision(action=Action.ASK_AI, reason=f"readable {message.type.value}")
    if message.type in _NOTHING_TO_ANSWER:
        return Decision(action=Action.IGNORE, reason=f"{message.type.value} needs no answer")
    if message.type is MessageType.TEXT:
        return Decision(action=Action.IGNORE, reason="empty text")
    if message.type is MessageType.INTERACTIVE:
        # Not a button or list choice: a call permission answer, a Flow's form, … nothing to say.
        return Decision(action=Action.IGNORE, reason="interactive reply of a kind we do not answer")
    return Decision(action=Action.SEND_UNREADABLE_NOTICE, reason=f"{message.type.value} cannot be read yet")


def stored_content(message: InboundMessage) -> str:
    """What the conversation log keeps for a message: its text, or a marker naming its type."""
    return message.text if message.text is not None else f"[{message.type.value}]"
