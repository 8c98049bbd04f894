"""Long replies become several WhatsApp messages, cut where a reader would expect."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from handler.conversation.reply_split import WHATSAPP_TEXT_LIMIT, split_reply


def test_short_reply_is_one_message() -> None:
    assert split_reply("  Bonjour !  ") == ["Bonjour !"]


def test_empty_reply_is_no_message() -> None:
    assert split_reply("   ") == []


def test_splits_at_paragraphs_first() -> None:
    first, second = "A" * 3000, "B" * 3000
    assert split_reply(f"{first}\n\n{second}") == [first, second]


def test_packs_paragraphs_that_fit_together() -> None:
    paragraphs = ["x" * 1000 for _ in range(5)]
    parts = split_reply("\n\n".join(paragraphs))
    assert parts == ["\n\n".join(paragraphs[:4]), paragraphs[4]]


def test_long_paragraph_splits_at_sentences() -> None:
    sentence = "Ceci est une phrase assez longue pour remplir le message. "
    text = (sentence * 120).strip()  # about 7,000 characters
    parts = split_reply(text)
    assert len(parts) == 2
    assert all(len(part) <= WHATSAPP_TEXT_LIMIT for part in parts)
    assert all(part.endswith(".") for part in parts)


def test_a_single_huge_word_is_cut_hard() -> None:
    parts = split_reply("z" * 9000)
    assert [len(part) for part in parts] == [4096, 4096, 808]


@given(st.text(alphabet=st.sampled_from("ab .!?\n"), max_size=300), st.integers(min_value=5, max_value=60))
def test_parts_respect_the_limit_and_keep_every_word(text: str, limit: int) -> None:
    parts = split_reply(text, limit)
    assert all(0 < len(part) <= limit for part in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())
