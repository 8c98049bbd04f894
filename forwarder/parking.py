"""Parks a body too big for one Lambda invoke in S3, so that the invoke carries only its location.

The S3 client is made on the first park, not with the forwarder: few webhooks ever need it, and
making one (botocore loads its service model and endpoint rules) would add to every cold start.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from forwarder.errors import ParkingFailed
from forwarder.offload import Offloader
from forwarder.transport import boto_config
from shared.envelope import ParkedBody

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client


def s3_client(*, timeout: float, pool_size: int) -> S3Client:
    """An S3 client on its own session; `AWS_ENDPOINT_URL_S3` (boto3's own) redirects it."""
    return boto3.session.Session().client("s3", config=boto_config(timeout=timeout, pool_size=pool_size))


def parking_key(received_at: float, part: int) -> str:
    """`webhooks/YYYY/MM/DD/<random>-<part>.json`: unique, and easy to expire by date with a lifecycle rule."""
    day = time.strftime("%Y/%m/%d", time.gmtime(received_at))
    return f"webhooks/{day}/{uuid.uuid4().hex}-{part}.json"


class S3Parking:
    def __init__(
        self, bucket: str, make_client: Callable[[], S3Client], offloader: Offloader, timeout: float
    ) -> None:
        self.bucket = bucket
        self._make_client = make_client
        self._client: S3Client | None = None
        self._client_lock = threading.Lock()
        self._offloader = offloader
        self._timeout = timeout

    async def park(self, body: bytes, *, received_at: float, part: int) -> ParkedBody:
        """Store `body` as is; return where it is once S3 has it."""
        key = parking_key(received_at, part)

        def put() -> None:
            self._connected().put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType="application/json"
            )

        try:
            await self._offloader.run(put, timeout=self._timeout)
        except (TimeoutError, BotoCoreError, ClientError) as exc:
            raise ParkingFailed(type(exc).__name__) from exc
        return ParkedBody(bucket=self.bucket, key=key)

    def _connected(self) -> S3Client:
        """The client, made by the first caller (on an offloader thread: making one blocks)."""
        with self._client_lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    async def aclose(self) -> None:
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
