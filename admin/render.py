"""Plain-text tables for the admin command's output (pure: strings in, a string out)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from admin.checks import Problem
from admin.live_check import LiveResult
from admin.message_trace import PREVIEW_CHARACTERS, MessageTrace, StoredReply
from admin.records import (
    ErrorCodeCount,
    IdentificationRate,
    RecentMessage,
    TenantFailedSends,
    TenantMediaCount,
    TenantMessageCount,
    TenantOverview,
    TenantStatus,
    UnknownOutcomes,
)
from admin.sample_webhook import DEFAULT_TEST_CUSTOMER
from admin.webhook_test import WebhookTestReport
from shared.logs import mask_phone

Cell = str | int | bool | None


def table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, empty: str = "(none)") -> str:
    """Columns padded to their widest cell; one line per row, whatever the cells contain."""
    if not rows:
        return "  ".join(headers) + "\n" + empty + "\n"
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(header), *(len(row[i]) for row in cells)) for i, header in enumerate(headers)]
    lines = [headers, *cells]
    return "".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() + "\n" for line in lines
    )


def tenants(overviews: Sequence[TenantOverview]) -> str:
    headers = ("email", "id", "phone_number_id", "active", "model", "access_token", "app_secret", "groq_key")
    rows = [
        (
            o.tenant.email,
            str(o.tenant.id),
            o.phone_number_id,
            o.whatsapp_active,
            o.model,
            o.access_token_tail,
            o.app_secret_tail,
            o.groq_key_tail,
        )
        for o in overviews
    ]
    return table(headers, rows, empty="(no tenants)")


def check_report(statuses: Sequence[TenantStatus], problems: Sequence[Problem], blocked: int) -> str:
    """The seed's verification table, then each problem, then the verdict."""
    headers = ("email", "whatsapp_phone_id", "whatsapp_active", "access_token", "groq_key", "model")
    rows = [
        (
            s.tenant.email,
            s.phone_number_id,
            s.whatsapp_active,
            _configured(s.access_token_configured),
            _configured(s.groq_key_configured),
            s.model,
        )
        for s in statuses
    ]
    out = table(headers, rows, empty="(no tenants)") + "\n"
    if problems:
        out += "problems:\n" + table(
            ("severity", "tenant", "problem", "detail"),
            [
                (
                    "BLOCKING" if p.blocks_service else "warning",
                    p.tenant.email or str(p.tenant.id),
                    p.kind,
                    p.detail,
                )
                for p in problems
            ],
        )
    else:
        out += "no problems\n"
    active = sum(1 for s in statuses if s.has_active_number)
    return (
        out
        + f"\n{len(statuses)} tenants, {active} with an active number, {blocked} of them cannot be served\n"
    )


def stats_report(
    rate: IdentificationRate, recent: Sequence[RecentMessage], per_tenant: Sequence[TenantMessageCount]
) -> str:
    percent = "n/a" if rate.success_rate is None else f"{rate.success_rate}%"
    out = (
        "identification rate, customer WhatsApp messages in the last 24 h (target > 95%): "
        f"{rate.identified_messages}/{rate.total_messages} = {percent}\n\n"
    )
    out += "recent messages (last hour):\n" + table(
        ("time", "tenant", "phone", "sender", "content"),
        [
            (
                _time(m.created_at),
                m.tenant_email or "(unidentified)",
                mask_phone(m.phone_number),
                m.sender,
                m.content_preview,
            )
            for m in recent
        ],
    )
    out += "\nmessages per tenant (last 24 h):\n" + table(
        ("tenant", "total", "from_customers", "from_assistant"),
        [
            (c.tenant_email or "(unidentified)", c.total, c.from_customers, c.from_assistant)
            for c in per_tenant
        ],
    )
    return out


def media_report(counts: Sequence[TenantMediaCount]) -> str:
    """Voice notes and images per tenant: understood (transcribed, seen) and fallen back to the notice."""
    return "\nvoice notes and images per tenant (last 24 h):\n" + table(
        ("tenant", "voice_understood", "voice_fell_back", "images_understood", "images_fell_back"),
        [
            (
                c.tenant_email or "(unidentified)",
                c.voice_notes_understood,
                c.voice_notes_fell_back,
                c.images_understood,
                c.images_fell_back,
            )
            for c in counts
        ],
    )


def delivery_report(unknown: UnknownOutcomes, failed: Sequence[TenantFailedSends]) -> str:
    """Replies that may not have reached the customer, then the sends Graph refused per tenant."""
    shown = len(unknown.messages)
    out = (
        f"\nsend outcome unknown (last 7 days): {unknown.total} customer message(s) may not have"
        " received a reply (never resent)"
        + (f", newest {shown} shown" if shown < unknown.total else "")
        + ":\n"
    )
    out += table(
        ("time", "tenant", "phone", "content"),
        [
            (
                _time(m.created_at),
                m.tenant_email or "(unidentified)",
                mask_phone(m.phone_number),
                m.content_preview,
            )
            for m in unknown.messages
        ],
    )
    out += "\nfailed sends per tenant (last 24 h):\n" + table(
        ("tenant", "failed", "top_error_codes"),
        [(f.tenant_email or "(unidentified)", f.failed, _error_codes(f.top_error_codes)) for f in failed],
    )
    return out


def _error_codes(counts: Sequence[ErrorCodeCount]) -> str:
    return ", ".join(f"{'no code' if c.error_code is None else c.error_code} x{c.count}" for c in counts)


def _configured(present: bool) -> str:
    return "Configured" if present else "Missing"


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _cell(value: Cell) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    # Customer text may hold newlines or terminal escapes: keep each row on one line, inert.
    return "".join(char if char.isprintable() else " " for char in str(value))


def live_report(results: Sequence[LiveResult]) -> str:
    """One line per tenant: its Groq key and its WhatsApp token, each working, refused or unreachable."""
    out = "\nlive check (Groq models, Graph phone number):\n" + table(
        ("tenant", "active", "groq", "whatsapp"),
        [
            (r.tenant.email or str(r.tenant.id), r.active, r.groq.describe(), r.whatsapp.describe())
            for r in results
        ],
        empty="(no tenant to check)",
    )
    working = sum(1 for r in results if r.ok)
    return out + f"\n{working} of {len(results)} tenants' credentials work\n"


def webhook_test_report(report: WebhookTestReport) -> str:
    """What was sent and how, what the forwarder said, the rows it led to, then the verdict and hints."""
    context, answer = report.context, report.answer
    # The fictional default is shown whole; a real number the operator gave is masked like any customer's.
    customer = (
        f"{DEFAULT_TEST_CUSTOMER} (fictional test number; --customer for another)"
        if context.customer == DEFAULT_TEST_CUSTOMER
        else mask_phone(context.customer)
    )
    lines = [
        f"webhook test for {context.tenant} (phone_number_id {report.phone_number_id})",
        _field("customer", customer),
        _field("text", _cell(_preview(report.text))),
        _field("signed", f"with {context.signed_with}"),
        *(_field("note", note) for note in report.signing_notes),
        _field("message", report.wamid),
        _field(
            "forwarder",
            f"POST {context.url}: "
            + (
                f"no answer ({answer.failure})"
                if answer.status is None
                else f"{answer.status} {_cell(answer.body)} ({answer.elapsed_ms:g} ms)".rstrip()
            ),
        ),
        *_trace_lines(report.trace, context.wait_seconds),
        "",
        f"result: {report.judgement.verdict.value}",
        *(f"  - {hint}" for hint in report.judgement.hints),
    ]
    return "\n".join(lines) + "\n"


def _trace_lines(trace: MessageTrace | None, wait_seconds: float) -> list[str]:
    if trace is None:
        return [_field("stored", "not looked for: the forwarder did not take the webhook")]
    if trace.message is None:
        return [_field("stored", f"no row with this message id after {wait_seconds:g} s")]
    message = trace.message
    stored = f"customer message {message.status or '-'}" + (
        f", {_cell(_without_code(message.error_title))}" if message.error_title else ""
    )
    if trace.waited_seconds >= _WORTH_SAYING_SECONDS:
        stored += f" (after {trace.waited_seconds:.1f} s)"
    parts = len(trace.replies)
    replies = [
        _field("reply" if parts == 1 else f"reply {index}/{parts}", _reply(reply))
        for index, reply in enumerate(trace.replies, start=1)
    ]
    return [_field("stored", stored), *(replies or [_field("reply", "none recorded")])]


# The local forwarder answers once the handler is done: rows found at once need no timing.
_WORTH_SAYING_SECONDS = 0.5


def _reply(reply: StoredReply) -> str:
    error = [str(reply.error_code)] if reply.error_code is not None else []
    if reply.error_title:
        error.append(_cell(_without_code(reply.error_title)))
    shown = f"{reply.status or '-'}" + (f" ({' '.join(error)})" if error else "")
    return f'{shown}  "{_cell(_preview(reply.preview))}"'


def _without_code(title: str) -> str:
    """Graph's messages start with their code, `(#131026) Message undeliverable`: shown once is enough."""
    return re.sub(r"^\(#\d+\)\s*", "", title)


def _preview(text: str) -> str:
    return text if len(text) <= PREVIEW_CHARACTERS else text[:PREVIEW_CHARACTERS] + "…"


def _field(label: str, value: str) -> str:
    return f"  {label:<10} {value}"
