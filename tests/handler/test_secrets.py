"""The handler's secret opener: decryption at the row boundary, the per-container cache, failures."""

from __future__ import annotations

import logging
import uuid

import pytest

from handler.adapters.tenant_secrets import SecretOpener
from tenant_secrets.master_keys import DataKey, Keyring, LocalMasterKey, MasterKeyUnavailable
from tenant_secrets.secrets_crypto import SecretColumn, encrypt_secret

TENANT = uuid.uuid4()
OTHER = uuid.uuid4()
TOKEN = "EAA-handler-token-0123456789"


class CountingKey:
    """A local master key that counts unwraps (what would be KMS Decrypt calls)."""

    def __init__(self) -> None:
        self._key = LocalMasterKey(b"k" * 32)
        self.unwraps = 0
        self.unavailable = False

    @property
    def ref(self) -> str:
        return self._key.ref

    def new_data_key(self) -> DataKey:
        return self._key.new_data_key()

    def unwrap(self, wrapped: bytes) -> bytes:
        if self.unavailable:
            raise MasterKeyUnavailable("KMS Decrypt failed: ThrottlingException")
        self.unwraps += 1
        return self._key.unwrap(wrapped)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def key() -> CountingKey:
    return CountingKey()


def sealed(key: CountingKey, value: str, column: SecretColumn, tenant: uuid.UUID) -> str:
    return encrypt_secret(Keyring(current=key), value, column=column, tenant_id=tenant)


async def test_a_warm_container_decrypts_each_secret_once_per_cache_period(key: CountingKey) -> None:
    clock = Clock()
    opener = SecretOpener(Keyring(current=key), cache_seconds=300, clock=clock)
    stored = sealed(key, TOKEN, SecretColumn.ACCESS_TOKEN, TENANT)

    for _ in range(5):
        assert await opener.reveal(stored, SecretColumn.ACCESS_TOKEN, TENANT) == TOKEN
    assert key.unwraps == 1

    clock.now += 301
    assert await opener.reveal(stored, SecretColumn.ACCESS_TOKEN, TENANT) == TOKEN
    assert key.unwraps == 2


async def test_a_new_ciphertext_is_read_at_once(key: CountingKey) -> None:
    opener = SecretOpener(Keyring(current=key))
    await opener.reveal(
        sealed(key, TOKEN, SecretColumn.ACCESS_TOKEN, TENANT), SecretColumn.ACCESS_TOKEN, TENANT
    )
    rotated = sealed(key, "EAA-new-token", SecretColumn.ACCESS_TOKEN, TENANT)
    assert await opener.reveal(rotated, SecretColumn.ACCESS_TOKEN, TENANT) == "EAA-new-token"


async def test_a_ciphertext_copied_to_another_tenant_is_not_served_even_when_cached(
    key: CountingKey, caplog: pytest.LogCaptureFixture
) -> None:
    opener = SecretOpener(Keyring(current=key))
    stored = sealed(key, TOKEN, SecretColumn.ACCESS_TOKEN, TENANT)
    assert await opener.reveal(stored, SecretColumn.ACCESS_TOKEN, TENANT) == TOKEN

    with caplog.at_level(logging.ERROR, logger="handler"):
        assert await opener.reveal(stored, SecretColumn.ACCESS_TOKEN, OTHER) is None
        assert await opener.reveal(stored, SecretColumn.GROQ_API_KEY, TENANT) is None
    assert [r.getMessage() for r in caplog.records] == ["tenant secret cannot be decrypted"] * 2
    assert all(TOKEN not in str(vars(r)) for r in caplog.records)


async def test_all_three_secrets_open_together(key: CountingKey) -> None:
    opener = SecretOpener(Keyring(current=key))
    secrets = await opener.open(
        TENANT,
        access_token=sealed(key, TOKEN, SecretColumn.ACCESS_TOKEN, TENANT),
        app_secret=None,
        groq_api_key=sealed(key, "gsk_1", SecretColumn.GROQ_API_KEY, TENANT),
    )
    assert (secrets.access_token, secrets.app_secret, secrets.groq_api_key) == (TOKEN, None, "gsk_1")
    assert TOKEN not in repr(secrets)


async def test_an_unavailable_master_key_is_raised_for_a_retry(key: CountingKey) -> None:
    opener = SecretOpener(Keyring(current=key))
    stored = sealed(key, TOKEN, SecretColumn.ACCESS_TOKEN, TENANT)
    key.unavailable = True
    with pytest.raises(MasterKeyUnavailable):
        await opener.reveal(stored, SecretColumn.ACCESS_TOKEN, TENANT)


async def test_a_plain_text_value_from_an_unmigrated_seed_database_is_used_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    opener = SecretOpener(Keyring())
    with caplog.at_level(logging.WARNING, logger="handler"):
        assert await opener.reveal(TOKEN, SecretColumn.ACCESS_TOKEN, TENANT) == TOKEN
    assert "run the migration" in caplog.records[0].getMessage()
    assert TOKEN not in str(vars(caplog.records[0]))
