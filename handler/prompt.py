"""The chat-completion messages for one reply: system prompt, recent history, the new text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True, kw_only=True)
class Turn:
    """One earlier message of the conversation, oldest first when in a list."""

    sender: Literal["user", "bot"]
    content: str


def build_messages(system_prompt: str, history: list[Turn], text: str) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system_prompt}] if system_prompt.strip() else []
    for turn in history:
        role = "user" if turn.sender == "user" else "assistant"
        messages.append({"role": role, "content": turn.content})
    messages.append({"role": "user", "content": text})
    return messages
