"""HMAC-SHA256 payload signatures: Meta's `X-Hub-Signature-256`, and the forwarder-to-handler header."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from shared.errors import AssistantError, ConfigurationError, Unauthorized

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


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of a signature check, and which secret produced the signature (by key id only)."""

    check: SignatureCheck
    key_id: str | None = None  # set when `check` is VALID

    @property
    def valid(self) -> bool:
        return self.check is SignatureCheck.VALID


def secret_key_id(secret: str) -> str:
    """A stable name for an app secret that does not reveal it: a truncated SHA-256 of the secret.

    The forwarder tells the handler which of `META_APP_SECRET` verified a payload by this id, so the
    handler can hold a part of a split payload to the same per-tenant rule as the whole."""
    return "ks1-" + hashlib.sha256(b"whatsapp-assistant app secret id v1|" + secret.encode()).hexdigest()[:24]


def verify_signature(body: bytes, header: str | None, secrets: Sequence[str]) -> Verification:
    """Compare `header` with the signature of `body` under each secret, in constant time."""
    if not secrets:
        return Verification(SignatureCheck.NO_SECRET)
    if header is None or not header.strip():
        return Verification(SignatureCheck.MISSING)
    value = header.strip()
    digest = value[len(_PREFIX) :].lower()
    # Not bytes.fromhex: it skips whitespace, so "ab cd …" would pass as well formed.
    if not value.lower().startswith(_PREFIX) or len(digest) != _HEX_LENGTH or not _HEX.issuperset(digest):
        return Verification(SignatureCheck.MALFORMED)
    # Check every secret even after a match, so timing does not tell which app signed.
    matched: str | None = None
    for secret in secrets:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, digest) and matched is None:
            matched = secret
    if matched is None:
        return Verification(SignatureCheck.MISMATCH)
    return Verification(SignatureCheck.VALID, secret_key_id(matched))


def check_signature(body: bytes, header: str | None, secrets: Sequence[str]) -> SignatureCheck:
    """`verify_signature` when only the verdict matters."""
    return verify_signature(body, header, secrets).check


def signature_refusal(check: SignatureCheck, secret_variable: str) -> AssistantError | None:
    """The one rule for a signed request, whoever receives it (forwarder or handler): None when
    the signature is valid; a `ConfigurationError` (503: the sender retries once we are fixed) when
    `secret_variable` configures nothing to check against; `Unauthorized` (401) otherwise."""
    if check is SignatureCheck.VALID:
        return None
    if check is SignatureCheck.NO_SECRET:
        return ConfigurationError(f"cannot verify signatures: {secret_variable} is not set")
    return Unauthorized(f"invalid signature ({check.value})")


def handshake_challenge(params: Mapping[str, str], verify_token: str) -> str | None:
    """Meta's subscription handshake (`GET /webhook`): the `hub.challenge` to echo back when the
    mode is `subscribe` and the token is ours (compared in constant time); None: refuse it (403)."""
    token = params.get("hub.verify_token", "")
    if (
        params.get("hub.mode") == "subscribe"
        and verify_token
        and hmac.compare_digest(token.encode(), verify_token.encode())
    ):
        return params.get("hub.challenge", "")
    return None
