"""`check`: the seed's verification table, the problems found, and the exit code that gates service."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import asyncpg

from admin.checks import CHECKS, ProblemKind, find_problems, tenants_that_cannot_be_served
from admin.records import DeliveryHealth, ModelSubstitution, Tenant, TenantStatus
from providers.groq_models import DEFAULT_CHAT_MODEL
from tests.admin.conftest import Cli, add_served_tenant, add_tenant
from tests.seed import seed_queries


def status(**changes: object) -> TenantStatus:
    """A servable tenant, with `changes` applied."""
    fields: dict[str, object] = {
        "tenant": Tenant(id=uuid.uuid4(), email="shop@example.com"),
        "phone_number_id": "123456789",
        "whatsapp_active": True,
        "access_token_configured": True,
        "has_groq_config": True,
        "groq_key_configured": True,
        "model": DEFAULT_CHAT_MODEL,
    }
    fields.update(changes)
    return TenantStatus(**fields)  # type: ignore[arg-type]


def reported_problems(out: str) -> list[list[str]]:
    """[severity, tenant, kind, detail] for each problem line of `check`'s output."""
    return [line.split(None, 3) for line in out.splitlines() if line.startswith(("BLOCKING", "warning"))]


def kinds(s: TenantStatus) -> list[tuple[ProblemKind, bool]]:
    return [(p.kind, p.blocks_service) for p in find_problems([s])]


def test_a_servable_tenant_has_no_problem() -> None:
    assert kinds(status()) == []


def test_what_stops_a_tenant_with_an_active_number_from_being_served() -> None:
    assert kinds(status(access_token_configured=False)) == [(ProblemKind.MISSING_ACCESS_TOKEN, True)]
    assert kinds(status(has_groq_config=False, groq_key_configured=False, model=None)) == [
        (ProblemKind.MISSING_GROQ_CONFIG, True)
    ]
    assert kinds(status(groq_key_configured=False)) == [(ProblemKind.MISSING_GROQ_KEY, True)]


def test_a_retired_or_refused_model_is_a_warning_the_default_model_answers_meanwhile() -> None:
    assert kinds(status(model="mixtral-8x7b-32768")) == [(ProblemKind.RETIRED_MODEL, False)]
    substitution = ModelSubstitution(
        requested_model="openai/gpt-oss-120b",
        substitute_model="openai/gpt-oss-20b",
        reason="http 404 model_not_found",
        times=3,
        last_at=datetime(2026, 11, 30, 9, 15, tzinfo=UTC),
    )
    refused = status(delivery=DeliveryHealth(model_substitution=substitution))
    [problem] = find_problems([refused])
    assert (problem.kind, problem.blocks_service) == (ProblemKind.MODEL_SUBSTITUTED, False)
    assert problem.detail == (
        "Groq refused model openai/gpt-oss-120b (http 404 model_not_found, 3 time(s), last at"
        " 2026-11-30 09:15 UTC): replies come from openai/gpt-oss-20b; switch with:"
        " wa-admin set-groq shop@example.com --model openai/gpt-oss-20b"
    )
    # The tenant has changed its model since: nothing left to report.
    assert find_problems([replace(refused, model="qwen/qwen3.8-27b")]) == []


def test_without_an_active_number_problems_are_warnings() -> None:
    inactive = status(whatsapp_active=False, model="llama3-70b-8192")
    assert kinds(inactive) == [
        (ProblemKind.INACTIVE_WHATSAPP_CONFIG, False),
        (ProblemKind.RETIRED_MODEL, False),
    ]
    unconfigured = status(phone_number_id=None, whatsapp_active=None, access_token_configured=False)
    assert kinds(unconfigured) == [(ProblemKind.MISSING_WHATSAPP_CONFIG, False)]
    assert tenants_that_cannot_be_served(find_problems([inactive, unconfigured])) == []


def test_a_tenant_with_several_blocking_problems_counts_once() -> None:
    s = status(access_token_configured=False, model="llama3-8b-8192")
    assert tenants_that_cannot_be_served(find_problems([s])) == [s.tenant]
    assert len(CHECKS) == len(ProblemKind)  # every kind has its check


async def test_check_passes_when_every_active_tenant_can_be_served(cli: Cli) -> None:
    await add_served_tenant(cli, "shop@example.com", "123456789")
    await add_tenant(cli, "prospect@example.com")

    result = await cli("check")

    assert result.code == 0, result.out
    result.assert_no_secret()
    lines = result.out.splitlines()
    assert lines[0].split() == [
        "email",
        "whatsapp_phone_id",
        "whatsapp_active",
        "access_token",
        "groq_key",
        "model",
    ]
    assert lines[2].split() == [
        "shop@example.com",
        "123456789",
        "yes",
        "Configured",
        "Configured",
        DEFAULT_CHAT_MODEL,
    ]
    assert [p[:3] for p in reported_problems(result.out)] == [
        ["warning", "prospect@example.com", "missing_whatsapp_config"],
        ["warning", "prospect@example.com", "missing_groq_config"],
    ]
    assert "2 tenants, 1 with an active number, 0 of them cannot be served" in result.out


async def test_check_fails_when_an_active_tenant_has_no_groq_config(cli: Cli) -> None:
    await add_served_tenant(cli, "shop@example.com", "111111111")
    await add_tenant(cli, "half@example.com")
    await cli(
        "set-whatsapp", "half@example.com", "--phone-number-id", "222222222", "--access-token-stdin",
        stdin="EAAsomeOtherToken0123456789\n",
    )  # fmt: skip

    result = await cli("check")

    assert result.code == 1
    assert [p[:3] for p in reported_problems(result.out)] == [
        ["BLOCKING", "half@example.com", "missing_groq_config"]
    ]
    assert result.out.splitlines()[1].split() == [
        "half@example.com",
        "222222222",
        "yes",
        "Configured",
        "Missing",
        "-",
    ]


async def test_check_reports_a_retired_model_left_by_the_seed(cli: Cli, db: asyncpg.Connection) -> None:
    await add_served_tenant(cli, "shop@example.com", "123456789")
    await add_served_tenant(cli, "dormant@example.com", "987654321")
    await cli("deactivate", "dormant@example.com")
    # What a database migrated from the seed system holds; the CLI itself refuses retired models.
    await db.execute("UPDATE user_groq_config SET model = 'llama3-70b-8192'")

    result = await cli("check")

    # Served still (the handler answers with the deployment's default model), so a warning.
    assert result.code == 0
    problems = reported_problems(result.out)
    assert [p[:3] for p in problems] == [
        ["warning", "dormant@example.com", "inactive_whatsapp_config"],
        ["warning", "dormant@example.com", "retired_model"],
        ["warning", "shop@example.com", "retired_model"],
    ]
    assert "wa-admin set-groq shop@example.com --model openai/gpt-oss-120b" in problems[2][3]

    fixed = await cli("set-groq", "shop@example.com", "--model", "openai/gpt-oss-120b")
    assert fixed.code == 0
    after = await cli("check")
    assert [p[:3] for p in reported_problems(after.out)] == [
        ["warning", "dormant@example.com", "inactive_whatsapp_config"],
        ["warning", "dormant@example.com", "retired_model"],
    ]


async def test_check_table_agrees_with_the_seed_verification_sql(cli: Cli, db: asyncpg.Connection) -> None:
    await add_served_tenant(cli, "a@example.com", "111111111")
    await add_tenant(cli, "b@example.com")
    await cli("set-groq", "b@example.com", "--api-key-stdin", stdin="gsk_anotherKey0123456789\n")
    await add_tenant(cli, "c@example.com")

    result = await cli("check")

    seed_rows = await db.fetch(seed_queries()["verification"])
    expected = sorted(
        [
            r["email"],
            r["whatsapp_phone_id"] or "-",
            {True: "yes", None: "-"}[r["whatsapp_active"]],
            r["access_token"],
            r["groq_key"],
        ]
        for r in seed_rows
    )
    table = [line.split()[:5] for line in result.out.split("\n\n")[0].splitlines()[1:]]
    assert sorted(table) == expected
