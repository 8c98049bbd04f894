"""Plain-text tables for the admin command's output (pure: strings in, a string out)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from admin.checks import Problem
from admin.live_check import LiveResult
from admin.records import (
    ErrorCodeCount,
    IdentificationRate,
    RecentMessage,
    TenantFailedSends,
    TenantMessageCount,
    TenantOverview,
    TenantStatus,
    UnknownOutcomes,
)
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
