"""Reading a webhook body the forwarder parked in S3 because it was too big for one invoke."""

from __future__ import annotations

import asyncio
from functools import cache
from typing import TYPE_CHECKING

from shared.envelope import ParkedBody

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client


@cache
def _s3() -> S3Client:
    # Created once per container, on first use (boto3 is imported only then: most containers never
    # read a parked body, and the import costs cold start time); AWS_ENDPOINT_URL_S3 points it at a
    # local server in tests.
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"})
    return boto3.client("s3", config=config)


async def read_parked_body(parked: ParkedBody) -> str:
    def read() -> str:
        response = _s3().get_object(Bucket=parked.bucket, Key=parked.key)
        return response["Body"].read().decode("utf-8")

    return await asyncio.to_thread(read)
