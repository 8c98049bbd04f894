"""Parsers for command-line values: each returns the clean value or says in one line what is wrong."""

from __future__ import annotations

import re
from argparse import ArgumentTypeError
from decimal import Decimal, InvalidOperation

from admin.groq_models import replacement_for_retired

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DIGITS = re.compile(r"[0-9]{1,32}")
# Upper case only: a secret pasted here by mistake is refused without being echoed back.
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")
_MAX_TEMPERATURE = Decimal(2)
_MAX_HISTORY_LENGTH = 100


def email(value: str) -> str:
    cleaned = value.strip().lower()
    if not _EMAIL.fullmatch(cleaned):
        raise ArgumentTypeError(f"not an email address: {value!r}")
    return cleaned


def phone_number_id(value: str) -> str:
    """Meta's id of a business number: digits only (not the phone number itself)."""
    cleaned = value.strip()
    if not _DIGITS.fullmatch(cleaned):
        raise ArgumentTypeError(
            f"phone_number_id must be digits only (Meta's id of the number), got {value!r}"
        )
    return cleaned


def app_id(value: str) -> str:
    cleaned = value.strip()
    if not _DIGITS.fullmatch(cleaned):
        raise ArgumentTypeError(f"app id must be digits only, got {value!r}")
    return cleaned


def temperature(value: str) -> Decimal:
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise ArgumentTypeError(f"temperature must be a number from 0 to 2, got {value!r}") from None
    if not number.is_finite() or not 0 <= number <= _MAX_TEMPERATURE:
        raise ArgumentTypeError(f"temperature must be from 0 to 2, got {value}")
    return number


def history_length(value: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise ArgumentTypeError(
            f"history length must be a whole number from 0 to 100, got {value!r}"
        ) from None
    if not 0 <= number <= _MAX_HISTORY_LENGTH:
        raise ArgumentTypeError(f"history length must be from 0 to 100, got {number}")
    return number


def model(value: str) -> str:
    cleaned = value.strip()
    if not cleaned or any(char.isspace() for char in cleaned):
        raise ArgumentTypeError(f"not a Groq model name: {value!r}")
    replacement = replacement_for_retired(cleaned)
    if replacement is not None:
        raise ArgumentTypeError(f"Groq has retired {cleaned}; use {replacement}")
    return cleaned


def text(value: str) -> str:
    """A message or prompt: anything but blank."""
    if not value.strip():
        raise ArgumentTypeError("must not be blank")
    return value.strip()


def env_name(value: str) -> str:
    """The NAME of the variable holding a secret; the value itself is never repeated in the error."""
    if not _ENV_NAME.fullmatch(value):
        raise ArgumentTypeError(
            "expects the name of an environment variable (A-Z, 0-9, _), not the secret itself"
        )
    return value


def positive_int(value: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise ArgumentTypeError(f"must be a positive whole number, got {value!r}") from None
    if number < 1:
        raise ArgumentTypeError(f"must be a positive whole number, got {number}")
    return number
