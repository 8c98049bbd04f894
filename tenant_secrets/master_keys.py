"""Master keys that wrap the data keys of tenant secrets: an AWS KMS key, or local keys from configuration.

A `Keyring` holds the key that wraps new data keys (`current`) and any number of older keys that
only unwrap (during and after a rotation). Configuration:

- `KMS_KEY_ID`: a KMS key (id, ARN or alias); it wraps new data keys. KMS data keys of any KMS key
  unwrap through KMS (the wrapped blob names its key), as far as IAM allows.
- `LOCAL_MASTER_KEY`: base64 32-byte keys, comma-separated, or `LOCAL_MASTER_KEY_FILE`: a file with
  one per line. The first wraps new data keys (unless `KMS_KEY_ID` is set); every one unwraps.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.errors import AssistantError, ConfigurationError, PermanentError, TransientError

if TYPE_CHECKING:
    from types_boto3_kms import KMSClient

DATA_KEY_BYTES = 32  # AES-256
_NONCE_BYTES = 12
_LOCAL_WRAP_CONTEXT = b"whatsapp-assistant data key v1"
KMS_REF_PREFIX = "kms-"
LOCAL_REF_PREFIX = "local-"
KEY_VARIABLES = "KMS_KEY_ID, LOCAL_MASTER_KEY or LOCAL_MASTER_KEY_FILE"
# The key file `make run` creates in the data folder when no master key is configured.
LOCAL_KEY_FILE_NAME = "local-master-key"


class MasterKeyError(AssistantError):
    """A data key could not be made or unwrapped. Messages never contain key material."""


class MasterKeyNotConfigured(MasterKeyError, ConfigurationError):
    """No master key is configured for what was asked; the message names the variables."""


class MasterKeyUnavailable(MasterKeyError, TransientError):
    """KMS could not be reached or throttled us: worth another try later."""


class DataKeyRejected(MasterKeyError, PermanentError):
    """The master key refused to unwrap this data key (wrong key, tampered blob, no permission)."""


@dataclass(frozen=True, slots=True)
class DataKey:
    plaintext: bytes = field(repr=False)
    wrapped: bytes


class MasterKey(Protocol):
    """One master key: makes fresh data keys and unwraps the ones it made."""

    @property
    def ref(self) -> str:
        """A short name for the key, stored with each ciphertext (no `:`, no key material)."""
        ...

    def new_data_key(self) -> DataKey: ...

    def unwrap(self, wrapped: bytes) -> bytes: ...


class LocalMasterKey:
    """A 32-byte key from configuration; data keys are wrapped with AES-256-GCM."""

    def __init__(self, key: bytes) -> None:
        if len(key) != DATA_KEY_BYTES:
            raise ConfigurationError("a local master key must be 32 bytes (base64 of 32 random bytes)")
        self._aead = AESGCM(key)
        self._ref = LOCAL_REF_PREFIX + hashlib.sha256(b"local master key ref|" + key).hexdigest()[:16]

    @property
    def ref(self) -> str:
        return self._ref

    def __repr__(self) -> str:
        return f"LocalMasterKey({self._ref})"

    def new_data_key(self) -> DataKey:
        plaintext = AESGCM.generate_key(bit_length=DATA_KEY_BYTES * 8)
        nonce = os.urandom(_NONCE_BYTES)
        return DataKey(
            plaintext=plaintext, wrapped=nonce + self._aead.encrypt(nonce, plaintext, _LOCAL_WRAP_CONTEXT)
        )

    def unwrap(self, wrapped: bytes) -> bytes:
        try:
            return self._aead.decrypt(wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], _LOCAL_WRAP_CONTEXT)
        except InvalidTag:
            raise DataKeyRejected("the local master key does not unwrap this data key") from None


# KMS error codes that will not pass with time; anything else (throttling, 5xx, network) may.
_KMS_PERMANENT_ERRORS = frozenset(
    {
        "InvalidCiphertextException",
        "IncorrectKeyException",
        "NotFoundException",
        "AccessDeniedException",
        "DisabledException",
        "KMSInvalidStateException",
        "InvalidKeyUsageException",
        "ValidationException",
    }
)


@cache
def _kms_client() -> KMSClient:
    # Created on first use and kept for the container; AWS_ENDPOINT_URL_KMS points it at a local
    # server in tests. boto3 is imported only here: most code paths never need it.
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})
    return boto3.client("kms", config=config)


class KmsMasterKey:
    """An AWS KMS key: `GenerateDataKey` makes data keys, `Decrypt` unwraps them."""

    def __init__(self, key_id: str, client: Callable[[], Any] = _kms_client) -> None:
        self.key_id = key_id
        self._client = client
        self._ref = KMS_REF_PREFIX + hashlib.sha256(key_id.encode()).hexdigest()[:16]

    @property
    def ref(self) -> str:
        return self._ref

    def __repr__(self) -> str:
        return f"KmsMasterKey({self.key_id})"

    def new_data_key(self) -> DataKey:
        response = self._call("GenerateDataKey", KeyId=self.key_id, KeySpec="AES_256")
        return DataKey(plaintext=response["Plaintext"], wrapped=response["CiphertextBlob"])

    def unwrap(self, wrapped: bytes) -> bytes:
        # No KeyId: the blob names the key that wrapped it, so data keys of an earlier KMS key
        # (before a rotation) still unwrap while IAM allows kms:Decrypt on it.
        plaintext: bytes = self._call("Decrypt", CiphertextBlob=wrapped)["Plaintext"]
        return plaintext

    def _call(self, operation: str, **arguments: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self._client()
        method = client.generate_data_key if operation == "GenerateDataKey" else client.decrypt
        try:
            return method(**arguments)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _KMS_PERMANENT_ERRORS:
                raise DataKeyRejected(f"KMS {operation} refused: {code}") from None
            raise MasterKeyUnavailable(f"KMS {operation} failed: {code or 'unknown error'}") from None
        except BotoCoreError as error:
            raise MasterKeyUnavailable(f"KMS {operation} failed: {type(error).__name__}") from None


@dataclass(frozen=True, slots=True)
class Keyring:
    """The master key for new secrets, and every key that may unwrap stored ones."""

    current: MasterKey | None = None
    decrypt_only: tuple[MasterKey, ...] = ()

    def require_current(self) -> MasterKey:
        if self.current is None:
            raise MasterKeyNotConfigured(f"no master key to encrypt tenant secrets: set {KEY_VARIABLES}")
        return self.current

    def for_ref(self, ref: str) -> MasterKey:
        keys = ((self.current,) if self.current is not None else ()) + self.decrypt_only
        for key in keys:
            if key.ref == ref:
                return key
        if ref.startswith(KMS_REF_PREFIX):
            kms = next((key for key in keys if key.ref.startswith(KMS_REF_PREFIX)), None)
            if kms is not None:
                return kms
            raise MasterKeyNotConfigured(f"a secret is encrypted with a KMS key: set KMS_KEY_ID (key {ref})")
        raise MasterKeyNotConfigured(
            f"no configured master key has ref {ref}: add it to LOCAL_MASTER_KEY or LOCAL_MASTER_KEY_FILE"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Keyring:
        env = os.environ if env is None else env
        inline = env.get("LOCAL_MASTER_KEY", "").strip()
        path = env.get("LOCAL_MASTER_KEY_FILE", "").strip()
        if inline and path:
            raise ConfigurationError("set LOCAL_MASTER_KEY or LOCAL_MASTER_KEY_FILE, not both")
        local = _read_key_file(path) if path else inline.replace(",", "\n")
        return _keyring(
            env.get("KMS_KEY_ID", "").strip(), local, "LOCAL_MASTER_KEY_FILE" if path else "LOCAL_MASTER_KEY"
        )


@cache
def _keyring(kms_key_id: str, local_keys: str, variable: str) -> Keyring:
    """One keyring per configuration, so warm code paths reuse it (and its KMS client)."""
    local = [LocalMasterKey(_decode_key(line, variable)) for line in local_keys.split() if line]
    kms = [KmsMasterKey(kms_key_id)] if kms_key_id else []
    keys: list[MasterKey] = [*kms, *local]
    if not keys:
        return Keyring()
    return Keyring(current=keys[0], decrypt_only=tuple(keys[1:]))


def _read_key_file(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(
            f"LOCAL_MASTER_KEY_FILE {path} cannot be read: {error.strerror or error}"
        ) from None


def _decode_key(text: str, variable: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(f"{variable} must hold base64 keys of 32 bytes") from None
    if len(key) != DATA_KEY_BYTES:
        raise ConfigurationError(f"{variable} must hold base64 keys of 32 bytes, got {len(key)} bytes")
    return key


def configures_master_key(env: Mapping[str, str]) -> bool:
    """Does the environment name a master key (KMS or local)?"""
    return any(
        env.get(name, "").strip() for name in ("KMS_KEY_ID", "LOCAL_MASTER_KEY", "LOCAL_MASTER_KEY_FILE")
    )


def new_local_master_key() -> str:
    """A fresh local master key, base64 (what `LOCAL_MASTER_KEY` and the key file hold)."""
    return base64.b64encode(secrets.token_bytes(DATA_KEY_BYTES)).decode()


def ensure_local_master_key(path: Path) -> str:
    """The key file at `path`, created (mode 0600) with a fresh key when absent; returns its path.

    Point `LOCAL_MASTER_KEY_FILE` at the result. To rotate, put a new key on the file's first line,
    keep the old one below it, run `wa-admin rotate`, then remove the old line.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{secrets.token_hex(8)}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(new_local_master_key() + "\n")
        try:
            os.link(temporary, path)  # never replaces a key another process wrote meanwhile
        except FileExistsError:
            pass
        finally:
            temporary.unlink(missing_ok=True)
    for line in _read_key_file(str(path)).split():  # refuse a file we could not use, now rather than later
        _decode_key(line, "LOCAL_MASTER_KEY_FILE")
    return str(path)
