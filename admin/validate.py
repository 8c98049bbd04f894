"""Parsers for command-line values: each returns the clean value or says in one line what is wrong."""

from __future__ import annotations

import re
from argparse import ArgumentTypeError
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit, urlunsplit

from admin.errors import InvalidInput
from admin.secrets_input import Secret
from handler.conversation.opt_out_words import KNOWN_LANGUAGES
from providers.graph_api import is_version_name, served_on
from providers.groq_models import (
    Kind,
    can_see_images,
    current_model,
    replacement_for_retired,
    retired_model,
)

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DIGITS = re.compile(r"[0-9]{1,32}")
# Upper case only: a secret pasted here by mistake is refused without being echoed back.
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")
_MAX_TEMPERATURE = Decimal(2)
_MAX_HISTORY_LENGTH = 100
# E.164 without the plus sign, as Meta writes `from` and `wa_id`: a country code and up to 15 digits.
_CUSTOMER_NUMBER = re.compile(r"[1-9][0-9]{6,14}")
_CUSTOMER_NUMBER_PUNCTUATION = str.maketrans("", "", " -.()")
_MAX_WAIT_SECONDS = 600
# ISO-639-1 as Groq's speech to text takes it (it also knows a few three-letter codes: haw, yue).
_LANGUAGE = re.compile(r"[a-z]{2,3}")


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
        retired = retired_model(cleaned)
        when = f" on {retired.retired_on.isoformat()}" if retired and retired.retired_on else ""
        raise ArgumentTypeError(f"Groq has retired {cleaned}{when}; use {replacement}")
    return cleaned


def model_or_default(value: str) -> str:
    """A Groq model (not retired), or `default` (stored as none: the deployment's default)."""
    return "default" if value.strip() == "default" else model(value)


def transcription_language(value: str) -> str:
    """An ISO-639-1 code (e.g. fr), or `auto` (stored as none: Groq detects the language)."""
    cleaned = value.strip().lower()
    if cleaned != "auto" and not _LANGUAGE.fullmatch(cleaned):
        raise ArgumentTypeError(f"a language is an ISO-639-1 code such as fr or en, or auto; got {value!r}")
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


GROQ_KEY_PREFIX = "gsk_"


def groq_api_key(key: Secret) -> None:
    """Groq's keys start with `gsk_`; anything else (a WhatsApp token pasted in the wrong place, an
    OpenAI key) would fail at every message. The key itself is never repeated."""
    if not key.value.startswith(GROQ_KEY_PREFIX):
        raise InvalidInput(f"that is not a Groq API key (Groq's keys start with {GROQ_KEY_PREFIX})")


def catalogued_chat_model(model_id: str, *, allow_unknown: bool) -> None:
    """A chat model of the catalogue (`providers.groq_models`), or any with `allow_unknown`."""
    known = current_model(model_id)
    if known is None:
        if allow_unknown:
            return
        raise InvalidInput(
            f"{model_id} is not a Groq model this release knows; check the name, or pass"
            " --allow-unknown-model if Groq added it since"
        )
    if known.kind is not Kind.CHAT:
        raise InvalidInput(f"{model_id} is a {known.kind.value.replace('_', '-')} model, not a chat model")


def catalogued_vision_model(model_id: str) -> None:
    """A model of the catalogue that sees images ('default' aside): the handler sends an image to
    no other."""
    if model_id == "default" or can_see_images(model_id):
        return
    known = current_model(model_id)
    if known is None:
        raise InvalidInput(
            f"{model_id} is not a vision model this release knows; images go only to one it knows"
        )
    raise InvalidInput(f"{model_id} cannot see images; use qwen/qwen3.8-27b or default")


def catalogued_transcription_model(model_id: str, *, allow_unknown: bool) -> None:
    """A speech-to-text model of the catalogue ('default' aside), or any with `allow_unknown`."""
    if model_id == "default":
        return
    known = current_model(model_id)
    if known is None:
        if allow_unknown:
            return
        raise InvalidInput(
            f"{model_id} is not a Groq model this release knows; check the name, or pass"
            " --allow-unknown-model if Groq added it since"
        )
    if known.kind is not Kind.SPEECH_TO_TEXT:
        raise InvalidInput(
            f"{model_id} is a {known.kind.value.replace('_', '-')} model, not a speech-to-text model"
        )


def graph_api_version(value: str) -> str:
    """`vNN.0` that Meta serves today, or `default` (stored as no override)."""
    cleaned = value.strip()
    if cleaned == "default":
        return cleaned
    if not is_version_name(cleaned):
        raise ArgumentTypeError(f"a Graph API version looks like v25.0, got {value!r}")
    if not served_on(cleaned, datetime.now(UTC).date()):
        raise ArgumentTypeError(f"Meta does not serve Graph API version {cleaned} (expired or unknown)")
    return cleaned


def customer_number(value: str) -> str:
    """A WhatsApp number as Meta writes it: digits with the country code (`+`, spaces, dashes dropped)."""
    cleaned = value.strip().translate(_CUSTOMER_NUMBER_PUNCTUATION).removeprefix("+")
    if not _CUSTOMER_NUMBER.fullmatch(cleaned):
        raise ArgumentTypeError(
            f"a customer number is 7 to 15 digits with the country code (e.g. 33612345678), got {value!r}"
        )
    return cleaned


def wait_seconds(value: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise ArgumentTypeError(f"must be a whole number of seconds, got {value!r}") from None
    if not 0 <= number <= _MAX_WAIT_SECONDS:
        raise ArgumentTypeError(f"must be from 0 to {_MAX_WAIT_SECONDS} seconds, got {number}")
    return number


def forwarder_url(value: str) -> str:
    """An http(s) URL of the forwarder's webhook; a bare host or `/` gets `/webhook` added.

    Credentials in the URL are refused without echoing it: the URL is printed in the report."""
    cleaned = value.strip()
    shown = repr(value) if "@" not in value else "(not shown: it holds an @)"
    try:
        parts = urlsplit(cleaned)
        has_credentials = parts.username is not None or parts.password is not None
        _ = parts.port  # a port that is not a number, or out of range, raises here
    except ValueError:
        raise ArgumentTypeError(f"not a URL: {shown}") from None
    if has_credentials:
        raise ArgumentTypeError("the forwarder URL must not carry credentials")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ArgumentTypeError(f"expects an http:// or https:// URL, got {shown}")
    if any(char.isspace() for char in cleaned) or parts.fragment:
        raise ArgumentTypeError(f"not a URL: {shown}")
    path = parts.path if parts.path not in ("", "/") else "/webhook"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


# --- a human in the conversation (pause, resume, conversations, set-handover) -------------------

# A number and its unit, short or spelled out (`30m`, `30min`, `2 hours`, `1d`).
_DURATION_PART = re.compile(r"([0-9]{1,6})(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w)")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_PAUSE_SECONDS = 366 * 86400
MAX_HUMAN_PAUSE_SECONDS = 30 * 86400  # tenant_handover_settings' check (migrations/011)
# A business-scoped user id: a country code, a dot, an optional ENT. (a parent BSUID), up to 128
# letters and digits (Meta's format; pywa's is stricter).
_BSUID = re.compile(r"[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}")
_MAX_WORDS = 20
_MAX_WORD_LENGTH = 40


def _duration_seconds(value: str) -> int | None:
    """`90s`, `30m`, `12h`, `2d`, `1w`, or several together (`1h30m`); None when it is not one."""
    text = value.strip().lower().replace(" ", "")
    position, total = 0, 0
    for part in _DURATION_PART.finditer(text):
        if part.start() != position:
            return None
        total += int(part.group(1)) * _DURATION_UNITS[part.group(2)[0]]
        position = part.end()
    return total if text and position == len(text) else None


def pause_duration(value: str) -> int:
    """How long `pause --for` lasts: from one second to a year."""
    seconds = _duration_seconds(value)
    if seconds is None:
        raise ArgumentTypeError(f"a duration looks like 30m, 12h, 2d or 1h30m, got {value!r}")
    if not 1 <= seconds <= MAX_PAUSE_SECONDS:
        raise ArgumentTypeError(f"a pause lasts from 1s to 366d, got {value.strip()}")
    return seconds


def human_pause(value: str) -> int:
    """How long the assistant keeps out after the business wrote by hand: 0 (never) to 30 days."""
    seconds = 0 if value.strip() == "0" else _duration_seconds(value)
    if seconds is None:
        raise ArgumentTypeError(f"a duration looks like 30m, 12h or 2d (0: no pause), got {value!r}")
    if not 0 <= seconds <= MAX_HUMAN_PAUSE_SECONDS:
        raise ArgumentTypeError(f"the pause after a human message is from 0 to 30d, got {value.strip()}")
    return seconds


def customer(value: str) -> str:
    """A customer as the conversation knows them: a phone number (digits with the country code;
    `+`, spaces, dashes dropped) or a business-scoped user id (`US.1349…`)."""
    cleaned = value.strip()
    if _BSUID.fullmatch(cleaned):
        return cleaned
    try:
        return customer_number(cleaned)
    except ArgumentTypeError:
        raise ArgumentTypeError(
            "a customer is a phone number with the country code (e.g. 33612345678) or a"
            f" business-scoped user id (e.g. US.13491208655302741918), got {value!r}"
        ) from None


def languages(value: str) -> tuple[str, ...]:
    """Comma-separated two-letter codes among those with default words (`fr,en,es`), first the
    one whose confirmation a tenant's own words get."""
    codes = tuple(dict.fromkeys(code.strip().lower() for code in value.split(",") if code.strip()))
    unknown = [code for code in codes if code not in KNOWN_LANGUAGES]
    if not codes or unknown or len(codes) > len(KNOWN_LANGUAGES):
        raise ArgumentTypeError(
            f"languages are comma-separated codes among {','.join(KNOWN_LANGUAGES)}, got {value!r}"
        )
    return codes


def word_list(value: str) -> tuple[str, ...]:
    """Comma-separated words (`STOP,FIN`), or `default` (`()`: back to the languages' defaults)."""
    if value.strip().lower() == "default":
        return ()
    words = tuple(word.strip() for word in value.split(",") if word.strip())
    if not words:
        raise ArgumentTypeError("give at least one word, comma-separated, or 'default'")
    if len(words) > _MAX_WORDS or any(len(word) > _MAX_WORD_LENGTH for word in words):
        raise ArgumentTypeError(f"at most {_MAX_WORDS} words of at most {_MAX_WORD_LENGTH} characters")
    return words


def text_or_default(value: str) -> str:
    """A text, or `default` (`""`: back to the default text)."""
    return "" if value.strip().lower() == "default" else text(value)
