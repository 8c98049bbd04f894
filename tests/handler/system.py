"""The whole path as in AWS: Meta's signed POST to the forwarder (uvicorn), boto3's asynchronous
invoke of the Lambda stand-in, and `lambda_handler` in one emulated container."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx

from forwarder.app import create_app
from forwarder.settings import ForwarderSettings
from handler.app import HandlerFunction
from standins import meta
from standins.lambda_container import FakeLambdaContext
from standins.lambda_invoke import LambdaInvokeStandin
from tests.forwarder.servers import LiveServer
from tests.handler.events import APP_SECRET

FUNCTION = "handler"
_RESET = "__reset_container__"


_FUNCTION = HandlerFunction()


def handler_function(event: Any, context: FakeLambdaContext) -> Any:
    """The handler's Lambda function, plus a private event that closes the container's pool at the
    end of a run."""
    if isinstance(event, dict) and event.get(_RESET):
        _FUNCTION.close_container()
        return {}
    return _FUNCTION(event, context)


def close_container() -> None:
    """Invoke the reset event synchronously: the container's Postgres pool closes on its own thread."""
    boto3.client("lambda").invoke(FunctionName=FUNCTION, Payload=b'{"' + _RESET.encode() + b'": true}')


@dataclass
class System:
    """A forwarder in front of the Lambda stand-in; `post` sends a payload as Meta would."""

    forwarder_url: str
    lambdas: LambdaInvokeStandin
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=15.0))

    def post(self, payload: object, secret: str = APP_SECRET) -> httpx.Response:
        body, headers = meta.signed_request(payload, secret)
        return self.client.post(f"{self.forwarder_url}/webhook", content=body, headers=headers)

    def post_and_settle(self, payload: object, secret: str = APP_SECRET) -> httpx.Response:
        """POST, then wait until the handler has finished every invocation it was given."""
        response = self.post(payload, secret)
        self.lambdas.wait_idle(timeout=30)
        return response


@contextmanager
def running_system(
    lambdas: LambdaInvokeStandin, *, app_secrets: tuple[str, ...] = (APP_SECRET,), **overrides: Any
) -> Iterator[System]:
    settings = ForwarderSettings(
        meta_app_secrets=app_secrets, handler_function_name=FUNCTION, verify_token="verify", **overrides
    )
    with LiveServer(create_app(settings)) as server:
        system = System(forwarder_url=server.url, lambdas=lambdas)
        try:
            yield system
        finally:
            system.client.close()
