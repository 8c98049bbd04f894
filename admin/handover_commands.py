"""The handover subcommands: pause, resume, conversations, opt-outs, set-handover (arguments parsed
by `admin.handover_cli`, the work in `admin.handover`, the output in `admin.render_handover`)."""

from __future__ import annotations

from argparse import Namespace

import asyncpg

from admin import conversation_log, handover, render_handover, tenants
from admin.command import Command, Console
from admin.errors import InvalidInput
from admin.records import Tenant
from shared.logs import mask_phone


def _name(tenant: Tenant) -> str:
    return tenant.email or str(tenant.id)


def _one_target(args: Namespace) -> None:
    if args.all and args.customer is not None:
        raise InvalidInput("give a CUSTOMER or --all, not both")
    if not args.all and args.customer is None:
        raise InvalidInput(
            "give the CUSTOMER whose conversation it is, or --all for every customer of the tenant"
        )


async def pause(conn: asyncpg.Connection, args: Namespace, console: Console) -> int:
    _one_target(args)
    async with conn.transaction():
        tenant = await tenants.find_tenant(conn, args.tenant)
        if args.all:
            ends = await handover.pause_tenant(conn, tenant, args.duration)
            console.write(
                f"assistant of {_name(tenant)} paused for every customer {render_handover.until(ends)}:"
                " their messages are stored, none answered; statuses still apply"
                f" (wa-admin resume {_name(tenant)} --all ends it)"
            )
            return 0
        key = await handover.conversation_key(conn, tenant, args.customer)
        ends = await handover.pause_customer(conn, tenant, key, args.duration)
    console.write(
        f"paused {mask_phone(key)} for {_name(tenant)} {render_handover.until(ends)}: their messages are"
        " stored, not answered (wa-admin resume ends it)"
    )
    return 0


async def resume(conn: asyncpg.Connection, args: Namespace, console: Console) -> int:
    _one_target(args)
    async with conn.transaction():
        tenant = await tenants.find_tenant(conn, args.tenant)
        if args.all:
            was_paused = await handover.resume_tenant(conn, tenant)
            console.write(
                f"assistant of {_name(tenant)} answers again"
                if was_paused
                else f"the assistant of {_name(tenant)} was not paused; nothing changed"
            )
            return 0
        key = await handover.conversation_key(conn, tenant, args.customer)
        ended = await handover.resume_customer(conn, tenant, key)
    if ended is None:
        console.write(f"{mask_phone(key)} was not paused for {_name(tenant)}; nothing changed")
    else:
        console.write(
            f"resumed {mask_phone(key)} for {_name(tenant)} (it was "
            f"{render_handover.pause_state(ended, opted_out=False)}): the assistant answers their next message"
        )
    return 0


async def conversations(conn: asyncpg.Connection, args: Namespace, console: Console) -> int:
    tenant = await tenants.find_tenant(conn, args.tenant)
    paused, paused_until = await handover.tenant_pause(conn, tenant)
    state = render_handover.assistant_state(paused, paused_until)
    if args.customer is None:
        summaries = await conversation_log.conversations(conn, tenant, args.last)
        console.write(
            render_handover.conversations(
                _name(tenant), summaries, args.last, tenant_state=state, show_numbers=args.show_numbers
            )
        )
        return 0
    key = await handover.conversation_key(conn, tenant, args.customer)
    found = await conversation_log.conversation(conn, tenant, key, args.last)
    console.write(
        render_handover.conversation(
            _name(tenant), found, args.last, tenant_state=state, show_numbers=args.show_numbers
        )
    )
    return 0


async def opt_outs(conn: asyncpg.Connection, args: Namespace, console: Console) -> int:
    tenant = await tenants.find_tenant(conn, args.tenant)
    found = await conversation_log.opt_outs(conn, tenant)
    console.write(render_handover.opt_outs(_name(tenant), found, show_numbers=args.show_numbers))
    return 0


async def set_handover(conn: asyncpg.Connection, args: Namespace, console: Console) -> int:
    changes = handover.HandoverChanges(
        human_pause_seconds=args.human_pause,
        languages=args.languages,
        stop_words=args.stop_words or None,
        stop_words_default=args.stop_words == (),
        start_words=args.start_words or None,
        start_words_default=args.start_words == (),
        opt_out_text=args.opt_out_text or None,
        opt_out_text_default=args.opt_out_text == "",
        opt_in_text=args.opt_in_text or None,
        opt_in_text_default=args.opt_in_text == "",
    )
    async with conn.transaction():
        tenant = await tenants.find_tenant(conn, args.tenant)
        await tenants.lock_tenant(conn, tenant)
        settings = await handover.set_handover(conn, tenant, changes)
    console.write(render_handover.handover_settings(_name(tenant), settings))
    return 0


HANDOVER_COMMANDS: dict[str, Command] = {
    "pause": Command(run=pause),
    "resume": Command(run=resume),
    "conversations": Command(run=conversations),
    "opt-outs": Command(run=opt_outs),
    "set-handover": Command(run=set_handover),
}
