"""`wa-admin`: the tenant admin command line (argument parsing and dispatch; the work is in `commands`)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import NoReturn

from admin import validate
from admin.command import Console
from admin.commands import COMMANDS
from admin.connection import connect, require_migrated_schema
from admin.errors import AdminError
from admin.handover_cli import add_handover_parsers
from admin.local_key import adopt_local_master_key
from admin.sample_webhook import DEFAULT_TEST_CUSTOMER, DEFAULT_TEST_TEXT
from admin.webhook_test import DEFAULT_FORWARDER_URL, DEFAULT_WAIT_SECONDS
from providers.groq_models import DEFAULT_CHAT_MODEL, DEFAULT_TRANSCRIPTION_MODEL, DEFAULT_VISION_MODEL
from shared.env import ConfigurationError
from tenant_secrets.master_keys import MasterKeyError, MasterKeyUnavailable

_DESCRIPTION = """\
Manage the tenants of the WhatsApp assistant in Postgres (DATABASE_URL, or the embedded server).
Secrets are read from an environment variable or standard input, never from the command line,
and are never printed (lists show the last 4 characters at most)."""


class _Parser(argparse.ArgumentParser):
    """Usage mistakes as one line on stderr (`error: ...`), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog.removeprefix('wa-admin ')}: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="wa-admin", description=_DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    add = sub.add_parser("add-tenant", help="create a tenant; prints its id")
    add.add_argument("--email", required=True, type=validate.email)

    _add_set_whatsapp(sub)
    _add_set_groq(sub)

    sub.add_parser("list", help="every tenant with its number, model and masked secrets")
    for name, what in (
        ("deactivate", "stop answering the tenant's WhatsApp number"),
        ("reactivate", "answer the tenant's WhatsApp number again (refused if another tenant has it)"),
    ):
        _add_tenant_argument(sub.add_parser(name, help=what, description=what))
    check = sub.add_parser(
        "check",
        help="the seed's verification table and every problem; exit 1 if an active tenant cannot be served",
        description="The seed's verification table for every tenant, then the problems found "
        "(missing configs, retired models, inactive numbers, a Groq key or model or a WhatsApp token "
        "refused in the last 24 h, replies of unknown outcome in the last 7 days). Exit code 1 when "
        "any tenant with an active number cannot be served, 0 otherwise. With --live, also try each "
        "active tenant's Groq key and WhatsApp token against Groq and the Graph API.",
    )
    check.add_argument(
        "--live",
        action="store_true",
        help="also call Groq (models) and Graph (the phone number) with each active tenant's credentials",
    )
    test = sub.add_parser(
        "test",
        help="try one tenant's Groq key and WhatsApp token against Groq and the Graph API",
        description="Calls Groq's models endpoint with the tenant's key and Graph's phone-number "
        "endpoint with its token; reports each as working, refused or unreachable. Sends nothing "
        "to any customer. Exit 1 unless both work.",
    )
    _add_tenant_argument(test)
    _add_webhook_test(sub)
    stats = sub.add_parser(
        "stats",
        help="identification rate (24 h), recent messages (1 h), messages per tenant (24 h), "
        "replies of unknown outcome (7 days), failed sends per tenant (24 h)",
    )
    stats.add_argument(
        "--limit",
        type=validate.positive_int,
        default=50,
        help="recent messages and unknown outcomes shown (default 50)",
    )
    sub.add_parser("migrate", help="apply pending database migrations, then encrypt any plain-text secret")
    web_chat_key = sub.add_parser(
        "issue-web-chat-key",
        help="issue (or replace) the tenant's web chat key; prints it, once",
        description="Issue a new web chat key for the tenant and print it alone on stdout, this once: "
        "only its digest is stored. Web chat requests send it as `Authorization: Bearer KEY`. "
        "A tenant's previous key stops working at once.",
    )
    _add_tenant_argument(web_chat_key)
    sub.add_parser(
        "rotate",
        help="re-encrypt every tenant secret under the current master key",
        description="Re-encrypt every secret that is not under the current master key (KMS_KEY_ID, or "
        "the first LOCAL_MASTER_KEY), one row per short transaction. Keep the old key configured "
        "(decrypt-only) for the handler and this command until it has finished.",
    )
    add_handover_parsers(sub)
    return parser


def _add_tenant_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("tenant", metavar="TENANT", help="the tenant's id or email")


def _add_secret_options(parser: argparse.ArgumentParser, option: str, label: str, *, extra: str = "") -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        f"--{option}-env", metavar="NAME", type=validate.env_name, help=f"read the {label} from variable NAME"
    )
    group.add_argument(f"--{option}-stdin", action="store_true", help=f"read the {label} from stdin{extra}")


def _add_set_whatsapp(sub: argparse._SubParsersAction[_Parser]) -> None:
    parser = sub.add_parser(
        "set-whatsapp",
        help="create or update the tenant's WhatsApp number and credentials",
        description="Create or update the tenant's WhatsApp config. A new config needs an access "
        "token; later calls change only what is given.",
    )
    _add_tenant_argument(parser)
    parser.add_argument("--phone-number-id", required=True, type=validate.phone_number_id, metavar="ID")
    parser.add_argument("--app-id", type=validate.app_id, metavar="ID")
    parser.add_argument(
        "--graph-api-version",
        type=validate.graph_api_version,
        metavar="VERSION",
        help="this number's Graph API version (e.g. v26.0); 'default' for the deployment's GRAPH_API_VERSION",
    )
    active = parser.add_mutually_exclusive_group()
    active.add_argument("--active", dest="active", action="store_const", const=True, default=None)
    active.add_argument("--inactive", dest="active", action="store_const", const=False)
    _add_secret_options(parser, "access-token", "access token", extra=" (first line)")
    _add_secret_options(
        parser, "app-secret", "Meta app secret", extra=" (the line after the access token, if both)"
    )


def _add_webhook_test(sub: argparse._SubParsersAction[_Parser]) -> None:
    parser = sub.add_parser(
        "webhook-test",
        help="send one signed sample webhook to a running forwarder and show what became of it",
        description="Sends one text message from a test customer to the tenant's number, as a Meta "
        "webhook signed with the tenant's own app secret, else the first of META_APP_SECRET, else make "
        "run's local app secret (the data folder's local-secrets.json); then shows the forwarder's "
        "answer and, from this database, the stored message and its reply. Exit 0 when the reply "
        "reached Graph (sent, delivered or read), 1 otherwise. On Meta's side a reply to the "
        "fictional default customer fails (Graph code 131026): for a real end-to-end check, write to "
        "the number from your own WhatsApp and pass --customer YOUR_NUMBER.",
    )
    _add_tenant_argument(parser)
    parser.add_argument(
        "--forwarder-url",
        type=validate.forwarder_url,
        default=DEFAULT_FORWARDER_URL,
        metavar="URL",
        help=f"the forwarder's webhook (default {DEFAULT_FORWARDER_URL}, make run's; the stack's "
        "WebhookUrl output for a deployed one)",
    )
    parser.add_argument(
        "--customer",
        type=validate.customer_number,
        default=DEFAULT_TEST_CUSTOMER,
        metavar="NUMBER",
        help=f"who writes, with the country code (default {DEFAULT_TEST_CUSTOMER}, a fictional number)",
    )
    parser.add_argument("--text", type=validate.text, default=DEFAULT_TEST_TEXT, metavar="TEXT")
    parser.add_argument(
        "--wait",
        type=validate.wait_seconds,
        default=DEFAULT_WAIT_SECONDS,
        metavar="SECONDS",
        help=f"how long to look for the stored message and its reply (default {DEFAULT_WAIT_SECONDS})",
    )


def _add_set_groq(sub: argparse._SubParsersAction[_Parser]) -> None:
    parser = sub.add_parser(
        "set-groq",
        help="create or update the tenant's Groq key and assistant settings",
        description="Create or update the tenant's Groq config. A new config needs an API key; "
        "later calls change only what is given (the rest keeps its value or the default).",
    )
    _add_tenant_argument(parser)
    parser.add_argument(
        "--model",
        type=validate.model,
        help=f"Groq chat model id from the catalogue (default {DEFAULT_CHAT_MODEL}); a retired one is refused",
    )
    parser.add_argument(
        "--allow-unknown-model",
        action="store_true",
        help="accept a --model the catalogue does not know yet (one Groq added since this release)",
    )
    parser.add_argument("--temperature", type=validate.temperature, metavar="T", help="0 to 2")
    parser.add_argument("--system-prompt", type=validate.text, metavar="TEXT")
    parser.add_argument(
        "--history-length",
        type=validate.history_length,
        metavar="N",
        help="past messages sent to Groq, 0 to 100",
    )
    parser.add_argument(
        "--fallback-text", type=validate.text, metavar="TEXT", help="sent when no reply can be generated"
    )
    parser.add_argument(
        "--unsupported-media-text", type=validate.text, metavar="TEXT", help="sent for non-text messages"
    )
    parser.add_argument(
        "--typing-indicator",
        choices=("on", "off"),
        help="mark customers' messages read and show 'typing…' while the assistant thinks (default on)",
    )
    parser.add_argument(
        "--vision-model",
        type=validate.model_or_default,
        metavar="MODEL",
        help=f"the model that answers images, one that sees (default: the deployment's, {DEFAULT_VISION_MODEL});"
        " 'default' to follow the deployment's again",
    )
    parser.add_argument(
        "--transcription-model",
        type=validate.model_or_default,
        metavar="MODEL",
        help=f"Groq's speech-to-text model for voice notes (default: the deployment's, {DEFAULT_TRANSCRIPTION_MODEL});"
        " 'default' to follow the deployment's again",
    )
    parser.add_argument(
        "--transcription-language",
        type=validate.transcription_language,
        metavar="CODE",
        help="the language voice notes are in, as ISO-639-1 (e.g. fr): faster and more accurate;"
        " 'auto' (the default) lets Groq detect it",
    )
    _add_secret_options(parser, "api-key", "Groq API key")


async def _run(args: argparse.Namespace, console: Console) -> int:
    command = COMMANDS[args.command]
    async with connect(console.env) as conn:
        if command.needs_migrated_schema:
            await require_migrated_schema(conn)
        return await command.run(conn, args, console)


def main(argv: list[str] | None = None) -> int:
    """Run one admin command; returns the exit code (0 ok, 1 check failed or the database failed during
    the command, 2 bad input or an unusable DATABASE_URL)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already reported on one line
        return exc.code if isinstance(exc.code, int) else 2
    console = Console(stdin=sys.stdin, stdout=sys.stdout, env=os.environ)
    try:
        adopted = adopt_local_master_key(os.environ)
        if adopted is not None:
            sys.stderr.write(
                f"note: using the local master key {adopted} (make run's; no KMS_KEY_ID,"
                " LOCAL_MASTER_KEY or LOCAL_MASTER_KEY_FILE is set)\n"
            )
        return asyncio.run(_run(args, console))
    except AdminError as exc:
        message = " ".join(str(exc).split())
        sys.stderr.write(f"error: {message}\n")
        return exc.exit_code
    except (MasterKeyError, ConfigurationError) as exc:
        # The master key configuration (names the variable) or KMS; never key material.
        sys.stderr.write(f"error: {' '.join(str(exc).split())}\n")
        return 1 if isinstance(exc, MasterKeyUnavailable) else 2


if __name__ == "__main__":
    raise SystemExit(main())
