"""The handler's JSON log lines, read back by message id: the stage times and outcome the chat shows.

The handler logs one line per stage of a message (`stage` identify, groq or send, with `ms`);
`parse_line` turns such a line into a `HandlerEvent` and `HandlerEvents` keeps them by wamid.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class HandlerEvent:
    wamid: str
    level: str
    message: str
    stage: str | None = None
    ms: float | None = None
    claim: str | None = None  # identify: claimed, already_handled, in_progress, no_tenant, …
    reason: str | None = None  # groq: why Groq could not answer; quiet: why the bot kept out
    error_code: int | None = None  # send: Meta's error code
    error_title: str | None = None


def parse_line(line: str) -> HandlerEvent | None:
    """The event in one line of the handler's output; None for anything not about a message."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        entry = json.loads(text)
    except ValueError:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("message_id"), str):
        return None
    ms = entry.get("ms")
    code = entry.get("error_code")
    return HandlerEvent(
        wamid=entry["message_id"],
        level=str(entry.get("level", "")),
        message=str(entry.get("message", "")),
        stage=_text(entry.get("stage")),
        ms=float(ms) if isinstance(ms, int | float) else None,
        claim=_text(entry.get("claim")),
        reason=_text(entry.get("reason")),
        error_code=code if isinstance(code, int) else None,
        error_title=_text(entry.get("error_title")),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def is_finished(events: Sequence[HandlerEvent]) -> bool:
    """Has the handler logged the last line it will log for this message?"""
    for event in events:
        if event.stage in ("send", "quiet", "echo"):
            return True  # sent; stored and not answered on purpose; the business's message recorded
        if event.stage == "identify" and event.claim not in (None, "claimed"):
            return True
        if event.stage is None and event.level in ("ERROR", "WARNING"):
            return True  # no Groq config, no WhatsApp credentials, no tenant: nothing follows
    return False


def stage_times(events: Sequence[HandlerEvent]) -> dict[str, float]:
    """The latest time of each stage (a redelivered message logs its stages again)."""
    return {event.stage: event.ms for event in events if event.stage and event.ms is not None}


class HandlerEvents:
    """Events by wamid, filled by the thread reading the handler's output, read by the chat."""

    def __init__(self) -> None:
        self._by_wamid: dict[str, list[HandlerEvent]] = {}
        self._lock = threading.Lock()

    def feed(self, line: str) -> None:
        event = parse_line(line)
        if event is None:
            return
        with self._lock:
            self._by_wamid.setdefault(event.wamid, []).append(event)

    def for_wamid(self, wamid: str) -> tuple[HandlerEvent, ...]:
        with self._lock:
            return tuple(self._by_wamid.get(wamid, ()))
