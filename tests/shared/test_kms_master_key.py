"""The KMS master key through boto3 against moto's KMS server: data keys, unwrapping, errors."""

from __future__ import annotations

import uuid

import boto3
import pytest

from tenant_secrets.master_keys import (
    DataKeyRejected,
    Keyring,
    KmsMasterKey,
    MasterKeyUnavailable,
    new_local_master_key,
)
from tenant_secrets.secrets_crypto import (
    SecretColumn,
    SecretUnreadable,
    decrypt_secret,
    encrypt_secret,
    key_ref_of,
)
from tests.conftest import KMS_REGION

TENANT = uuid.uuid4()
KEY = "gsk_groq_key_0123456789abcdef"


def test_secrets_encrypt_under_the_kms_key_and_decrypt_through_kms(kms_key_id: str) -> None:
    keyring = Keyring.from_env({"KMS_KEY_ID": kms_key_id})

    stored = encrypt_secret(keyring, KEY, column=SecretColumn.GROQ_API_KEY, tenant_id=TENANT)

    assert stored.startswith("enc:v1:kms-") and KEY not in stored
    assert decrypt_secret(keyring, stored, column=SecretColumn.GROQ_API_KEY, tenant_id=TENANT) == KEY


def test_data_keys_of_an_earlier_kms_key_still_unwrap_after_switching_keys(
    kms_key_id: str, moto_kms_url: str
) -> None:
    before = encrypt_secret(
        Keyring.from_env({"KMS_KEY_ID": kms_key_id}), KEY, column=SecretColumn.GROQ_API_KEY, tenant_id=TENANT
    )
    kms = boto3.client("kms", region_name=KMS_REGION, endpoint_url=moto_kms_url)
    new_key = kms.create_key()["KeyMetadata"]["KeyId"]
    keyring = Keyring.from_env({"KMS_KEY_ID": new_key})

    after = encrypt_secret(keyring, KEY, column=SecretColumn.GROQ_API_KEY, tenant_id=TENANT)

    assert key_ref_of(after) != key_ref_of(before)
    assert decrypt_secret(keyring, before, column=SecretColumn.GROQ_API_KEY, tenant_id=TENANT) == KEY


def test_kms_encrypts_and_local_keys_decrypt_when_moving_to_kms(kms_key_id: str) -> None:
    local = new_local_master_key()
    before = encrypt_secret(
        Keyring.from_env({"LOCAL_MASTER_KEY": local}), KEY, column=SecretColumn.ACCESS_TOKEN, tenant_id=TENANT
    )
    keyring = Keyring.from_env({"KMS_KEY_ID": kms_key_id, "LOCAL_MASTER_KEY": local})

    assert isinstance(keyring.current, KmsMasterKey)
    assert decrypt_secret(keyring, before, column=SecretColumn.ACCESS_TOKEN, tenant_id=TENANT) == KEY


def test_a_blob_kms_rejects_is_unreadable_not_retryable(kms_key_id: str) -> None:
    keyring = Keyring.from_env({"KMS_KEY_ID": kms_key_id})
    stored = encrypt_secret(keyring, KEY, column=SecretColumn.GROQ_API_KEY, tenant_id=TENANT)
    ref, _, sealed = stored.removeprefix("enc:v1:").split(":")
    forged = f"enc:v1:{ref}:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:{sealed}"
    with pytest.raises(SecretUnreadable):
        decrypt_secret(keyring, forged, column=SecretColumn.GROQ_API_KEY, tenant_id=TENANT)
    with pytest.raises(DataKeyRejected):
        KmsMasterKey(kms_key_id).unwrap(b"garbage")


def test_an_unreachable_kms_is_reported_as_unavailable(
    kms_key_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tenant_secrets import master_keys

    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:9")  # nothing listens on port 9
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    master_keys._kms_client.cache_clear()
    with pytest.raises(MasterKeyUnavailable, match="GenerateDataKey"):
        KmsMasterKey(kms_key_id).new_data_key()
