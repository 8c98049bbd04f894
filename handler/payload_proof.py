"""What vouches for a Meta payload, and the isolation rule that uses it.

A tenant with its own Meta app secret (`user_whatsapp_config.app_secret`) is acted for only when
the payload is proven to come from that app:

- the original bytes and Meta's `X-Hub-Signature-256` reached the handler (a whole envelope, a
  parked whole body, `POST /webhook`): the signature must verify with the tenant's secret;
- a part of a payload the forwarder split: the forwarder verified the whole against
  `META_APP_SECRET` before splitting, and a part has no signature of its own, so it is accepted;
- a Meta payload with no signature (a raw payload invoked directly): refused for such a tenant;
- a seed-format request is not a Meta payload: it is trusted as the seed trusted it (the route is
  off by default in AWS).

Tenants without an app secret of their own rely on the `META_APP_SECRET` check alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from handler.tenants import Tenant
from shared.signature import SignatureCheck, check_signature


class ProofKind(StrEnum):
    SIGNED = "signed"
    FORWARDER_SPLIT = "forwarder_split"
    UNSIGNED = "unsigned"
    SEED_RELAY = "seed_relay"


@dataclass(frozen=True, slots=True)
class PayloadProof:
    kind: ProofKind
    body: bytes | None = field(default=None, repr=False)
    signature: str | None = None

    @classmethod
    def signed(cls, body: bytes, signature: str | None) -> PayloadProof:
        return cls(ProofKind.SIGNED, body, signature)

    @classmethod
    def split_part(cls) -> PayloadProof:
        return cls(ProofKind.FORWARDER_SPLIT)

    @classmethod
    def unsigned(cls) -> PayloadProof:
        return cls(ProofKind.UNSIGNED)

    @classmethod
    def seed_relay(cls) -> PayloadProof:
        return cls(ProofKind.SEED_RELAY)

    @property
    def needs_no_tenant_secret(self) -> bool:
        """Vouched for by other means than the tenant's own app secret (see the rule above)."""
        return self.kind in (ProofKind.FORWARDER_SPLIT, ProofKind.SEED_RELAY)

    def allows(self, tenant: Tenant) -> bool:
        """May this payload drive `tenant`'s number?"""
        return self.allows_secret(tenant.whatsapp.app_secret if tenant.whatsapp is not None else None)

    def allows_secret(self, app_secret: str | None) -> bool:
        """May this payload act for a tenant whose own Meta app secret is `app_secret` (None: none)?"""
        if not app_secret or self.needs_no_tenant_secret:
            return True
        if self.kind is ProofKind.UNSIGNED or self.body is None:
            return False
        return check_signature(self.body, self.signature, [app_secret]) is SignatureCheck.VALID
