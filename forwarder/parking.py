"""Parks a body too big for one Lambda invoke in S3, so that the invoke carries only its location."""

from __future__ import annotations

import time
import uuid
from functools import partial
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
    def __init__(self, bucket: str, client: S3Client, offloader: Offloader, timeout: float) -> None:
        self.bucket = bucket
        self._client = client
        self._offloader = offloader
        self._timeout = timeout

    async def park(self, body: bytes, *, received_at: float, part: int) -> ParkedBody:
        """Store `body` as is; return where it is once S3 has it."""
        key = parking_key(received_at, part)
        put = partial(
            self._client.put_object, Bucket=self.bucket, Key=key, Body=body, ContentType="application/json"
        )
        try:
            await self._offloader.run(put, timeout=self._timeout)
        except (TimeoutError, BotoCoreError, ClientError) as exc:
            raise ParkingFailed(type(exc).__name__) from exc
        return ParkedBody(bucket=self.bucket, key=key)

    async def aclose(self) -> None:
        self._client.close()
