"""What vouches for a Meta payload, and the isolation rule that uses it: one rule, for every path in.

A tenant with its own Meta app secret (`user_whatsapp_config.app_secret`) is acted for only when
the payload is proven to come from that app:

- the forwarder verified the payload and names the secret it verified with (`verified_by`, a key
  id from `shared.signature.secret_key_id`, never the secret): that key must be the tenant's. This
  covers whole envelopes, parts of a split payload (which have no signature of their own) and
  parked bodies alike;
- the original bytes and Meta's `X-Hub-Signature-256` reached the handler (`POST /webhook`, or an
  envelope from a forwarder that named no key): the signature must verify with the tenant's secret;
- a Meta payload with no signature and no key (a raw payload invoked directly): refused for such a
  tenant;
- a seed-format request is not a Meta payload: it is trusted as the deployment's relay (its route
  needs the deployment's key, a direct invoke needs IAM).

Tenants without an app secret of their own rely on the `META_APP_SECRET` check alone.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from enum import StrEnum

from handler.tenants import Tenant
from shared.envelope import Envelope
from shared.signature import SignatureCheck, check_signature, secret_key_id


class ProofKind(StrEnum):
    SIGNED = "signed"  # a whole payload: Meta's bytes and signature, and maybe the forwarder's key id
    SPLIT_PART = "split_part"  # a part of a payload the forwarder split: its key id only
    UNSIGNED = "unsigned"
    SEED_RELAY = "seed_relay"


@dataclass(frozen=True, slots=True)
class PayloadProof:
    kind: ProofKind
    body: bytes | None = field(default=None, repr=False)
    signature: str | None = None
    verified_by: str | None = None  # the key id of the app secret that verified the whole payload

    @classmethod
    def signed(cls, body: bytes, signature: str | None, *, verified_by: str | None = None) -> PayloadProof:
        return cls(ProofKind.SIGNED, body, signature, verified_by)

    @classmethod
    def from_envelope(cls, envelope: Envelope, raw_body: str) -> PayloadProof:
        """A whole payload (inline or parked) is Meta's original bytes; a part of a split one is not."""
        if envelope.parts == 1:
            return cls.signed(raw_body.encode(), envelope.signature, verified_by=envelope.verified_by)
        return cls(ProofKind.SPLIT_PART, verified_by=envelope.verified_by)

    @classmethod
    def unsigned(cls) -> PayloadProof:
        return cls(ProofKind.UNSIGNED)

    @classmethod
    def seed_relay(cls) -> PayloadProof:
        return cls(ProofKind.SEED_RELAY)

    def allows(self, tenant: Tenant) -> bool:
        """May this payload drive `tenant`'s number? Never while its app secret cannot be read."""
        if tenant.whatsapp is not None and tenant.whatsapp.app_secret_unreadable:
            return False
        return self.allows_secret(tenant.whatsapp.app_secret if tenant.whatsapp is not None else None)

    def allows_secret(self, app_secret: str | None) -> bool:
        """May this payload act for a tenant whose own Meta app secret is `app_secret` (None: none)?"""
        if not app_secret or self.kind is ProofKind.SEED_RELAY:
            return True
        if self.verified_by is not None and hmac.compare_digest(self.verified_by, secret_key_id(app_secret)):
            return True
        if self.body is None or not self.signature:
            return False
        return check_signature(self.body, self.signature, [app_secret]) is SignatureCheck.VALID
