"""What each subcommand does, given its parsed arguments and one database connection."""

from __future__ import annotations

import time
from argparse import Namespace
from dataclasses import replace

import asyncpg

from admin import (
    checks,
    configs,
    conversation_log,
    handover,
    live_check,
    monitoring,
    render,
    render_handover,
    security,
    tenants,
    validate,
)
from admin.command import Command, Console
from admin.errors import NotConfigured
from admin.handover_commands import HANDOVER_COMMANDS
from admin.message_trace import follow_message
from admin.sample_webhook import SampleMessage, build_payload, new_wamid, sign_payload
from admin.secrets_input import SecretSource, read_secret
from admin.signing_secret import SecretCandidates, choose_signing_secret, read_local_secret_file
from admin.webhook_test import HintContext, WebhookTestReport, judge, post_webhook
from ops.database import local_secrets_path
from ops.migrate import run_migrations
from shared.env import comma_list


async def add_tenant(conn: asyncpg.Connection, args: Namespace, console: Console) -> int:
    tenant = await tenants.add_tenant(conn, args.email)
    console.write(str(tenant.id))  # alone on stdout, so scripts can capture it
    return 0


async def set_whatsapp(conn: asyncpg.Connection, args: Namespace, console: Console) -> int:
    # Both from stdin: the token is the first line, the app secret the second.
    access_token = read_secret(
        SecretSource(
            label="WhatsApp access token", env_name=args.access_token_env, from_stdin=args.access_token_stdin
        ),
        env=console.env,
        stdin=console.stdin,
    )
    app_secret = read_secret(
        SecretSource(label="Meta app secret", env_name=args.app_secret_env, from_stdin=args.app_secret_stdin),
        env=console.env,
        stdin=console.stdin,
    )
    changes = configs.WhatsAppChanges(
        phone_number_id=args.phone_number_id,
        app_id=args.app_id,
        active=args.active,
        access_token=access_token,
        app_secret=app_secret,
        graph_api_version=args.graph_api_version,
    )
    async with conn.transaction():
        tenant = await tenants.find_tenant(conn, args.tenant)
        await tenants.lock_tenant(conn, tenant)
        config = await configs.set_whatsapp_config(conn, tenant, changes)
    console.write(
        f"WhatsApp config {'created' if config.created else 'updated'} for {tenant.email or tenant.id}:"
        f" phone_number_id {config.phone_number_id}, {'active' if config.active else 'inactive'}"
    )
    return 0


async def set_groq(conn: asyncpg.Connection, args: Namespace, console: Console) -> int:
    api_key = read_secret(
        SecretSource(label="Groq API key", env_name=args.api_key_env, from_stdin=args.api_key_stdin),
        env=console.env,
        stdin=console.stdin,
    )
    if args.model is not None:
        validate.catalogued_chat_model(args.model, allow_unknown=args.allow_unknown_model)
    if args.vision_model is not None:
        validate.catalogued_vision_model(args.vision_model)
    if args.transcription_model is not None:
        validate.catalogued_transcription_model(
            args.transcription_model, allow_unknown=args.allow_unknown_model
        )
    changes = configs.GroqChanges(
        api_key=api_key,
        model=args.model,
        temperature=args.temperature,
        system_prompt=args.system_prompt,
        history_length=args.history_length,
        fallback_text=args.fallback_text,
        unsupported_media_text=args.unsupported_media_text,
        typing_indicator=None if args.typing_indicator is None else args.typing_indicator == "on",
        vision_model=args.vision_model,
        transcription_model=args.transcription_model,
        transcription_language=args.transcription_language,
    )
    async with conn.transaction():
        tenant = await tenants.find_tenant(conn, args.tenant)
        if api_key is not None:
            validate.groq_api_key(api_key)
        await tenants.lock_tenant(conn, tenant)
        config = await configs.set_groq_config(conn, tenant, changes)
    console.write(
        f"Groq config {'created' if config.created else 'updated'} for {tenant.email or tenant.id}:"
        f" model {config.model}, temperature {config.temperature}, history length {config.history_length};"
        f" images: {config.vision_model or 'the default vision model'},"
        f" voice notes: {config.transcription_model or 'the default speech model'}"
        f" ({config.transcription_language or 'language detected'})"
    )
    return 0


async def list_tenants(conn: asyncpg.Connection, args: Namespace, console: Console) -> int:
    console.write(render.tenants(await configs.tenant_overviews(conn)))
    return 0


async def deactivate(conn: asyncpg.Connection, args: Namespace, console: Console) -> int:
    async with conn.transaction():
        tenant = await tenants.find_tenant(conn, args.tenant)
        numbers = await configs.deactivate_whatsapp(conn, tenant)
    name = tenant.email or str(tenant.id)
    if numbers:
        console.write(f"deactivated {', '.join(numbers)} for {name}")
    else:
        console.write(f"{name} had no active number; nothing changed")
    return 0


async def reactivate(conn: asyncpg.Connection, args: Namespace, console: Console) -> int:
    async with conn.transaction():
        tenant = await tenants.find_tenant(conn, args.tenant)
        await tenants.lock_tenant(conn, tenant)
        number, changed = await configs.reactivate_whatsapp(conn, tenant)
    name = tenant.email or str(tenant.id)
    console.write(
        f"reactivated {number} for {name}" if changed else f"{number} was already active for {name}"
    )
    return 0


async def check(conn: asyncpg.Connection, args: Namespace, console: Console) -> int:
    """Exit 1 when a tenant with an active number cannot be served."""
    health = await monitoring.delivery_health(conn)
    statuses = [
        replace(s, delivery=health[s.tenant.id]) if s.tenant.id in health else s
        for s in await configs.tenant_statuses(conn)
    ]
    paused = await handover.paused_tenants(conn)
    statuses = [
        replace(s, assistant_paused=True, assistant_paused_until=paused[s.tenant.id])
        if s.tenant.id in paused
        else s
        for s in statuses
    ]
    problems = checks.find_problems(statuses)
    blocked = checks.tenants_that_cannot_be_served(problems)
    console.write(
        render.check_report(statuses, problems, len(blocked))
        + render_handover.quiet_summary(await conversation_log.quiet_counts(conn))
    )
    if not args.live:
        return 1 if blocked else 0
    credentials = [c for c in await configs.tenant_credentials(conn) if c.active]
    results = await live_check.live_check(credentials, console.env)
    console.write(render.live_report(results))
    return 1 if blocked or not all(result.ok for result in results) else 0


async def test_tenant(conn: asyncpg.Connection, args: Namespace, console: Console) -> int:
    """Exit 1 unless both the Groq key and the WhatsApp token work."""
    tenant = await tenants.find_tenant(conn, args.tenant)
    results = await live_check.live_check(await configs.tenant_credentials(conn, tenant), console.env)
    console.write(render.live_report(results))
    return 0 if results and all(result.ok for result in results) else 1


async def webhook_test(conn: asyncpg.Connection, args: Namespace, console: Console) -> int:
    """Exit 0 when the sample message was answered (the reply reached Graph), 1 otherwise."""
    tenant = await tenants.find_tenant(conn, args.tenant)
    name = tenant.email or str(tenant.id)
    [credentials] = await configs.tenant_credentials(conn, tenant)
    if credentials.phone_number_id is None:
        raise NotConfigured(f"tenant {name} has no WhatsApp number: wa-admin set-whatsapp {name} first")
    if not credentials.active:
        raise NotConfigured(
            f"tenant {name}'s number {credentials.phone_number_id} is inactive: wa-admin reactivate {name}"
        )
    signing = choose_signing_secret(
        SecretCandidates(
            tenant_secret=credentials.app_secret,
            tenant_secret_unreadable=credentials.app_secret_unreadable,
            env_secrets=comma_list(console.env, "META_APP_SECRET"),
            local=read_local_secret_file(local_secrets_path(console.env)),
        )
    )
    sample = SampleMessage(
        phone_number_id=credentials.phone_number_id,
        customer=args.customer,
        text=args.text,
        wamid=new_wamid(),
        timestamp=int(time.time()),
    )
    webhook = sign_payload(build_payload(sample), signing.secret, wamid=sample.wamid)
    answer = await post_webhook(args.forwarder_url, webhook)
    trace = await follow_message(conn, sample.wamid, args.wait) if answer.accepted else None
    context = HintContext(
        tenant_id=tenant.id,
        tenant=name,
        customer=sample.customer,
        url=args.forwarder_url,
        signed_with=signing.origin,
        wait_seconds=args.wait,
    )
    judgement = judge(answer, trace, context)
    report = WebhookTestReport(
        context=context,
        phone_number_id=sample.phone_number_id,
        wamid=sample.wamid,
        text=sample.text,
        signing_notes=signing.notes,
        answer=answer,
        trace=trace,
        judgement=judgement,
    )
    console.write(render.webhook_test_report(report))
    return judgement.verdict.exit_code


async def stats(conn: asyncpg.Connection, args: Namespace, console: Console) -> int:
    rate = await monitoring.identification_rate(conn)
    recent = await monitoring.recent_messages(conn, args.limit)
    per_tenant = await monitoring.messages_per_tenant(conn)
    unknown = await monitoring.unknown_outcomes(conn, args.limit)
    failed = await monitoring.failed_sends_per_tenant(conn)
    quiet = await conversation_log.quiet_counts(conn)
    media = await monitoring.media_per_tenant(conn)
    console.write(
        render.stats_report(rate, recent, per_tenant)
        + render.media_report(media)
        + render.delivery_report(unknown, failed)
        + render_handover.quiet_report(quiet)
    )
    return 0


async def migrate(conn: asyncpg.Connection, args: Namespace, console: Console) -> int:
    report = await run_migrations(conn)
    console.write(f"applied: {', '.join(report.applied)}" if report.applied else "schema already up to date")
    for upgrade in report.models_upgraded:
        console.write(f"retired Groq model replaced: {upgrade.describe()}")
    if report.secrets_encrypted:
        console.write(f"encrypted {report.secrets_encrypted} plain-text tenant secret(s)")
    return 0


async def issue_web_chat_key(conn: asyncpg.Connection, args: Namespace, console: Console) -> int:
    async with conn.transaction():
        tenant = await tenants.find_tenant(conn, args.tenant)
        key, _replaced = await security.issue_web_chat_key(conn, tenant)
    console.write(key)  # alone on stdout, shown this once: only its digest is stored
    return 0


async def rotate(conn: asyncpg.Connection, args: Namespace, console: Console) -> int:
    report = await security.rotate_master_key(conn)
    console.write(
        f"re-encrypted {report.rotated}, encrypted {report.encrypted} plain-text,"
        f" {report.unchanged} already under the current master key, {report.skipped} changed meanwhile"
    )
    return 0


COMMANDS: dict[str, Command] = {
    "add-tenant": Command(run=add_tenant),
    "set-whatsapp": Command(run=set_whatsapp),
    "set-groq": Command(run=set_groq),
    "list": Command(run=list_tenants),
    "deactivate": Command(run=deactivate),
    "reactivate": Command(run=reactivate),
    "check": Command(run=check),
    "test": Command(run=test_tenant),
    "webhook-test": Command(run=webhook_test),
    "stats": Command(run=stats),
    "migrate": Command(run=migrate, needs_migrated_schema=False),
    "issue-web-chat-key": Command(run=issue_web_chat_key),
    "rotate": Command(run=rotate),
    **HANDOVER_COMMANDS,
}
