"""The envelope the forwarder hands to the handler: the webhook's raw body, or where it was parked."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.errors import InvalidInput

ENVELOPE_KIND = "whatsapp-webhook-envelope"
ENVELOPE_VERSION = 1


class InvalidEnvelope(InvalidInput):
    """An event claimed to be an envelope but does not have the envelope's fields."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ParkedBody:
    """A body too big for one Lambda invoke, stored in S3 by the forwarder."""

    bucket: str
    key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """One hand-off. Exactly one of `body` and `parked` is set.

    `signature` is Meta's header for `body` when `body` is the original request; a part of a
    split payload has no signature of its own. `verified_by` names (by `shared.signature.
    secret_key_id`, never the secret) the app secret the forwarder verified the whole payload with,
    so the handler can apply the per-tenant app secret rule to parts as to whole payloads.
    """

    body: str | None = None
    parked: ParkedBody | None = None
    signature: str | None = None
    verified_by: str | None = None
    received_at: float
    part: int = 0
    parts: int = 1

    def __post_init__(self) -> None:
        if (self.body is None) == (self.parked is None):
            raise InvalidEnvelope("an envelope carries either `body` or `parked`, not both")
        if not 0 <= self.part < self.parts:
            raise InvalidEnvelope("`part` must be between 0 and `parts` - 1")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": ENVELOPE_KIND,
            "version": ENVELOPE_VERSION,
            "received_at": self.received_at,
            "signature": self.signature,
            "verified_by": self.verified_by,
            "part": self.part,
            "parts": self.parts,
        }
        if self.body is not None:
            data["body"] = self.body
        if self.parked is not None:
            data["parked"] = {"bucket": self.parked.bucket, "key": self.parked.key}
        return data

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()

    @staticmethod
    def matches(event: object) -> bool:
        """Does this Lambda event claim to be an envelope?"""
        return isinstance(event, Mapping) and event.get("kind") == ENVELOPE_KIND

    @classmethod
    def from_dict(cls, event: Mapping[str, Any]) -> Envelope:
        if event.get("kind") != ENVELOPE_KIND:
            raise InvalidEnvelope(f"`kind` must be {ENVELOPE_KIND!r}")
        if event.get("version") != ENVELOPE_VERSION:
            raise InvalidEnvelope(f"unsupported envelope version {event.get('version')!r}")
        body = event.get("body")
        parked_raw = event.get("parked")
        received_at = event.get("received_at")
        signature = event.get("signature")
        verified_by = event.get("verified_by")
        part, parts = event.get("part", 0), event.get("parts", 1)
        if body is not None and not isinstance(body, str):
            raise InvalidEnvelope("`body` must be a string")
        if not isinstance(received_at, int | float) or isinstance(received_at, bool):
            raise InvalidEnvelope("`received_at` must be a number of seconds since the epoch")
        if signature is not None and not isinstance(signature, str):
            raise InvalidEnvelope("`signature` must be a string or null")
        if verified_by is not None and not (isinstance(verified_by, str) and 0 < len(verified_by) <= 64):
            raise InvalidEnvelope("`verified_by` must be a key id (a short string) or null")
        if not isinstance(part, int) or not isinstance(parts, int):
            raise InvalidEnvelope("`part` and `parts` must be integers")
        parked = None
        if parked_raw is not None:
            if not isinstance(parked_raw, Mapping) or not all(
                isinstance(parked_raw.get(k), str) and parked_raw.get(k) for k in ("bucket", "key")
            ):
                raise InvalidEnvelope("`parked` must have string `bucket` and `key`")
            parked = ParkedBody(bucket=parked_raw["bucket"], key=parked_raw["key"])
        return cls(
            body=body,
            parked=parked,
            signature=signature,
            verified_by=verified_by,
            received_at=float(received_at),
            part=part,
            parts=parts,
        )
