"""Meta's `X-Hub-Signature-256` check: every way a header can be right or wrong."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.signature import SignatureCheck, check_signature, sign

BODY = b'{"object":"whatsapp_business_account","entry":[]}'
SECRET = "app-secret"


def test_sign_is_metas_hmac_sha256_hex() -> None:
    expected = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY) == "sha256=" + expected


def test_valid_signature() -> None:
    assert check_signature(BODY, sign(SECRET, BODY), [SECRET]) is SignatureCheck.VALID


def test_uppercase_hex_prefix_and_surrounding_spaces_are_accepted() -> None:
    header = sign(SECRET, BODY)
    assert check_signature(BODY, "  SHA256=" + header[7:].upper() + " ", [SECRET]) is SignatureCheck.VALID


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing(header: str | None) -> None:
    assert check_signature(BODY, header, [SECRET]) is SignatureCheck.MISSING


def test_no_secret_configured_is_its_own_answer() -> None:
    assert check_signature(BODY, sign(SECRET, BODY), []) is SignatureCheck.NO_SECRET
    assert check_signature(BODY, None, []) is SignatureCheck.NO_SECRET


@pytest.mark.parametrize(
    "header",
    [
        "sha1=" + "0" * 40,  # the old X-Hub-Signature
        "0" * 64,  # no prefix
        "sha256=" + "g" * 64,  # not hex
        "sha256=" + "0" * 63,  # truncated
        "sha256=" + "0" * 65,  # too long
        "sha256=" + "ab " * 21 + "a",  # 64 characters, but spaced out
        "sha256=" + "é" * 64,
        "sha256=",
    ],
)
def test_malformed(header: str) -> None:
    assert check_signature(BODY, header, [SECRET]) is SignatureCheck.MALFORMED


def test_truncated_real_signature_is_malformed() -> None:
    assert check_signature(BODY, sign(SECRET, BODY)[:-1], [SECRET]) is SignatureCheck.MALFORMED


def test_wrong_secret_or_altered_body_is_a_mismatch() -> None:
    assert check_signature(BODY, sign("other-secret", BODY), [SECRET]) is SignatureCheck.MISMATCH
    assert check_signature(BODY + b" ", sign(SECRET, BODY), [SECRET]) is SignatureCheck.MISMATCH


def test_any_of_several_secrets_matches() -> None:
    secrets = ["tenant-a", "tenant-b", "tenant-c"]
    for secret in secrets:
        assert check_signature(BODY, sign(secret, BODY), secrets) is SignatureCheck.VALID
    assert check_signature(BODY, sign("tenant-d", BODY), secrets) is SignatureCheck.MISMATCH


@given(body=st.binary(max_size=256), secret=st.text(max_size=40), header=st.text(max_size=80))
def test_never_raises_and_only_the_true_signature_is_valid(body: bytes, secret: str, header: str) -> None:
    assert check_signature(body, sign(secret, body), [secret]) is SignatureCheck.VALID
    result = check_signature(body, header, [secret])
    assert isinstance(result, SignatureCheck)
    if result is SignatureCheck.VALID:
        assert header.strip().lower() == sign(secret, body)
