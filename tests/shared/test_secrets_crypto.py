"""Envelope encryption of tenant secrets with local master keys: format, binding, rotation keyrings."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

import pytest

from shared.env import ConfigurationError
from tenant_secrets.master_keys import (
    Keyring,
    LocalMasterKey,
    MasterKeyNotConfigured,
    ensure_local_master_key,
    new_local_master_key,
)
from tenant_secrets.secrets_crypto import (
    SecretColumn,
    SecretUnreadable,
    decrypt_secret,
    encrypt_secret,
    is_encrypted,
    key_ref_of,
)

TENANT = uuid.UUID("00000000-0000-0000-0000-0000000000aa")
OTHER_TENANT = uuid.UUID("00000000-0000-0000-0000-0000000000bb")
TOKEN = "EAAG-secret-token-0123456789"


def local_keyring(*keys: str) -> Keyring:
    return Keyring.from_env({"LOCAL_MASTER_KEY": ",".join(keys)})


def test_a_secret_round_trips_and_is_not_visible_in_its_ciphertext() -> None:
    keyring = local_keyring(new_local_master_key())

    stored = encrypt_secret(keyring, TOKEN, column=SecretColumn.ACCESS_TOKEN, tenant_id=TENANT)

    assert is_encrypted(stored) and stored.startswith("enc:v1:local-")
    assert TOKEN not in stored and base64.b64encode(TOKEN.encode()).decode() not in stored
    assert decrypt_secret(keyring, stored, column=SecretColumn.ACCESS_TOKEN, tenant_id=TENANT) == TOKEN


def test_each_encryption_uses_a_fresh_data_key_and_nonce() -> None:
    keyring = local_keyring(new_local_master_key())
    first = encrypt_secret(keyring, TOKEN, column=SecretColumn.ACCESS_TOKEN, tenant_id=TENANT)
    second = encrypt_secret(keyring, TOKEN, column=SecretColumn.ACCESS_TOKEN, tenant_id=TENANT)
    assert first.split(":")[3] != second.split(":")[3]  # wrapped data keys differ
    assert first.split(":")[4] != second.split(":")[4]


@pytest.mark.parametrize(
    ("column", "tenant_id"),
    [
        (SecretColumn.ACCESS_TOKEN, OTHER_TENANT),
        (SecretColumn.GROQ_API_KEY, TENANT),
        (SecretColumn.APP_SECRET, None),
    ],
)
def test_a_ciphertext_moved_to_another_tenant_or_column_does_not_decrypt(
    column: SecretColumn, tenant_id: uuid.UUID | None
) -> None:
    keyring = local_keyring(new_local_master_key())
    stored = encrypt_secret(keyring, TOKEN, column=SecretColumn.ACCESS_TOKEN, tenant_id=TENANT)
    with pytest.raises(SecretUnreadable) as raised:
        decrypt_secret(keyring, stored, column=column, tenant_id=tenant_id)
    assert TOKEN not in str(raised.value)


def test_a_tampered_ciphertext_does_not_decrypt() -> None:
    keyring = local_keyring(new_local_master_key())
    stored = encrypt_secret(keyring, TOKEN, column=SecretColumn.ACCESS_TOKEN, tenant_id=TENANT)
    head, sealed = stored.rsplit(":", 1)
    raw = bytearray(base64.b64decode(sealed))
    raw[-1] ^= 1
    with pytest.raises(SecretUnreadable):
        decrypt_secret(
            keyring,
            head + ":" + base64.b64encode(bytes(raw)).decode(),
            column=SecretColumn.ACCESS_TOKEN,
            tenant_id=TENANT,
        )
    for malformed in ("enc:v1:", "enc:v1:local-x:!!:??", "enc:v1:local-x:AAAA:AAAA"):
        with pytest.raises((SecretUnreadable, MasterKeyNotConfigured)):
            decrypt_secret(keyring, malformed, column=SecretColumn.ACCESS_TOKEN, tenant_id=TENANT)


def test_old_keys_decrypt_but_only_the_first_encrypts() -> None:
    old, new = new_local_master_key(), new_local_master_key()
    before = encrypt_secret(local_keyring(old), TOKEN, column=SecretColumn.GROQ_API_KEY, tenant_id=TENANT)

    rotating = local_keyring(new, old)
    after = encrypt_secret(rotating, TOKEN, column=SecretColumn.GROQ_API_KEY, tenant_id=TENANT)

    assert key_ref_of(after) == LocalMasterKey(base64.b64decode(new)).ref != key_ref_of(before)
    for stored in (before, after):
        assert decrypt_secret(rotating, stored, column=SecretColumn.GROQ_API_KEY, tenant_id=TENANT) == TOKEN
    with pytest.raises(MasterKeyNotConfigured, match="LOCAL_MASTER_KEY"):
        decrypt_secret(local_keyring(new), before, column=SecretColumn.GROQ_API_KEY, tenant_id=TENANT)


def test_no_key_configured_names_the_variables() -> None:
    with pytest.raises(MasterKeyNotConfigured, match="KMS_KEY_ID, LOCAL_MASTER_KEY or LOCAL_MASTER_KEY_FILE"):
        encrypt_secret(Keyring.from_env({}), TOKEN, column=SecretColumn.ACCESS_TOKEN, tenant_id=TENANT)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LOCAL_MASTER_KEY": "not base64!"}, "LOCAL_MASTER_KEY must hold base64 keys"),
        ({"LOCAL_MASTER_KEY": base64.b64encode(b"short").decode()}, "got 5 bytes"),
        (
            {"LOCAL_MASTER_KEY_FILE": "/nonexistent/key"},
            "LOCAL_MASTER_KEY_FILE /nonexistent/key cannot be read",
        ),
        ({"LOCAL_MASTER_KEY": "a", "LOCAL_MASTER_KEY_FILE": "b"}, "not both"),
    ],
)
def test_unusable_key_configuration_names_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Keyring.from_env(env)


def test_ensure_local_master_key_creates_a_private_file_once(tmp_path: Path) -> None:
    path = tmp_path / "data" / "master.key"

    created = ensure_local_master_key(path)
    first = path.read_text()
    again = ensure_local_master_key(path)

    assert created == again == str(path) and path.read_text() == first
    assert path.stat().st_mode & 0o777 == 0o600
    keyring = Keyring.from_env({"LOCAL_MASTER_KEY_FILE": created})
    stored = encrypt_secret(keyring, TOKEN, column=SecretColumn.APP_SECRET, tenant_id=TENANT)
    same_key = Keyring.from_env({"LOCAL_MASTER_KEY": first.strip()})
    assert decrypt_secret(same_key, stored, column=SecretColumn.APP_SECRET, tenant_id=TENANT) == TOKEN


def test_a_key_file_with_a_new_first_line_rotates(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    old, new = new_local_master_key(), new_local_master_key()
    path.write_text(old + "\n")
    before = encrypt_secret(
        Keyring.from_env({"LOCAL_MASTER_KEY_FILE": str(path)}),
        TOKEN,
        column=SecretColumn.APP_SECRET,
        tenant_id=TENANT,
    )
    path.write_text(f"{new}\n{old}\n")
    keyring = Keyring.from_env({"LOCAL_MASTER_KEY_FILE": str(path)})
    assert keyring.current is not None and keyring.current.ref != key_ref_of(before)
    assert decrypt_secret(keyring, before, column=SecretColumn.APP_SECRET, tenant_id=TENANT) == TOKEN


def test_reprs_show_no_key_material() -> None:
    key = new_local_master_key()
    keyring = local_keyring(key)
    assert key not in repr(keyring)
    assert base64.b64decode(key).hex() not in repr(keyring)
