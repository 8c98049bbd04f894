"""Plan how a verified payload travels: one invoke, one invoke per change, or parked in S3.

Pure functions: no I/O. A payload whose envelope fits in one invoke goes whole and byte-identical
with Meta's signature. A bigger one is split into one payload per (entry, change), each with the
same `object` and the entry's other fields; a part still too big, or a payload that cannot be split
without losing something, is marked for parking in S3.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.envelope import Envelope, ParkedBody


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadyPart:
    """An envelope, serialized, that fits in one invoke."""

    payload: bytes
    part: int
    parts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OversizedPart:
    """A body that must be parked in S3 first; the invoke then carries only its location."""

    body: bytes
    signature: str | None
    verified_by: str | None
    part: int
    parts: int
    received_at: float

    def envelope(self, parked: ParkedBody) -> bytes:
        return Envelope(
            parked=parked,
            signature=self.signature,
            verified_by=self.verified_by,
            received_at=self.received_at,
            part=self.part,
            parts=self.parts,
        ).to_json()


PlannedPart = ReadyPart | OversizedPart


def plan_handoff(
    raw_body: str,
    payload: Mapping[str, Any],
    *,
    signature: str | None,
    verified_by: str | None,
    received_at: float,
    invoke_max_bytes: int,
) -> tuple[PlannedPart, ...]:
    """The parts to hand off for one verified webhook; together they carry all of it.

    Every part names the app secret that verified the whole (`verified_by`): a part has no
    signature of its own, and the handler holds it to the same per-tenant rule as the whole."""
    whole = Envelope(
        body=raw_body, signature=signature, verified_by=verified_by, received_at=received_at
    ).to_json()
    if len(whole) <= invoke_max_bytes:
        return (ReadyPart(payload=whole, part=0, parts=1),)
    bodies = split_by_change(payload)
    if bodies is None or len(bodies) < 2:
        # Parking the original bytes keeps Meta's signature valid for the handler to check.
        return (
            OversizedPart(
                body=raw_body.encode(),
                signature=signature,
                verified_by=verified_by,
                part=0,
                parts=1,
                received_at=received_at,
            ),
        )
    planned: list[PlannedPart] = []
    for index, body in enumerate(bodies):
        envelope = Envelope(
            body=body, verified_by=verified_by, received_at=received_at, part=index, parts=len(bodies)
        ).to_json()
        if len(envelope) <= invoke_max_bytes:
            planned.append(ReadyPart(payload=envelope, part=index, parts=len(bodies)))
        else:
            planned.append(
                OversizedPart(
                    body=body.encode(),
                    signature=None,
                    verified_by=verified_by,
                    part=index,
                    parts=len(bodies),
                    received_at=received_at,
                )
            )
    return tuple(planned)


def split_by_change(payload: Mapping[str, Any]) -> list[str] | None:
    """One JSON payload per (entry, change), or None when splitting would drop any part of it."""
    if set(payload) - {"object", "entry"}:
        return None
    entries = payload.get("entry")
    if not isinstance(entries, list) or not entries:
        return None
    bodies: list[str] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            return None
        changes = entry.get("changes")
        if not isinstance(changes, list) or not changes:
            return None
        for change in changes:
            if not isinstance(change, Mapping):
                return None
            single = {key: [change] if key == "changes" else value for key, value in entry.items()}
            try:
                bodies.append(_dump({"object": payload.get("object"), "entry": [single]}))
            except RecursionError:  # nested about as deep as the parser allows: keep the original
                return None
    return bodies


def _dump(value: object) -> str:
    """Compact JSON that encodes to UTF-8 (a lone surrogate from a `\\ud800` escape stays escaped)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    try:
        text.encode()
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":"))
    return text
