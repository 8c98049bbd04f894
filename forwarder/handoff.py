"""Hands every planned part of one webhook to the handler; succeeds only when all were accepted."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from forwarder.errors import HandoffError, ParkingFailed
from forwarder.parking import S3Parking
from forwarder.split import OversizedPart, PlannedPart, ReadyPart
from forwarder.transport import Transport


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffReport:
    invokes: int
    parked: int
    envelope_bytes: int


class Handoff:
    def __init__(self, transport: Transport, parking: S3Parking | None) -> None:
        self.transport = transport
        self.parking = parking

    async def deliver(self, planned: Sequence[PlannedPart]) -> HandoffReport:
        """Deliver every part, concurrently; raise the first HandoffError if any part was not accepted.

        Parts already accepted stay delivered: Meta's retry brings them again, and the handler
        answers each message once.
        """
        if len(planned) == 1:
            sizes = [await self._deliver_one(planned[0])]
        else:
            outcomes = await asyncio.gather(
                *(self._deliver_one(part) for part in planned), return_exceptions=True
            )
            failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
            for failure in failures:
                if not isinstance(failure, HandoffError):
                    raise failure  # a bug, not a hand-off outcome
            if failures:
                raise failures[0]
            sizes = [outcome for outcome in outcomes if isinstance(outcome, int)]
        parked = sum(isinstance(part, OversizedPart) for part in planned)
        return HandoffReport(invokes=len(planned), parked=parked, envelope_bytes=sum(sizes))

    async def _deliver_one(self, part: PlannedPart) -> int:
        if isinstance(part, ReadyPart):
            envelope = part.payload
        else:
            if self.parking is None:
                raise ParkingFailed("PARKING_BUCKET is not set")
            parked = await self.parking.park(part.body, received_at=part.received_at, part=part.part)
            envelope = part.envelope(parked)
        await self.transport.deliver(envelope)
        return len(envelope)

    async def aclose(self) -> None:
        await self.transport.aclose()
        if self.parking is not None:
            await self.parking.aclose()
