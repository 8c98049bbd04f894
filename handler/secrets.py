"""Tenant secrets as the handler reads them: decrypted where rows become `Tenant`, kept a few minutes.

The cache lives in the container's memory only, keyed by a digest of (column, tenant, ciphertext),
so a warm invocation does not call KMS for every message, a changed secret (new ciphertext) is read
afresh at once, and a ciphertext copied to another tenant's row is never served from the cache
without its own AES-GCM check.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID

from shared.master_keys import Keyring, KmsMasterKey, MasterKeyNotConfigured, MasterKeyUnavailable
from shared.secrets_crypto import SecretColumn, SecretUnreadable, decrypt_secret, is_encrypted, parse_stored

logger = logging.getLogger("handler")

CACHE_SECONDS = 300.0
_MAX_ENTRIES = 4096


@dataclass(frozen=True, slots=True, kw_only=True)
class TenantSecrets:
    """One tenant's decrypted secrets; None where none is stored or it cannot be decrypted."""

    access_token: str | None = field(default=None, repr=False)
    app_secret: str | None = field(default=None, repr=False)
    groq_api_key: str | None = field(default=None, repr=False)


class SecretOpener:
    """Decrypts stored secrets with the container's keyring; `MasterKeyUnavailable` means retry later."""

    def __init__(
        self,
        keyring: Keyring,
        *,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keyring = keyring
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[bytes, tuple[str, float]] = {}

    async def open(
        self, tenant_id: UUID, *, access_token: str | None, app_secret: str | None, groq_api_key: str | None
    ) -> TenantSecrets:
        revealed = await asyncio.gather(
            self.reveal(access_token, SecretColumn.ACCESS_TOKEN, tenant_id),
            self.reveal(app_secret, SecretColumn.APP_SECRET, tenant_id),
            self.reveal(groq_api_key, SecretColumn.GROQ_API_KEY, tenant_id),
        )
        return TenantSecrets(access_token=revealed[0], app_secret=revealed[1], groq_api_key=revealed[2])

    async def reveal(self, stored: str | None, column: SecretColumn, tenant_id: UUID) -> str | None:
        if not stored:
            return None
        fields = {"tenant": str(tenant_id), "column": column.value}
        if not is_encrypted(stored):
            # A database the seed filled, not migrated yet: usable, but `wa-admin migrate` encrypts it.
            logger.warning("plain-text tenant secret in the database, run the migration", extra=fields)
            return stored
        digest = hashlib.sha256(f"{column.value}|{tenant_id}|{stored}".encode()).digest()
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            plaintext = await self._decrypt(stored, column, tenant_id)
        except (SecretUnreadable, MasterKeyNotConfigured) as error:
            logger.error("tenant secret cannot be decrypted", extra={**fields, "reason": str(error)})
            return None
        except MasterKeyUnavailable as error:
            logger.error("master key unavailable", extra={**fields, "reason": str(error)})
            raise
        self._remember(digest, plaintext, now)
        return plaintext

    async def _decrypt(self, stored: str, column: SecretColumn, tenant_id: UUID) -> str:
        master = self._keyring.for_ref(parse_stored(stored).key_ref)
        if isinstance(master, KmsMasterKey):  # a network call: off the event loop
            return await asyncio.to_thread(
                decrypt_secret, self._keyring, stored, column=column, tenant_id=tenant_id
            )
        return decrypt_secret(self._keyring, stored, column=column, tenant_id=tenant_id)

    def _remember(self, digest: bytes, plaintext: str, now: float) -> None:
        if len(self._cache) >= _MAX_ENTRIES:
            self._cache = {key: entry for key, entry in self._cache.items() if entry[1] > now}
            while len(self._cache) >= _MAX_ENTRIES:
                del self._cache[next(iter(self._cache))]
        self._cache[digest] = (plaintext, now + self._cache_seconds)

    def forget(self) -> None:
        """Drop every decrypted secret held (container shutdown, tests)."""
        self._cache.clear()
