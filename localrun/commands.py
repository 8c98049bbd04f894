"""What a line typed in the chat asks for: a message to send, or a command (pure parsing, no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from localrun.media_files import MediaKind, extensions, mime_type_for

DEFAULT_HISTORY_ROWS = 20
MAX_HISTORY_ROWS = 200
_PHONE = re.compile(r"^\d{6,15}$")


class Kind(StrEnum):
    MESSAGE = "message"
    VOICE = "voice"  # a voice note from a file
    IMAGE = "image"  # an image from a file, with an optional caption
    CUSTOMER = "customer"
    TENANT = "tenant"
    HISTORY = "history"
    DUPLICATE = "duplicate"
    STATUS = "status"
    HUMAN = "human"  # the business writes by hand (WhatsApp Business app): the bot steps aside
    HELP = "help"
    QUIT = "quit"
    NOTHING = "nothing"  # an empty line
    INVALID = "invalid"  # an unknown command, or a command with a bad argument


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatInput:
    kind: Kind
    # MESSAGE: what the customer writes; HUMAN: what the business writes; CUSTOMER: the number;
    # VOICE, IMAGE: the file; INVALID: the problem
    text: str = ""
    number: int | None = None  # TENANT: which one (None: list them); HISTORY: how many rows
    caption: str = ""  # IMAGE: what the customer writes under it


HELP = """\
Type a line to send it as the customer's WhatsApp message. Commands:
  /voice FILE       send FILE (.ogg, .opus, .mp3, .m4a, .aac, .amr) as a voice note: transcribed, then answered
  /image FILE [TEXT] send FILE (.jpg, .png, .webp) as a photo, TEXT as its caption: seen by a vision model
  /customer NUMBER  write as another customer (digits, e.g. /customer 447700900123)
  /tenant [N]       list the tenants with an active number, or write to tenant N
  /history [N]      the last N rows (default 20) of this conversation, as stored in Postgres
  /duplicate        send the last webhook again, as Meta does on a retry: it is not answered twice
  /status           send "delivered" then "read" for the last reply, and show its row change
  /human TEXT       write TEXT to this customer as the business, by hand from the WhatsApp
                    Business app: the bot steps aside for them (12 h by default)
  /help             this list
  /quit             stop everything (Ctrl-C or Ctrl-D too)"""

_ALIASES = {
    "voice": Kind.VOICE,
    "image": Kind.IMAGE,
    "customer": Kind.CUSTOMER,
    "tenant": Kind.TENANT,
    "history": Kind.HISTORY,
    "duplicate": Kind.DUPLICATE,
    "status": Kind.STATUS,
    "human": Kind.HUMAN,
    "help": Kind.HELP,
    "?": Kind.HELP,
    "quit": Kind.QUIT,
    "exit": Kind.QUIT,
}


def parse_input(line: str) -> ChatInput:
    text = line.strip()
    if not text:
        return ChatInput(kind=Kind.NOTHING)
    if not text.startswith("/"):
        return ChatInput(kind=Kind.MESSAGE, text=text)
    name, _, argument = text[1:].partition(" ")
    kind = _ALIASES.get(name.lower())
    argument = argument.strip()
    if kind is None:
        return _invalid(f"unknown command /{name}; /help lists the commands")
    if kind in (Kind.VOICE, Kind.IMAGE):
        return _media(kind, argument)
    if kind is Kind.CUSTOMER:
        return _customer(argument)
    if kind is Kind.HUMAN:
        if not argument:
            return _invalid("/human takes what the business writes, e.g. /human Bonjour, je m'en occupe")
        return ChatInput(kind=kind, text=argument)
    if kind is Kind.TENANT:
        return _optional_number(kind, argument, "/tenant N takes a tenant's number from the /tenant list")
    if kind is Kind.HISTORY:
        parsed = _optional_number(kind, argument, f"/history N takes a number of rows (1-{MAX_HISTORY_ROWS})")
        if parsed.kind is Kind.HISTORY and parsed.number is None:
            return ChatInput(kind=kind, number=DEFAULT_HISTORY_ROWS)
        if parsed.number is not None and parsed.number > MAX_HISTORY_ROWS:
            return ChatInput(kind=kind, number=MAX_HISTORY_ROWS)
        return parsed
    if argument:
        return _invalid(f"/{name} takes no argument")
    return ChatInput(kind=kind)


def normalize_phone(text: str) -> str | None:
    """A customer number as Meta writes it (digits only, no plus), or None when it is not one."""
    digits = re.sub(r"[\s().-]", "", text).removeprefix("+")
    return digits if _PHONE.match(digits) else None


def _media(kind: Kind, argument: str) -> ChatInput:
    path, _, caption = argument.partition(" ")
    media = MediaKind(kind.value)
    if not path:
        usage = "/voice FILE, e.g. /voice note.ogg" if kind is Kind.VOICE else "/image FILE [caption]"
        return _invalid(f"{usage}: give the file to send")
    if mime_type_for(media, path) is None:
        return _invalid(f"/{kind.value} takes a {', '.join(extensions(media))} file, got {path}")
    if kind is Kind.VOICE and caption.strip():
        return _invalid("/voice takes one file and no caption (WhatsApp's voice notes have none)")
    return ChatInput(kind=kind, text=path, caption=caption.strip())


def _customer(argument: str) -> ChatInput:
    phone = normalize_phone(argument)
    if phone is None:
        return _invalid("/customer takes a phone number of 6 to 15 digits, e.g. /customer 447700900123")
    return ChatInput(kind=Kind.CUSTOMER, text=phone)


def _optional_number(kind: Kind, argument: str, problem: str) -> ChatInput:
    if not argument:
        return ChatInput(kind=kind)
    if not argument.isdigit() or int(argument) < 1:
        return _invalid(problem)
    return ChatInput(kind=kind, number=int(argument))


def _invalid(problem: str) -> ChatInput:
    return ChatInput(kind=Kind.INVALID, text=problem)
