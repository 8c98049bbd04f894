"""Why a hand-off did not happen; every one of them means 503, so that Meta retries.

HandoffError
├── HandoffTimedOut        no answer within the hand-off timeout
├── HandoffThrottled       the handler side said 429 (Lambda's TooManyRequestsException)
├── HandoffRejected        it answered, but did not accept (any other error or status)
├── HandoffUnreachable     no connection to it
└── ParkingFailed          a body too big for one invoke could not be stored in S3
"""

from __future__ import annotations

from shared.errors import TransientError


class HandoffError(TransientError):
    """The payload was not accepted by the handler side; `reason` is a short word for the log line."""

    reason = "failed"


class HandoffTimedOut(HandoffError):
    reason = "timeout"


class HandoffThrottled(HandoffError):
    reason = "throttled"


class HandoffRejected(HandoffError):
    reason = "rejected"


class HandoffUnreachable(HandoffError):
    reason = "unreachable"


class ParkingFailed(HandoffError):
    reason = "parking_failed"
