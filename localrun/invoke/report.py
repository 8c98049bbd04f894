"""How `make invoke` tells what it prepared, what the function returned and what became of it
(pure formatting, no I/O). Tokens and keys appear only as whose they were, never as values."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infra.sample_events import FORWARDER, SampleEvent
from localrun.invoke.functions import FunctionResult, Invocation
from localrun.invoke.preconditions import Prepared
from shared.text import loggable
from standins.graph import SentMessage
from standins.groq import GroqRequest

INDENT = "  "
_EXCERPT = 72
_DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationRow:
    """A `customer_conversations` row the invocation created or changed."""

    created: bool
    sender: str | None
    status: str | None
    customer: str | None
    content: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Aftermath:
    """What the invocation left behind: rows, messages sent, Groq calls."""

    rows: tuple[ConversationRow, ...]
    sends: tuple[SentMessage, ...]
    groq_calls: tuple[GroqRequest, ...]


def excerpt(text: str | None) -> str:
    return "-" if text is None else json.dumps(loggable(" ".join(text.split()), _EXCERPT), ensure_ascii=False)


def preparation(prepared: Sequence[Prepared], migrations: Sequence[str]) -> list[str]:
    lines = [f"{INDENT}migrations  " + (f"applied {', '.join(migrations)}" if migrations else "up to date")]
    for index, item in enumerate(prepared):
        label = "prepared    " if index == 0 else " " * 12
        lines.append(f"{INDENT}{label}{item.what}: {item.readiness.value}")
    return lines


def function_result(result: FunctionResult) -> list[str]:
    heading = f"{result.function} {'raised' if result.failed else 'returned'}"
    if result.attempts > 1:
        heading += f" (after {result.attempts} attempts)"
    lines = [heading + ":", *_json_lines(result.result)]
    body = json_body(result.result)
    if body is not None:
        lines += ["its body, decoded:", *_json_lines(body)]
    return lines


def json_body(result: Any) -> Any:
    """An HTTP response's JSON body, decoded for reading (None for other results and plain text)."""
    if (
        not isinstance(result, Mapping)
        or "statusCode" not in result
        or not isinstance(result.get("body"), str)
    ):
        return None
    body = str(result["body"])
    if result.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", errors="replace")
    try:
        decoded = json.loads(body)
    except ValueError:
        return None
    return decoded if isinstance(decoded, dict | list) else None


def invocation(outcome: Invocation) -> list[str]:
    lines = function_result(outcome.main)
    if outcome.main.function == FORWARDER:
        lines += [
            "",
            f"Its hand-off (asynchronous boto3 invoke) led to {len(outcome.handed_off)} handler invocation(s).",
        ]
        for handed in outcome.handed_off:
            lines += function_result(handed)
    return lines


def aftermath(found: Aftermath, owners: Mapping[str, str]) -> list[str]:
    created = sum(row.created for row in found.rows)
    lines = [
        "What became of it:",
        f"{INDENT}customer_conversations: {created} row(s) created, {len(found.rows) - created} changed",
    ]
    for row in found.rows:
        mark = "+" if row.created else "~"
        lines.append(
            f"{INDENT * 2}{mark} {row.sender or '-':<4} {row.status or '-':<16} {row.customer or '-':<20}"
            f" {excerpt(row.content)}"
        )
    accepted = [sent for sent in found.sends if sent.accepted]
    refused = len(found.sends) - len(accepted)
    lines.append(
        f"{INDENT}WhatsApp (Graph stand-in): {len(accepted)} message(s) accepted"
        + (f", {refused} refused" if refused else "")
    )
    for sent in found.sends:
        verdict = "" if sent.accepted else f" REFUSED (HTTP {sent.status}, code {sent.error_code})"
        lines.append(
            f"{INDENT * 2}to {sent.addressee} from {sent.phone_number_id}"
            f" with {_whose(sent.token, owners, 'token')}{verdict}: {excerpt(sent.body)}"
        )
    lines.append(f"{INDENT}Groq (stand-in): {len(found.groq_calls)} call(s)")
    for call in found.groq_calls:
        lines.append(
            f"{INDENT * 2}{call.model} with {_whose(call.api_key, owners, 'key')} (HTTP {call.status}):"
            f" {excerpt(call.last_user_message)}"
        )
    return lines


def notes(outcome: Invocation) -> list[str]:
    """What a reader might take for a failure but is the system doing its job."""
    results = [outcome.main, *outcome.handed_off]
    if any(_DUPLICATE in _message_outcomes(result.result) for result in results):
        return [
            "Note: this message id was answered before (a duplicate), so it is not answered again, as"
            " when Meta delivers a webhook twice. A fresh data folder (APP_DATA_DIR) answers it anew."
        ]
    return []


def expectation(event: SampleEvent) -> list[str]:
    return [f"Expected: {event.expect}"]


def _json_lines(value: Any) -> list[str]:
    return json.dumps(value, indent=2, ensure_ascii=False).splitlines()


def _message_outcomes(result: Any) -> Mapping[str, Any]:
    messages = result.get("messages") if isinstance(result, Mapping) else None
    return messages if isinstance(messages, Mapping) else {}


def _whose(secret: str, owners: Mapping[str, str], kind: str) -> str:
    if not secret:
        return f"no {kind}"
    return owners.get(secret, f"an unknown {kind}")
