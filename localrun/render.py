"""How the chat shows replies, stage times, stored rows and tenants (pure formatting, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from admin.records import ConversationPause, ConversationRow
from localrun.conversations import ChatTenant
from localrun.handler_events import HandlerEvent

INDENT = "   "
_CONTENT_WIDTH = 100
_STAGE_LABELS = (
    ("identify", "tenant lookup"),
    ("media_fetch", "media download"),
    ("transcribe", "transcription"),
    ("vision", "Groq vision"),
    ("groq", "Groq"),
    ("send", "send"),
)
_CLAIM_NOTES = {
    "already_handled": "already answered before: a duplicate, not answered again",
    "in_progress": "another invocation is answering it right now (503: Meta would retry)",
    "outcome_unknown": "an earlier attempt died while sending: not sent again, to avoid a double reply",
    "no_tenant": "no active tenant has this business number: stored as unidentified, not answered",
}
# Why the bot stayed quiet (customer_conversations.quiet_reason): the message is stored all the same.
_QUIET_NOTES = {
    "paused_by_human": "the business wrote to this customer by hand lately, the bot steps aside",
    "paused_by_operator": "the operator paused this conversation (wa-admin resume ends it)",
    "bot_off": "the tenant's assistant is paused for every customer (wa-admin resume TENANT --all)",
    "opted_out": "the customer opted out with a stop word: no answer until a start word (START)",
}
BUSINESS_LABEL = "business (by hand)"


def milliseconds(value: float) -> str:
    return f"{value:.1f} ms" if value < 10 else f"{value:.0f} ms"


def timings(ack_ms: float, ack_status: int, stage_ms: Mapping[str, float]) -> str:
    """`ack 48 ms | tenant lookup 3.1 ms | Groq 15 ms | send 8 ms` (stages the handler logged)."""
    ack = f"ack {milliseconds(ack_ms)}" + ("" if ack_status == 200 else f" (HTTP {ack_status})")
    stages = [
        f"{label} {milliseconds(stage_ms[stage])}" for stage, label in _STAGE_LABELS if stage in stage_ms
    ]
    return INDENT + " | ".join([ack, *stages])


def reply(label: str, parts: Sequence[str]) -> list[str]:
    """Each part of the reply as the customer's phone would show it, one message after another."""
    lines: list[str] = []
    for part in parts:
        first, *rest = part.splitlines() or [""]
        lines.append(f"{label}> {first}")
        lines.extend(" " * (len(label) + 2) + more for more in rest)
    return lines


def outcome_notes(events: Sequence[HandlerEvent]) -> list[str]:
    """Why there is no reply, or why it is not the AI's: what the handler logged for the message."""
    notes: list[str] = []
    for event in events:
        if event.stage == "identify" and event.claim in _CLAIM_NOTES:
            notes.append(_CLAIM_NOTES[event.claim])
        elif event.stage == "media" and event.reason:
            notes.append(f"not understood ({event.reason}): the tenant's notice was sent")
        elif event.stage == "groq" and event.reason:
            notes.append(f"Groq could not answer ({event.reason}): the tenant's fallback text was sent")
        elif event.stage == "quiet":
            why = _QUIET_NOTES.get(event.reason or "", event.reason or "no reason logged")
            notes.append(f"stored, not answered: {why}")
        elif event.stage == "send" and event.level == "ERROR":
            code = f"code {event.error_code}" if event.error_code is not None else "no code"
            notes.append(f"WhatsApp refused the reply ({code}: {event.error_title or 'no title'})")
        elif event.stage is None and event.level == "ERROR":
            notes.append(event.message)
    return [f"{INDENT}({note})" for note in notes]


def media_sent(name: str, size: int, *, voice: bool) -> str:
    return f"{INDENT}(sent {name}, {size:,} bytes, as {'a voice note' if voice else 'a photo'})"


def media_understanding(stored: ConversationRow | None, *, groq_standin: bool) -> list[str]:
    """What the handler made of a voice note or image, as Postgres keeps it; with the offline
    stand-in, said to be its stand-in (it neither hears nor sees: it reports what it received)."""
    if stored is None:
        return []
    content = _one_line(stored.content or "")
    if stored.media_outcome == "transcribed":
        source = (
            "by the offline Groq stand-in, which does not listen to the audio" if groq_standin else "by Groq"
        )
        return [f"{INDENT}(transcript {source}; stored as the customer's message: {content})"]
    if stored.media_outcome == "seen":
        seer = (
            "shown to the offline Groq stand-in, which does not look at it"
            if groq_standin
            else "seen by Groq"
        )
        return [f"{INDENT}(image {seer}; stored as: {content})"]
    return []


def history(rows: Sequence[ConversationRow], tenant: ChatTenant, customer: str) -> list[str]:
    header = f"{len(rows)} row(s) in customer_conversations for +{customer} and {tenant.label}, oldest first:"
    if not rows:
        return [header]
    lines = [header]
    for row in rows:
        who = "customer" if row.sender == "user" else (row.sender or "?")
        status = row.status or "-"
        if row.quiet_reason:
            status = f"{status} ({row.quiet_reason})"
        marker = "(voice note, transcript) " if row.media_outcome == "transcribed" else ""
        content = _one_line(marker + (row.content or ""))
        error = f"  [{row.error_title}]" if row.error_title else ""
        lines.append(
            f"{INDENT}{row.created_at.astimezone():%H:%M:%S}  {who:<8}  {status:<15}  {content}{error}"
        )
    return lines


def business_message(
    text: str, pause: ConversationPause | None, tenant: ChatTenant, customer: str
) -> list[str]:
    """What the business wrote by hand, and whether the bot now keeps out of the conversation."""
    lines = [f"{BUSINESS_LABEL}> {line}" for line in text.splitlines() or [""]]
    if pause is None:
        lines.append(
            f"{INDENT}(kept in the conversation; this tenant sets no pause after a human message: the bot still answers)"
        )
        return lines
    until = "until resumed" if pause.until is None else f"until {pause.until.astimezone():%Y-%m-%d %H:%M}"
    by = " (the operator's pause)" if pause.reason == "operator" else ""
    name = tenant.email or tenant.user_id
    lines.append(
        f"{INDENT}(kept in the conversation; the bot steps aside for +{customer} {until}{by}:"
        f" wa-admin resume {name} {customer} ends it)"
    )
    return lines


def tenants(all_tenants: Sequence[ChatTenant], current: ChatTenant | None) -> list[str]:
    if not all_tenants:
        return ["no tenant has an active WhatsApp number"]
    lines = ["tenants with an active WhatsApp number:"]
    for index, tenant in enumerate(all_tenants, start=1):
        marker = "*" if current is not None and tenant.user_id == current.user_id else " "
        lines.append(
            f"{INDENT}{marker} {index}. {tenant.email or tenant.user_id}  phone_number_id {tenant.phone_number_id}"
        )
    return lines


def talking_to(tenant: ChatTenant, customer: str) -> str:
    return f"You are customer +{customer} writing to {tenant.email or tenant.user_id} (phone_number_id {tenant.phone_number_id})."


def short_id(wamid: str) -> str:
    return wamid if len(wamid) <= 24 else wamid[:20] + "…"


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _CONTENT_WIDTH else flat[: _CONTENT_WIDTH - 1] + "…"
