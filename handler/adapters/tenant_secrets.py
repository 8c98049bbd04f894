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

from handler.adapters.metrics import NO_METRICS, MetricsRecorder
from tenant_secrets.master_keys import Keyring, KmsMasterKey, MasterKeyNotConfigured, MasterKeyUnavailable
from tenant_secrets.secrets_crypto import (
    SecretColumn,
    SecretUnreadable,
    decrypt_secret,
    is_encrypted,
    parse_stored,
)

logger = logging.getLogger("handler")

CACHE_SECONDS = 300.0
_MAX_ENTRIES = 4096


@dataclass(frozen=True, slots=True, kw_only=True)
class TenantSecrets:
    """One tenant's decrypted secrets; None where none is stored or it cannot be decrypted, and
    which columns hold a value that cannot be decrypted (a missing app secret and an unreadable
    one must not look alike: the second refuses every payload)."""

    access_token: str | None = field(default=None, repr=False)
    app_secret: str | None = field(default=None, repr=False)
    groq_api_key: str | None = field(default=None, repr=False)
    unreadable: frozenset[SecretColumn] = frozenset()


class SecretOpener:
    """Decrypts stored secrets with the container's keyring; `MasterKeyUnavailable` means retry later."""

    def __init__(
        self,
        keyring: Keyring,
        *,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        metrics: MetricsRecorder = NO_METRICS,
    ) -> None:
        self._keyring = keyring
        self._metrics = metrics  # counts the secrets that cannot be decrypted (an alarm watches)
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[bytes, tuple[str, float]] = {}

    async def open(
        self, tenant_id: UUID, *, access_token: str | None, app_secret: str | None, groq_api_key: str | None
    ) -> TenantSecrets:
        columns = (SecretColumn.ACCESS_TOKEN, SecretColumn.APP_SECRET, SecretColumn.GROQ_API_KEY)
        revealed = await asyncio.gather(
            *(
                self._reveal_or_none(stored, column, tenant_id)
                for stored, column in zip((access_token, app_secret, groq_api_key), columns, strict=True)
            )
        )
        return TenantSecrets(
            access_token=revealed[0][0],
            app_secret=revealed[1][0],
            groq_api_key=revealed[2][0],
            unreadable=frozenset(
                column for column, (_, unreadable) in zip(columns, revealed, strict=True) if unreadable
            ),
        )

    async def _reveal_or_none(
        self, stored: str | None, column: SecretColumn, tenant_id: UUID
    ) -> tuple[str | None, bool]:
        """(plaintext or None, whether a stored value could not be decrypted)."""
        try:
            return await self.reveal_strict(stored, column, tenant_id), False
        except SecretUnreadable:
            return None, True

    async def reveal(self, stored: str | None, column: SecretColumn, tenant_id: UUID) -> str | None:
        """The plaintext, or None when nothing is stored or it cannot be decrypted (logged)."""
        try:
            return await self.reveal_strict(stored, column, tenant_id)
        except SecretUnreadable:
            return None

    async def reveal_strict(self, stored: str | None, column: SecretColumn, tenant_id: UUID) -> str | None:
        """The plaintext, or None when nothing is stored; `SecretUnreadable` when a stored value
        cannot be decrypted (logged), `MasterKeyUnavailable` when KMS cannot be reached now."""
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
            self._metrics.secret_unreadable(column)
            raise SecretUnreadable(str(error)) from None
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
