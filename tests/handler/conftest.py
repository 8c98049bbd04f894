"""The handler under test: real Postgres, the Groq and Graph stand-ins, and `lambda_handler`
called the way Lambda calls it (one container: always the same single thread)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from handler.app import HandlerFunction
from handler.errors import RetryLater
from standins.graph import GraphStandIn
from standins.groq import GroqStandIn
from standins.lambda_invoke import LambdaInvokeStandin
from tests.handler.system import FUNCTION, close_container, handler_function

SEED_ROUTE_KEY = "test-seed-route-key"


@dataclass
class LambdaTestContext:
    """The attributes of Lambda's context object that the handler reads."""

    remaining_ms: int = 30_000
    function_name: str = "handler"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:000000000000:function:handler"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/handler"
    log_stream_name: str = "test"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture(scope="session")
def groq() -> Iterator[GroqStandIn]:
    with GroqStandIn() as server:
        yield server


@pytest.fixture(scope="session")
def graph() -> Iterator[GraphStandIn]:
    with GraphStandIn() as server:
        yield server


@pytest.fixture(scope="session")
def handler_environment(
    database_url: str, groq: GroqStandIn, graph: GraphStandIn
) -> Iterator[dict[str, str]]:
    environment = {
        "DATABASE_URL": database_url,
        "GROQ_BASE_URL": groq.base_url,
        "GRAPH_API_BASE_URL": graph.base_url,
        "RETRY_BASE_DELAY_SECONDS": "0.01",
        "RETRY_MAX_DELAY_SECONDS": "0.05",
        "GROQ_TIMEOUT_SECONDS": "1",
        "GRAPH_TIMEOUT_SECONDS": "1",
        # The tests count calls: pinned, whatever the defaults become.
        "GROQ_MAX_ATTEMPTS": "3",
        "GRAPH_MAX_ATTEMPTS": "3",
        "LAMBDA_RETRY_ATTEMPTS": "2",
        "META_APP_SECRET": "test-app-secret",
        "VERIFY_TOKEN": "test-verify-token",
        "FORWARDER_HANDLER_SECRET": "test-forwarder-secret",
        "SEED_ROUTE_KEY": SEED_ROUTE_KEY,
        # The metric lines are checked: never off because a developer's shell has POWERTOOLS_DEV.
        "POWERTOOLS_METRICS_DISABLED": "false",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        yield environment


class LambdaContainer:
    """Invokes `lambda_handler` on one dedicated thread, as one warm Lambda container would."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lambda-container")
        self._function = HandlerFunction()  # the environment (handler_environment) on first use

    async def invoke(self, event: Any, context: LambdaTestContext | None = None) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._function, event, context or LambdaTestContext())

    async def invoke_as_lambda_would(self, event: Any) -> tuple[int, Any]:
        """Invoke, and again after each RetryLater as Lambda retries an asynchronous event (1 + 2
        attempts by default); return how many attempts were made and the last one's result."""
        context = LambdaTestContext()  # one request id for every attempt, as Lambda keeps it
        for attempt in range(1, 4):
            try:
                return attempt, await self.invoke(event, context)
            except RetryLater:
                if attempt == 3:
                    raise
        raise AssertionError("unreachable")

    def invoke_sync(self, event: Any, context: LambdaTestContext | None = None) -> Any:
        """For synchronous tests (hypothesis): same thread, same container."""
        return self._thread.submit(self._function, event, context or LambdaTestContext()).result()

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._function.close_container)
        self._thread.shutdown()


@pytest.fixture(scope="session")
async def container(handler_environment: dict[str, str]) -> AsyncIterator[LambdaContainer]:
    lambda_container = LambdaContainer()
    yield lambda_container
    await lambda_container.close()


@pytest.fixture(scope="session")
def session_lambdas(handler_environment: dict[str, str]) -> Iterator[LambdaInvokeStandin]:
    """The Lambda Invoke API with the handler registered, as the forwarder's boto3 reaches it."""
    with (
        LambdaInvokeStandin(
            {FUNCTION: handler_function},
            max_retry_attempts=2,
            retry_delay_seconds=0.2,
            function_timeout_seconds=20.0,
        ) as lambdas,
        pytest.MonkeyPatch.context() as patch,
    ):
        for name, value in {
            "AWS_ENDPOINT_URL_LAMBDA": lambdas.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            patch.setenv(name, value)
        yield lambdas
        close_container()


@pytest.fixture
def lambdas(session_lambdas: LambdaInvokeStandin) -> LambdaInvokeStandin:
    session_lambdas.wait_idle(timeout=30)
    session_lambdas.reset()
    return session_lambdas


@pytest.fixture(autouse=True)
def fresh_stand_ins(groq: GroqStandIn, graph: GraphStandIn) -> None:
    groq.reset()
    graph.reset()


__all__ = ["SEED_ROUTE_KEY", "LambdaContainer", "LambdaTestContext"]
