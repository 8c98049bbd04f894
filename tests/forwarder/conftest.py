"""The forwarder under test: a real uvicorn server, real boto3, and a local Lambda Invoke API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from typing import Any

import boto3
import httpx
import pytest

from forwarder.app import create_app
from standins.lambda_invoke import LambdaInvokeStandin
from tests.aws import moto_server
from tests.forwarder.servers import LiveServer
from tests.forwarder.support import FUNCTION_NAME, PARKING_BUCKET, SETTINGS

StartForwarder = Callable[..., LiveServer]


@pytest.fixture(scope="module")
def aws_env() -> Iterator[pytest.MonkeyPatch]:
    """Dummy credentials and region, and no user AWS configuration, for a whole module."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/nonexistent/aws-config",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
        }.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            patch.delenv(name, raising=False)
        yield patch


@pytest.fixture(scope="module")
def module_standin(aws_env: pytest.MonkeyPatch) -> Iterator[LambdaInvokeStandin]:
    """A zero-latency Lambda that accepts `FUNCTION_NAME`; boto3 reaches it through its own variable."""
    with LambdaInvokeStandin({FUNCTION_NAME: None}) as standin:
        aws_env.setenv("AWS_ENDPOINT_URL_LAMBDA", standin.endpoint_url)
        yield standin


@pytest.fixture
def lambda_standin(module_standin: LambdaInvokeStandin) -> LambdaInvokeStandin:
    """The module's Lambda, with nothing recorded and no fault pending."""
    module_standin.reset()
    return module_standin


@pytest.fixture(scope="module")
def forwarder(module_standin: LambdaInvokeStandin) -> Iterator[LiveServer]:
    """A forwarder with `SETTINGS`, shared by a module's tests (ask for `lambda_standin` too)."""
    with LiveServer(create_app(SETTINGS)) as server:
        yield server


@pytest.fixture
def start_forwarder(lambda_standin: LambdaInvokeStandin) -> Iterator[StartForwarder]:
    """Start a forwarder from `SETTINGS` with some fields replaced; stopped after the test."""
    with ExitStack() as stack:

        def start(**overrides: Any) -> LiveServer:
            return stack.enter_context(LiveServer(create_app(replace(SETTINGS, **overrides))))

        yield start


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as http:
        yield http


@pytest.fixture(scope="module")
def moto_s3_url() -> Iterator[str]:
    """An S3 API (moto's server) on 127.0.0.1 for the whole module."""
    with moto_server() as url:
        yield url


@pytest.fixture
def parking_bucket(
    moto_s3_url: str, aws_env: pytest.MonkeyPatch, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """An empty bucket on moto's S3; yields an S3 client to read it back."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_s3_url)
    s3 = boto3.session.Session().client("s3")
    s3.create_bucket(Bucket=PARKING_BUCKET)
    try:
        yield s3
    finally:
        for item in s3.list_objects_v2(Bucket=PARKING_BUCKET).get("Contents", []):
            s3.delete_object(Bucket=PARKING_BUCKET, Key=item["Key"])
        s3.delete_bucket(Bucket=PARKING_BUCKET)
        s3.close()
