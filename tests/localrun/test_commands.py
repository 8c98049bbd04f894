"""Parsing what is typed in the chat: messages, commands and their arguments."""

from __future__ import annotations

import pytest

from localrun.commands import (
    DEFAULT_HISTORY_ROWS,
    MAX_HISTORY_ROWS,
    ChatInput,
    Kind,
    normalize_phone,
    parse_input,
)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Bonjour", ChatInput(kind=Kind.MESSAGE, text="Bonjour")),
        ("  Vous êtes ouverts ?  ", ChatInput(kind=Kind.MESSAGE, text="Vous êtes ouverts ?")),
        ("", ChatInput(kind=Kind.NOTHING)),
        ("   ", ChatInput(kind=Kind.NOTHING)),
        ("/quit", ChatInput(kind=Kind.QUIT)),
        ("/EXIT", ChatInput(kind=Kind.QUIT)),
        ("/help", ChatInput(kind=Kind.HELP)),
        ("/duplicate", ChatInput(kind=Kind.DUPLICATE)),
        ("/status", ChatInput(kind=Kind.STATUS)),
        ("/tenant", ChatInput(kind=Kind.TENANT)),
        ("/tenant 2", ChatInput(kind=Kind.TENANT, number=2)),
        ("/history", ChatInput(kind=Kind.HISTORY, number=DEFAULT_HISTORY_ROWS)),
        ("/history 5", ChatInput(kind=Kind.HISTORY, number=5)),
        ("/history 100000", ChatInput(kind=Kind.HISTORY, number=MAX_HISTORY_ROWS)),
        ("/customer +44 7700 900123", ChatInput(kind=Kind.CUSTOMER, text="447700900123")),
        ("/customer 33612345678", ChatInput(kind=Kind.CUSTOMER, text="33612345678")),
        ("/human  Je m'en occupe, Paul ", ChatInput(kind=Kind.HUMAN, text="Je m'en occupe, Paul")),
        ("/voice note.ogg", ChatInput(kind=Kind.VOICE, text="note.ogg")),
        ("/voice ~/Memo.M4A", ChatInput(kind=Kind.VOICE, text="~/Memo.M4A")),
        ("/image menu.jpg", ChatInput(kind=Kind.IMAGE, text="menu.jpg")),
        (
            "/image shoe.png  En stock en 42 ?",
            ChatInput(kind=Kind.IMAGE, text="shoe.png", caption="En stock en 42 ?"),
        ),
    ],
)
def test_lines_are_parsed(line: str, expected: ChatInput) -> None:
    assert parse_input(line) == expected


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("/nope", "unknown command /nope"),
        ("/tenant two", "/tenant N takes"),
        ("/tenant 0", "/tenant N takes"),
        ("/history -1", "/history N takes"),
        ("/customer", "/customer takes a phone number"),
        ("/customer 12ab", "/customer takes a phone number"),
        ("/customer 12345", "/customer takes a phone number"),
        ("/duplicate now", "/duplicate takes no argument"),
        ("/human", "/human takes what the business writes"),
        ("/human   ", "/human takes what the business writes"),
        ("/voice", "/voice FILE, e.g. /voice note.ogg: give the file to send"),
        ("/voice note.txt", "/voice takes a .ogg, .opus, .mp3, .m4a, .aac, .amr file, got note.txt"),
        ("/voice note.ogg hello", "/voice takes one file and no caption"),
        ("/image menu.gif", "/image takes a .jpg, .jpeg, .png, .webp file"),
    ],
)
def test_bad_commands_say_what_is_wrong(line: str, problem: str) -> None:
    parsed = parse_input(line)
    assert parsed.kind is Kind.INVALID
    assert problem in parsed.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+33 6 12 34 56 78", "33612345678"),
        ("(555) 010-2030", "5550102030"),
        ("1234567890123456", None),
        ("", None),
        ("+", None),
    ],
)
def test_phone_numbers_are_normalized_as_meta_writes_them(text: str, expected: str | None) -> None:
    assert normalize_phone(text) == expected
