"""Per-tenant web chat keys: made by the admin tooling, checked by the handler, stored only as a digest.

A key is 32 random bytes (`wck_` + base64url), so a plain SHA-256 digest cannot be reversed by
guessing; binding the digest to the tenant's id means a digest copied to another tenant's row
does not let the key speak for that tenant.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from uuid import UUID

KEY_PREFIX = "wck_"
_KEY_BYTES = 32


def new_web_chat_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(_KEY_BYTES)


def web_chat_key_digest(tenant_id: UUID, key: str) -> str:
    return hashlib.sha256(f"whatsapp-assistant web chat key v1|{tenant_id}|{key}".encode()).hexdigest()


def web_chat_key_matches(tenant_id: UUID, presented: str | None, stored_digest: str | None) -> bool:
    """Constant-time check of a presented key against the tenant's stored digest (none: never)."""
    if not presented or not stored_digest:
        return False
    return hmac.compare_digest(web_chat_key_digest(tenant_id, presented), stored_digest)
