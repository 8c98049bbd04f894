"""The handover commands' argument types, pure: durations, customers, languages, word lists."""

from __future__ import annotations

from argparse import ArgumentTypeError

import pytest

from admin import validate


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("30min", 1800),
        ("12h", 43200),
        ("2 hours", 7200),
        ("1h30m", 5400),
        ("1H 30M", 5400),
        ("2d", 172800),
        ("1w", 604800),
        ("366d", 366 * 86400),
    ],
)
def test_pause_durations(text: str, seconds: int) -> None:
    assert validate.pause_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "12", "0", "-1h", "1.5h", "2mo", "h", "30m10", "0s", "367d"])
def test_what_is_not_a_pause_duration(text: str) -> None:
    with pytest.raises(ArgumentTypeError):
        validate.pause_duration(text)


def test_the_window_after_a_human_reply_may_be_zero_but_not_beyond_30_days() -> None:
    assert validate.human_pause("0") == 0
    assert validate.human_pause("30d") == 30 * 86400
    with pytest.raises(ArgumentTypeError, match="from 0 to 30d"):
        validate.human_pause("31d")


@pytest.mark.parametrize(
    ("text", "customer"),
    [
        ("+33 6 12 34 56 78", "33612345678"),
        ("33612345678", "33612345678"),
        ("US.13491208655302741918", "US.13491208655302741918"),
        ("US.ENT.11815799212886844830", "US.ENT.11815799212886844830"),
    ],
)
def test_customers_are_numbers_or_bsuids(text: str, customer: str) -> None:
    assert validate.customer(text) == customer


@pytest.mark.parametrize("text", ["12ab", "us.1349", "US.", "123"])
def test_what_is_not_a_customer(text: str) -> None:
    with pytest.raises(ArgumentTypeError, match="a customer is a phone number"):
        validate.customer(text)


def test_languages_and_words() -> None:
    assert validate.languages("ES, fr,es") == ("es", "fr")
    assert validate.word_list("FIN, BASTA") == ("FIN", "BASTA")
    assert validate.word_list("default") == ()
    with pytest.raises(ArgumentTypeError):
        validate.languages("fr,xx")
