"""The offline world an invocation runs against: the Groq and Graph stand-ins, accepting only the
sample tenants' keys and tokens, and for the forwarder the Lambda Invoke API it hands off through."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from localrun.invoke.environment import function_environment
from localrun.invoke.functions import handler_lambda_api
from localrun.invoke.preconditions import SAMPLE_TENANTS
from standins.graph import GraphStandIn, SentMessage
from standins.groq import GroqRequest, GroqStandIn
from standins.lambda_invoke import LambdaInvokeStandin
from standins.server import BackgroundServer


@dataclass(frozen=True, slots=True, kw_only=True)
class Recorded:
    """How many calls each stand-in had recorded at one moment, to tell one invocation's calls apart."""

    sends: int
    groq_calls: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StandIns:
    groq: GroqStandIn
    graph: GraphStandIn
    lambdas: LambdaInvokeStandin | None  # only where the forwarder hands off

    def describe(self) -> str:
        lambdas = "" if self.lambdas is None else f", Lambda Invoke API {self.lambdas.endpoint_url}"
        return (
            f"Groq {self.groq.base_url}, Graph {self.graph.base_url} (each number's token checked){lambdas}"
        )

    def environment(self, database_url: str) -> dict[str, str | None]:
        return function_environment(
            database_url=database_url,
            groq_base_url=self.groq.base_url,
            graph_base_url=self.graph.base_url,
            lambda_endpoint_url=None if self.lambdas is None else self.lambdas.endpoint_url,
        )

    def recorded(self) -> Recorded:
        return Recorded(sends=len(self.graph.requests), groq_calls=len(self.groq.requests))

    def sends_since(self, mark: Recorded) -> tuple[SentMessage, ...]:
        return tuple(self.graph.requests[mark.sends :])

    def groq_calls_since(self, mark: Recorded) -> tuple[GroqRequest, ...]:
        return tuple(self.groq.requests[mark.groq_calls :])


@contextmanager
def started_stand_ins(*, hands_off: bool) -> Iterator[StandIns]:
    """The stand-ins, started on free ports; stopped together on the way out (each takes a tick
    of uvicorn's loop to stop: one after the other, they would add up)."""
    servers: list[BackgroundServer] = []
    try:
        groq = GroqStandIn(api_keys=[t.groq_api_key for t in SAMPLE_TENANTS]).start()
        servers.append(groq)
        graph = GraphStandIn(tokens={t.phone_number_id: t.access_token for t in SAMPLE_TENANTS}).start()
        servers.append(graph)
        lambdas = handler_lambda_api().start() if hands_off else None
        if lambdas is not None:
            servers.append(lambdas)
        yield StandIns(groq=groq, graph=graph, lambdas=lambdas)
    finally:
        with ThreadPoolExecutor(max_workers=max(1, len(servers))) as stopping:
            list(stopping.map(lambda server: server.stop(), servers))
