"""How an envelope reaches the handler: the `Transport` protocol, and the asynchronous Lambda invoke.

Each transport's `deliver` returns only once the handler side accepted the envelope, and raises a
`HandoffError` otherwise; nothing else escapes it. The development transport (an HTTP POST) is
`forwarder.http_transport`, imported only when it is configured.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError

from forwarder.errors import (
    HandoffError,
    HandoffRejected,
    HandoffThrottled,
    HandoffTimedOut,
    HandoffUnreachable,
)
from forwarder.offload import Offloader

if TYPE_CHECKING:
    from types_boto3_lambda import LambdaClient

LAMBDA_ACCEPTED = 202
_THROTTLED_CODES = frozenset({"TooManyRequestsException", "ThrottlingException", "EC2ThrottledException"})


class Transport(Protocol):
    name: str  # for log lines: "lambda" or "http"

    async def deliver(self, envelope: bytes) -> None:
        """Return once the handler side accepted `envelope`; raise HandoffError otherwise."""
        ...

    async def aclose(self) -> None: ...


def boto_config(*, timeout: float, pool_size: int) -> Config:
    """Fail fast and never wait behind botocore's retries: Meta retries a 503 for us."""
    return Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"total_max_attempts": 1, "mode": "standard"},  # one attempt, no retry
        max_pool_connections=pool_size,
        tcp_keepalive=True,
        parameter_validation=False,  # our arguments are fixed; validating them costs every call
    )


def lambda_client(*, timeout: float, pool_size: int) -> LambdaClient:
    """A Lambda client on its own session; `AWS_ENDPOINT_URL_LAMBDA` (boto3's own) redirects it."""
    return boto3.session.Session().client("lambda", config=boto_config(timeout=timeout, pool_size=pool_size))


class LambdaTransport:
    """`Invoke` with `InvocationType=Event`: accepted means Lambda answered 202 (queued durably)."""

    name = "lambda"

    def __init__(
        self, function_name: str, client: LambdaClient, offloader: Offloader, timeout: float
    ) -> None:
        self._function_name = function_name
        self._client = client
        self._offloader = offloader
        self._timeout = timeout

    async def deliver(self, envelope: bytes) -> None:
        try:
            status = await self._offloader.run(partial(self._invoke, envelope), timeout=self._timeout)
        except (TimeoutError, ConnectTimeoutError) as exc:  # our deadline, or botocore's own
            raise HandoffTimedOut(type(exc).__name__) from exc
        except ClientError as exc:
            raise _client_error(exc) from exc
        except BotoCoreError as exc:
            raise HandoffUnreachable(type(exc).__name__) from exc
        if status != LAMBDA_ACCEPTED:
            raise HandoffRejected(f"status {status}")

    def _invoke(self, envelope: bytes) -> int:
        response = self._client.invoke(
            FunctionName=self._function_name, InvocationType="Event", Payload=envelope
        )
        response["Payload"].read()  # drains the (empty) body so the connection returns to the pool
        return response["StatusCode"]

    async def aclose(self) -> None:
        self._client.close()


def _client_error(exc: ClientError) -> HandoffError:
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in _THROTTLED_CODES or status == 429:
        return HandoffThrottled(code or "429")
    return HandoffRejected(code or f"status {status}")
