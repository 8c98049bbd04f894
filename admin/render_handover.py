"""Plain-text output of the handover commands: pauses, conversations as stored, opt-outs, quiet
messages (pure: values in, a string out). Customer numbers are masked unless `show_numbers`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from admin.conversation_log import Conversation
from admin.handover import HandoverSettings
from admin.records import ConversationPause, ConversationSummary, OptOut, QuietCount
from admin.render import table
from shared.logs import mask_phone

_SENDERS = {"user": "customer", "bot": "assistant", "business": "business"}
_PAUSED_BY = {"human_reply": "the business writing by hand", "operator": "the operator"}


def customer(key: str, *, show_numbers: bool) -> str:
    return key if show_numbers else mask_phone(key)


def until(moment: datetime | None) -> str:
    return "until resumed" if moment is None else f"until {_time(moment)} UTC"


def pause_state(pause: ConversationPause | None, opted_out: bool) -> str:
    parts = []
    if pause is not None:
        parts.append(f"paused by {_PAUSED_BY.get(pause.reason, pause.reason)} {until(pause.until)}")
    if opted_out:
        parts.append("opted out (stop word)")
    return "; ".join(parts) or "answered by the assistant"


def assistant_state(paused: bool, paused_until: datetime | None) -> str:
    return f"assistant paused for every customer {until(paused_until)}" if paused else "assistant on"


def conversations(
    name: str,
    summaries: Sequence[ConversationSummary],
    limit: int,
    *,
    tenant_state: str,
    show_numbers: bool,
) -> str:
    out = f"WhatsApp conversations of {name}, most recent first (at most {limit}); {tenant_state}:\n"
    return out + table(
        ("customer", "last message (UTC)", "customer_msgs", "assistant", "business", "quiet", "state"),
        [
            (
                customer(s.customer_key, show_numbers=show_numbers),
                _time(s.last_at),
                s.from_customer,
                s.from_assistant,
                s.from_business,
                s.quiet,
                pause_state(s.pause, s.opted_out),
            )
            for s in summaries
        ],
        empty="(no conversations)",
    )


def conversation(name: str, found: Conversation, limit: int, *, tenant_state: str, show_numbers: bool) -> str:
    who = customer(found.key, show_numbers=show_numbers)
    out = (
        f"conversation of {name} with {who}, the last {len(found.rows)} row(s) (at most {limit}),"
        f" oldest first; {pause_state(found.pause, found.opted_out)}; {tenant_state}:\n"
    )
    return out + table(
        ("time (UTC)", "sender", "status", "quiet_reason", "content"),
        [
            (
                _time(row.created_at),
                _SENDERS.get(row.sender or "", row.sender),
                row.status,
                row.quiet_reason,
                (row.content if row.content is not None else "(no content)")
                + (f"  [{row.error_title}]" if row.error_title else ""),
            )
            for row in found.rows
        ],
        empty="(no rows)",
    )


def opt_outs(name: str, found: Sequence[OptOut], *, show_numbers: bool) -> str:
    out = f"customers of {name} who opted out (assistant: stop words; marketing: Meta's user_preferences):\n"
    return out + table(
        ("customer", "scope", "since (UTC)", "source", "detail"),
        [
            (
                customer(o.customer_key, show_numbers=show_numbers),
                o.scope,
                _time(o.changed_at),
                o.source,
                o.detail,
            )
            for o in found
        ],
        empty="(nobody)",
    )


def quiet_report(counts: Sequence[QuietCount]) -> str:
    """For `stats`: customer messages the AI did not answer on purpose, and why."""
    return "\ncustomer messages not answered by the AI on purpose (last 24 h):\n" + table(
        ("tenant", "reason", "messages"),
        [(c.tenant_email or "(unidentified)", c.reason, c.count) for c in counts],
        empty="(every customer message went to the AI)",
    )


def quiet_summary(counts: Sequence[QuietCount]) -> str:
    """For `check`: the same counts on one line per tenant, only when there are any."""
    if not counts:
        return ""
    per_tenant: dict[str, list[str]] = {}
    for c in counts:
        per_tenant.setdefault(c.tenant_email or "(unidentified)", []).append(f"{c.reason} {c.count}")
    lines = [f"  {tenant}: {', '.join(reasons)}" for tenant, reasons in per_tenant.items()]
    return (
        "\ncustomer messages stored and not answered by the AI on purpose (last 24 h; wa-admin stats):\n"
        + "\n".join(lines)
        + "\n"
    )


def handover_settings(name: str, settings: HandoverSettings) -> str:
    hours = settings.human_pause_seconds / 3600
    pause = "no pause" if not settings.human_pause_seconds else f"{hours:g} h"
    words = ", ".join(settings.stop_words) if settings.stop_words else "the languages' defaults"
    starts = ", ".join(settings.start_words) if settings.start_words else "the languages' defaults"
    return (
        f"handover settings of {name}: after a message written by hand, the assistant keeps out"
        f" {pause}; languages {','.join(settings.languages)}; stop words: {words}; start words:"
        f" {starts}; confirmations: {'own' if settings.opt_out_text else 'default'} /"
        f" {'own' if settings.opt_in_text else 'default'}"
    )


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
