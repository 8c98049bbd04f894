"""What `check` reports: pure functions that turn a tenant's status into typed problems.

Each check looks at one `TenantStatus` and returns a `Problem` or None; a new kind of problem is one
more function in `CHECKS` (and, when it needs more facts, one more field on `TenantStatus`).
A problem blocks service when the tenant has an active number whose messages cannot be answered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from admin.records import Tenant, TenantStatus
from providers.graph_api import DEFAULT_VERSION, known_version, served_on
from providers.groq_models import replacement_for_retired


class ProblemKind(StrEnum):
    MISSING_WHATSAPP_CONFIG = "missing_whatsapp_config"
    INACTIVE_WHATSAPP_CONFIG = "inactive_whatsapp_config"
    MISSING_ACCESS_TOKEN = "missing_access_token"
    MISSING_GROQ_CONFIG = "missing_groq_config"
    MISSING_GROQ_KEY = "missing_groq_key"
    RETIRED_MODEL = "retired_model"
    MODEL_SUBSTITUTED = "model_substituted"
    UNREADABLE_SECRET = "unreadable_secret"
    GRAPH_API_VERSION = "graph_api_version"
    GROQ_REJECTED = "groq_rejected"
    WHATSAPP_TOKEN_REJECTED = "whatsapp_token_rejected"
    SEND_OUTCOME_UNKNOWN = "send_outcome_unknown"
    UNFINISHED_MESSAGES = "unfinished_messages"
    ASSISTANT_PAUSED = "assistant_paused"


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    tenant: Tenant
    kind: ProblemKind
    detail: str
    blocks_service: bool


Check = Callable[[TenantStatus], Problem | None]


def _problem(status: TenantStatus, kind: ProblemKind, detail: str, *, blocking: bool) -> Problem:
    return Problem(tenant=status.tenant, kind=kind, detail=detail, blocks_service=blocking)


def missing_whatsapp_config(status: TenantStatus) -> Problem | None:
    if status.phone_number_id is not None:
        return None
    return _problem(
        status, ProblemKind.MISSING_WHATSAPP_CONFIG, "no WhatsApp config (set-whatsapp)", blocking=False
    )


def inactive_whatsapp_config(status: TenantStatus) -> Problem | None:
    if status.phone_number_id is None or status.has_active_number:
        return None
    detail = f"WhatsApp number {status.phone_number_id} is inactive: its messages are not answered"
    return _problem(status, ProblemKind.INACTIVE_WHATSAPP_CONFIG, detail, blocking=False)


def missing_access_token(status: TenantStatus) -> Problem | None:
    if status.phone_number_id is None or status.access_token_configured:
        return None
    detail = "WhatsApp access token missing: replies cannot be sent"
    return _problem(status, ProblemKind.MISSING_ACCESS_TOKEN, detail, blocking=status.has_active_number)


def missing_groq_config(status: TenantStatus) -> Problem | None:
    if status.has_groq_config:
        return None
    detail = "no Groq config (set-groq): no reply can be generated"
    return _problem(status, ProblemKind.MISSING_GROQ_CONFIG, detail, blocking=status.has_active_number)


def missing_groq_key(status: TenantStatus) -> Problem | None:
    if not status.has_groq_config or status.groq_key_configured:
        return None
    detail = "Groq API key missing: no reply can be generated"
    return _problem(status, ProblemKind.MISSING_GROQ_KEY, detail, blocking=status.has_active_number)


def retired_model(status: TenantStatus) -> Problem | None:
    replacement = replacement_for_retired(status.model) if status.model else None
    if replacement is None:
        return None
    tenant = status.tenant.email or str(status.tenant.id)
    detail = (
        f"Groq model {status.model} is retired: replies come from the deployment's default model"
        f" (DEFAULT_GROQ_MODEL); switch with: wa-admin set-groq {tenant} --model {replacement}"
    )
    # Not blocking: the handler answers with the deployment's default model meanwhile.
    return _problem(status, ProblemKind.RETIRED_MODEL, detail, blocking=False)


def model_substituted(status: TenantStatus) -> Problem | None:
    """Groq refused the tenant's model at run time and the deployment's default answered instead."""
    substitution = status.delivery.model_substitution
    if substitution is None or substitution.requested_model != status.model:
        return None
    suggestion = replacement_for_retired(substitution.requested_model) or substitution.substitute_model
    detail = (
        f"Groq refused model {substitution.requested_model} ({substitution.reason}, {substitution.times}"
        f" time(s), last at {_time(substitution.last_at)}): replies come from {substitution.substitute_model};"
        f" switch with: wa-admin set-groq {_name(status)} --model {suggestion}"
    )
    return _problem(status, ProblemKind.MODEL_SUBSTITUTED, detail, blocking=False)


_UNREADABLE_FIX = {
    "user_whatsapp_config.access_token": "the access token: set it again with wa-admin set-whatsapp {t} --phone-number-id {n} --access-token-stdin",
    "user_whatsapp_config.app_secret": "the Meta app secret (every payload for it is refused): set it again with wa-admin set-whatsapp {t} --phone-number-id {n} --app-secret-stdin",
    "user_groq_config.api_key": "the Groq API key: set it again with wa-admin set-groq {t} --api-key-stdin",
}


def unreadable_secret(status: TenantStatus) -> Problem | None:
    """A secret is stored but cannot be decrypted with the configured master keys: the handler
    cannot use it either (another master key, a value copied from another tenant, tampering)."""
    if not status.unreadable_secrets:
        return None
    fixes = "; ".join(
        _UNREADABLE_FIX[column].format(t=_name(status), n=status.phone_number_id or "ID")
        for column in status.unreadable_secrets
    )
    detail = (
        "stored secrets cannot be decrypted with this deployment's master key (configure the key they"
        f" were encrypted with, or replace them): {fixes}"
    )
    return _problem(status, ProblemKind.UNREADABLE_SECRET, detail, blocking=status.has_active_number)


# Warn this long before Meta stops serving a tenant's Graph API version.
_VERSION_WARNING = timedelta(days=90)


def graph_api_version(status: TenantStatus) -> Problem | None:
    """The tenant's own Graph API version (set-whatsapp --graph-api-version): gone, or going soon."""
    name = status.graph_api_version
    if name is None:
        return None
    today = datetime.now(UTC).date()
    version = known_version(name)
    if version is None or not served_on(name, today):
        detail = f"Graph API version {name} is not served by Meta (expired or unknown): no reply can be sent"
        return _problem(status, ProblemKind.GRAPH_API_VERSION, detail, blocking=status.has_active_number)
    if version.available_until is not None and version.available_until - today < _VERSION_WARNING:
        detail = (
            f"Graph API version {name} is served until {version.available_until.isoformat()}: move to"
            f" {DEFAULT_VERSION} with wa-admin set-whatsapp {_name(status)} --phone-number-id"
            f" {status.phone_number_id} --graph-api-version {DEFAULT_VERSION}"
        )
        return _problem(status, ProblemKind.GRAPH_API_VERSION, detail, blocking=False)
    return None


def groq_rejected(status: TenantStatus) -> Problem | None:
    rejection = status.delivery.groq_rejection
    if rejection is None:
        return None
    what, fix = _groq_fix(rejection.reason, status)
    detail = (
        f"Groq refused {what} ({rejection.reason}, last at {_time(rejection.at)}, no AI answer since:"
        f" customers get the fallback text): {fix}"
    )
    return _problem(status, ProblemKind.GROQ_REJECTED, detail, blocking=status.has_active_number)


def _groq_fix(reason: str, status: TenantStatus) -> tuple[str, str]:
    """What Groq refused, read from the recorded "http STATUS code", and the command that fixes it."""
    tenant = _name(status)
    http_status, _, code = reason.removeprefix("http ").partition(" ")
    set_key = f"set a new key with wa-admin set-groq {tenant} --api-key-stdin"
    if "model" not in code and (http_status in ("401", "403") or "key" in code):
        return "the API key", set_key
    if "model" in code or http_status == "404":
        model = status.model or "?"
        replacement = replacement_for_retired(model) or "MODEL"
        return (
            f"the model {model}",
            f"choose a current one with wa-admin set-groq {tenant} --model {replacement}",
        )
    return "the request", f"check the model (wa-admin set-groq {tenant} --model MODEL) or {set_key}"


def whatsapp_token_rejected(status: TenantStatus) -> Problem | None:
    rejection = status.delivery.whatsapp_token_rejection
    if rejection is None:
        return None
    number = status.phone_number_id or "ID"
    detail = (
        f"WhatsApp access token expired or invalid (Graph 190, last at {_time(rejection.at)}, no reply"
        f" sent since): set a new one with wa-admin set-whatsapp {_name(status)}"
        f" --phone-number-id {number} --access-token-stdin"
    )
    return _problem(status, ProblemKind.WHATSAPP_TOKEN_REJECTED, detail, blocking=status.has_active_number)


def send_outcome_unknown(status: TenantStatus) -> Problem | None:
    count = status.delivery.sends_outcome_unknown
    if not count:
        return None
    detail = (
        f"{count} customer message(s) in the last 7 days may not have received a reply (the handler"
        " stopped between sending and recording it; never resent): list them with wa-admin stats"
    )
    return _problem(status, ProblemKind.SEND_OUTCOME_UNKNOWN, detail, blocking=False)


def unfinished_messages(status: TenantStatus) -> Problem | None:
    count, oldest = status.delivery.unfinished_messages, status.delivery.oldest_unfinished_at
    if not count or oldest is None:
        return None
    detail = (
        f"{count} customer message(s) unanswered and unfinished for over 15 minutes (oldest"
        f" {_time(oldest)}): every Lambda attempt failed, so their events wait in the dead-letter"
        " queue; fix the cause, then replay them (infra/DEPLOY.md, Replaying dead letters)"
    )
    return _problem(status, ProblemKind.UNFINISHED_MESSAGES, detail, blocking=False)


def assistant_paused(status: TenantStatus) -> Problem | None:
    """The operator turned the tenant's assistant off: messages are stored, none answered."""
    if not status.assistant_paused:
        return None
    until = status.assistant_paused_until
    detail = (
        "the assistant is paused for every customer"
        + (f" until {_time(until)}" if until is not None else "")
        + f": messages are stored, none answered (wa-admin resume {_name(status)} --all)"
    )
    return _problem(status, ProblemKind.ASSISTANT_PAUSED, detail, blocking=False)


def _name(status: TenantStatus) -> str:
    return status.tenant.email or str(status.tenant.id)


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


CHECKS: tuple[Check, ...] = (
    missing_whatsapp_config,
    inactive_whatsapp_config,
    missing_access_token,
    missing_groq_config,
    missing_groq_key,
    unreadable_secret,
    retired_model,
    model_substituted,
    graph_api_version,
    groq_rejected,
    whatsapp_token_rejected,
    send_outcome_unknown,
    unfinished_messages,
    assistant_paused,
)


def find_problems(statuses: Iterable[TenantStatus], checks: Sequence[Check] = CHECKS) -> list[Problem]:
    """Every problem of every tenant, in tenant order, then check order."""
    return [problem for status in statuses for check in checks if (problem := check(status)) is not None]


def tenants_that_cannot_be_served(problems: Iterable[Problem]) -> list[Tenant]:
    """Tenants with an active number and at least one blocking problem, each once."""
    blocked: dict[object, Tenant] = {}
    for problem in problems:
        if problem.blocks_service:
            blocked.setdefault(problem.tenant.id, problem.tenant)
    return list(blocked.values())
