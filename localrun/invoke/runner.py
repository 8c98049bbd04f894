"""One sample event through the real Lambda entry point, against the local database.

In order: migrations and the event's preconditions (localrun/invoke/preconditions.py), the Groq
and Graph stand-ins in this process (each accepting only the sample tenants' keys and tokens),
the invocation (localrun/invoke/functions.py), then what it left in `customer_conversations`,
on the Graph stand-in and on the Groq stand-in.
"""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from infra.sample_events import FORWARDER, HANDLER, SampleEvent
from localrun.console import Output
from localrun.errors import DatabaseFailure
from localrun.invoke import report
from localrun.invoke.environment import patched_environ
from localrun.invoke.functions import Invocation, invoke_forwarder, invoke_handler
from localrun.invoke.offline import StandIns, started_stand_ins
from localrun.invoke.preconditions import Prepared, prepare, secret_owners
from ops.database_connect import DatabaseUnusable, connect_database
from ops.migrate import apply_migrations

_CONNECT_TIMEOUT_SECONDS = 10.0

_ENTRY_POINTS = {
    HANDLER: "handler.app.lambda_handler",
    FORWARDER: "forwarder.app.lambda_handler, its hand-off through boto3 to the handler",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class EventFile:
    sample: SampleEvent
    path: Path
    event: dict[str, Any]

    @property
    def main_function(self) -> str:
        return self.sample.functions[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRun:
    """What one `make invoke` prepared, what the function returned, and what it left behind."""

    migrations_applied: list[str]
    prepared: list[Prepared]
    invocation: Invocation
    aftermath: report.Aftermath

    @property
    def failed(self) -> bool:
        return self.invocation.main.failed or any(result.failed for result in self.invocation.handed_off)


# The rows an invocation created or changed: every statement of the handler sets `updated_at`.
_ROWS_SINCE = """
SELECT created_at >= $1 AS created, sender, status, phone_number, content
FROM customer_conversations
WHERE created_at >= $1 OR updated_at >= $1
ORDER BY created_at, sender = 'bot', reply_part NULLS FIRST, id
"""


async def run_event(
    target: EventFile,
    database_url: str,
    out: Output,
    *,
    configured: bool,
    stand_ins: StandIns | None = None,
) -> EventRun:
    """Prepare, invoke `target`'s main function once, and report. `configured`: the URL is
    DATABASE_URL's (else the embedded server's), for the message when it cannot be used.
    `stand_ins`: already running ones (tests keep theirs); by default, started for this run."""
    try:
        conn = await connect_database(database_url, configured=configured, timeout=_CONNECT_TIMEOUT_SECONDS)
    except DatabaseUnusable as unusable:
        raise DatabaseFailure(str(unusable)) from None
    try:
        migrations = await apply_migrations(conn)
        prepared = await prepare(conn, target.event)
        for line in report.preparation(prepared, migrations):
            out.line(line)
        with ExitStack() as stack:
            if stand_ins is None:
                stand_ins = stack.enter_context(
                    started_stand_ins(hands_off=target.main_function == FORWARDER)
                )
            out.line(f"{report.INDENT}stand-ins   {stand_ins.describe()}")
            out.line()
            outcome, found = await _invoke_and_observe(conn, target, database_url, stand_ins)
    except asyncpg.PostgresError as exc:
        raise DatabaseFailure(f"database error {type(exc).__name__} (SQLSTATE {exc.sqlstate})") from None
    finally:
        await conn.close()
    for line in [
        *report.invocation(outcome),
        "",
        *report.aftermath(found, secret_owners()),
        "",
        *report.expectation(target.sample),
        *report.notes(outcome),
    ]:
        out.line(line)
    return EventRun(migrations_applied=migrations, prepared=prepared, invocation=outcome, aftermath=found)


def describe_target(target: EventFile) -> str:
    function = target.main_function
    return f"Invoking {target.sample.file} with {function} ({_ENTRY_POINTS[function]}, in this process)"


async def _invoke_and_observe(
    conn: asyncpg.Connection, target: EventFile, database_url: str, stand_ins: StandIns
) -> tuple[Invocation, report.Aftermath]:
    mark = stand_ins.recorded()
    with patched_environ(stand_ins.environment(database_url)):
        since: datetime = await conn.fetchval("SELECT clock_timestamp()")
        outcome = await asyncio.to_thread(_invoke, target, stand_ins)
    rows = await conn.fetch(_ROWS_SINCE, since)
    found = report.Aftermath(
        rows=tuple(
            report.ConversationRow(
                created=row["created"],
                sender=row["sender"],
                status=row["status"],
                customer=row["phone_number"],
                content=row["content"],
            )
            for row in rows
        ),
        sends=stand_ins.sends_since(mark),
        groq_calls=stand_ins.groq_calls_since(mark),
    )
    return outcome, found


def _invoke(target: EventFile, stand_ins: StandIns) -> Invocation:
    if target.main_function == FORWARDER:
        if stand_ins.lambdas is None:
            raise ValueError("a forwarder event needs the Lambda Invoke API stand-in to hand off through")
        return invoke_forwarder(target.event, stand_ins.lambdas)
    return invoke_handler(target.event)
