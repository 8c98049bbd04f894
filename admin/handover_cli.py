"""The handover subcommands' arguments (`wa-admin pause`, `resume`, `conversations`, `opt-outs`,
`set-handover`)."""

from __future__ import annotations

import argparse
from typing import Any

from admin import validate

DEFAULT_LAST = 20


def add_handover_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    pause = sub.add_parser(
        "pause",
        help="keep the assistant out of a customer's conversation (or, with --all, of every one)",
        description="Pause the assistant for one customer of the tenant (their phone number or BSUID)"
        " or, with --all, for the whole tenant: their messages are still stored (and statuses"
        " applied), none is answered. Until `wa-admin resume`, or for --for DURATION (30m, 12h, 2d).",
    )
    _target(pause)
    pause.add_argument(
        "--for", dest="duration", type=validate.pause_duration, metavar="DURATION",
        help="how long (e.g. 30m, 12h, 2d, 1h30m); default: until resumed",
    )  # fmt: skip
    resume = sub.add_parser(
        "resume",
        help="let the assistant answer a paused customer (or, with --all, the whole tenant) again",
        description="End a customer's pause, whether the operator set it or the business writing by"
        " hand in the WhatsApp Business app did; with --all, the tenant-wide pause.",
    )
    _target(resume)
    conversations = sub.add_parser(
        "conversations",
        help="the tenant's WhatsApp conversations, or one of them as stored",
        description="Without CUSTOMER: the tenant's conversations, most recent first, each with who"
        " wrote how much and whether it is paused or opted out. With CUSTOMER: its last rows as"
        " stored (sender, status, why a message was not answered, content). Numbers are masked"
        " unless --show-numbers.",
    )
    conversations.add_argument("tenant", metavar="TENANT", help="the tenant's id or email")
    conversations.add_argument(
        "customer", metavar="CUSTOMER", nargs="?", type=validate.customer,
        help="a phone number with the country code, or a BSUID (US.1349…)",
    )  # fmt: skip
    conversations.add_argument(
        "--last", type=validate.positive_int, default=DEFAULT_LAST, metavar="N",
        help=f"how many conversations, or rows of one (default {DEFAULT_LAST})",
    )  # fmt: skip
    _show_numbers(conversations)
    opt_outs = sub.add_parser(
        "opt-outs",
        help="the tenant's customers who opted out (stop words, and Meta's marketing opt-outs)",
    )
    opt_outs.add_argument("tenant", metavar="TENANT", help="the tenant's id or email")
    _show_numbers(opt_outs)
    _add_set_handover(sub)


def _target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("tenant", metavar="TENANT", help="the tenant's id or email")
    parser.add_argument(
        "customer", metavar="CUSTOMER", nargs="?", type=validate.customer,
        help="a phone number with the country code, or a BSUID (US.1349…)",
    )  # fmt: skip
    parser.add_argument("--all", action="store_true", help="every customer of the tenant")


def _show_numbers(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--show-numbers", action="store_true", help="print customers' numbers unmasked")


def _add_set_handover(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "set-handover",
        help="when the assistant steps aside, and the stop and start words of the tenant",
        description="Change only what is given. After the business writes to a customer by hand"
        " (WhatsApp Business app), the assistant keeps out of that conversation for --human-pause"
        " (default 12h; 0: no pause). A customer writing a stop word gets one confirmation and no"
        " AI answer until a start word; the default words and confirmations are those of"
        " --languages (default: all of fr,en,es,pt,de,it; French first).",
    )
    parser.add_argument("tenant", metavar="TENANT", help="the tenant's id or email")
    parser.add_argument(
        "--human-pause", type=validate.human_pause, metavar="DURATION", help="e.g. 12h, 30m, 2d; 0 for none"
    )
    parser.add_argument(
        "--languages", type=validate.languages, metavar="CODES",
        help="comma-separated, e.g. fr,en,es (the first answers for the tenant's own words)",
    )  # fmt: skip
    for option, what in (("stop-words", "stop"), ("start-words", "start")):
        parser.add_argument(
            f"--{option}", type=validate.word_list, metavar="WORDS",
            help=f"the tenant's own {what} words, comma-separated (replace the defaults), or 'default'",
        )  # fmt: skip
    for option, what in (("opt-out-text", "stop word"), ("opt-in-text", "start word")):
        parser.add_argument(
            f"--{option}", type=validate.text_or_default, metavar="TEXT",
            help=f"the confirmation of a {what}, or 'default' (in the word's language)",
        )  # fmt: skip
