"""HMAC-SHA256 payload signatures: Meta's `X-Hub-Signature-256`, and the forwarder-to-handler header."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from enum import StrEnum

META_SIGNATURE_HEADER = "x-hub-signature-256"
FORWARDER_SIGNATURE_HEADER = "x-forwarder-signature-256"
_PREFIX = "sha256="
_HEX_LENGTH = 64
_HEX = frozenset("0123456789abcdef")


class SignatureCheck(StrEnum):
    VALID = "valid"
    MISSING = "missing"  # no header at all
    MALFORMED = "malformed"  # not `sha256=` followed by 64 hex digits
    MISMATCH = "mismatch"  # well formed, but no configured secret produced it
    NO_SECRET = "no_secret"  # nothing configured to check against


def sign(secret: str, body: bytes) -> str:
    """The header value Meta would send for `body` signed with the app secret `secret`."""
    return _PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_signature(body: bytes, header: str | None, secrets: Sequence[str]) -> SignatureCheck:
    """Compare `header` with the signature of `body` under each secret, in constant time."""
    if not secrets:
        return SignatureCheck.NO_SECRET
    if header is None or not header.strip():
        return SignatureCheck.MISSING
    value = header.strip()
    digest = value[len(_PREFIX) :].lower()
    # Not bytes.fromhex: it skips whitespace, so "ab cd …" would pass as well formed.
    if not value.lower().startswith(_PREFIX) or len(digest) != _HEX_LENGTH or not _HEX.issuperset(digest):
        return SignatureCheck.MALFORMED
    # Check every secret even after a match, so timing does not tell which app signed.
    matched = False
    for secret in secrets:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        matched |= hmac.compare_digest(expected, digest)
    return SignatureCheck.VALID if matched else SignatureCheck.MISMATCH
