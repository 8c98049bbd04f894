"""Tenant secrets at rest: envelope encryption with AES-256-GCM, stored as one self-describing text.

    enc:v1:<key-ref>:<base64 wrapped data key>:<base64 nonce + ciphertext>

Each secret gets a fresh data key, wrapped by the keyring's current master key. The column and the
tenant are the AES-GCM associated data, so a ciphertext copied to another tenant or another column
does not decrypt. The value stays in the seed's own column, so `IS NOT NULL` checks keep working.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.errors import PermanentError
from tenant_secrets.master_keys import DataKeyRejected, Keyring

PREFIX = "enc:v1:"
_NONCE_BYTES = 12


class SecretColumn(StrEnum):
    """Every column that holds a tenant secret."""

    ACCESS_TOKEN = "user_whatsapp_config.access_token"
    APP_SECRET = "user_whatsapp_config.app_secret"
    GROQ_API_KEY = "user_groq_config.api_key"

    @property
    def table(self) -> str:
        return self.value.split(".")[0]

    @property
    def column(self) -> str:
        return self.value.split(".")[1]


class SecretUnreadable(PermanentError):
    """A stored secret that cannot be decrypted: malformed, tampered, moved, or its key refused it."""


@dataclass(frozen=True, slots=True)
class StoredSecret:
    """The parts of an encrypted value."""

    key_ref: str
    wrapped_key: bytes
    sealed: bytes  # nonce + ciphertext + tag


def is_encrypted(stored: str) -> bool:
    return stored.startswith(PREFIX)


def parse_stored(stored: str) -> StoredSecret:
    if not is_encrypted(stored):
        raise SecretUnreadable("not an encrypted value")
    parts = stored[len(PREFIX) :].split(":")
    if len(parts) != 3 or not parts[0]:
        raise SecretUnreadable("an encrypted value has three parts after enc:v1:")
    try:
        wrapped = base64.b64decode(parts[1], validate=True)
        sealed = base64.b64decode(parts[2], validate=True)
    except (binascii.Error, ValueError):
        raise SecretUnreadable("an encrypted value's parts are not base64") from None
    if len(sealed) <= _NONCE_BYTES:
        raise SecretUnreadable("an encrypted value is too short")
    return StoredSecret(key_ref=parts[0], wrapped_key=wrapped, sealed=sealed)


def associated_data(column: SecretColumn, tenant_id: UUID | None) -> bytes:
    return f"whatsapp-assistant secret v1|{column.value}|{tenant_id or '-'}".encode()


def encrypt_secret(keyring: Keyring, plaintext: str, *, column: SecretColumn, tenant_id: UUID | None) -> str:
    """Seal `plaintext` under a fresh data key wrapped by the keyring's current master key."""
    master = keyring.require_current()
    data_key = master.new_data_key()
    nonce = os.urandom(_NONCE_BYTES)
    sealed = nonce + AESGCM(data_key.plaintext).encrypt(
        nonce, plaintext.encode(), associated_data(column, tenant_id)
    )
    return ":".join((PREFIX + master.ref, _b64(data_key.wrapped), _b64(sealed)))


def decrypt_secret(keyring: Keyring, stored: str, *, column: SecretColumn, tenant_id: UUID | None) -> str:
    """The plaintext of an encrypted value; `SecretUnreadable` or a `MasterKeyError` when it cannot be read."""
    parts = parse_stored(stored)
    master = keyring.for_ref(parts.key_ref)
    try:
        data_key = master.unwrap(parts.wrapped_key)
    except DataKeyRejected as rejected:
        raise SecretUnreadable(str(rejected)) from None
    nonce, ciphertext = parts.sealed[:_NONCE_BYTES], parts.sealed[_NONCE_BYTES:]
    try:
        plaintext = AESGCM(data_key).decrypt(nonce, ciphertext, associated_data(column, tenant_id))
    except (InvalidTag, ValueError):
        raise SecretUnreadable(
            f"the {column.value} value does not belong to this tenant and column"
        ) from None
    return plaintext.decode()


def key_ref_of(stored: str) -> str | None:
    """The master key an encrypted value names; None for a plain-text value."""
    if not is_encrypted(stored):
        return None
    return stored[len(PREFIX) :].split(":", 1)[0]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
