"""The Lambda Invoke stand-in, through real boto3: invocation types, errors, one container, retries, faults."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from standins.lambda_invoke import FakeLambdaContext, LambdaFault, LambdaInvokeStandin

ROOT = Path(__file__).resolve().parents[2]


class Recorder:
    """A function that remembers its calls (event, context, thread) and can fail its first `failures`."""

    def __init__(self, failures: int = 0, work_seconds: float = 0.0) -> None:
        self.failures = failures
        self.work_seconds = work_seconds
        self.calls: list[tuple[Any, FakeLambdaContext, str]] = []
        self.running = 0
        self.most_at_once = 0

    def __call__(self, event: Any, context: FakeLambdaContext) -> Any:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            self.calls.append((event, context, threading.current_thread().name))
            time.sleep(self.work_seconds)
            if len(self.calls) <= self.failures:
                raise RuntimeError(f"failure {len(self.calls)}")
            return {"seen": event, "remaining_ms": context.get_remaining_time_in_millis()}
        finally:
            self.running -= 1


def send_event(client: Any, name: str, payload: bytes | str = b"{}") -> int:
    """An Event invoke; the (empty) body is read so the connection goes back to boto3's pool."""
    response = client.invoke(FunctionName=name, InvocationType="Event", Payload=payload)
    response["Payload"].read()
    return int(response["StatusCode"])


def send_request(client: Any, name: str, payload: bytes) -> tuple[Any, str | None]:
    """A RequestResponse invoke: the decoded result, and `FunctionError` when the function raised."""
    response = client.invoke(FunctionName=name, Payload=payload)
    return json.loads(response["Payload"].read()), response.get("FunctionError")


@pytest.fixture
def standin() -> Iterator[LambdaInvokeStandin]:
    with LambdaInvokeStandin({"recorded-only": None}) as server:
        yield server


@pytest.fixture
def lambda_client(standin: LambdaInvokeStandin) -> Iterator[Any]:
    client = boto3.session.Session().client(
        "lambda",
        endpoint_url=standin.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=0.5),
    )
    yield client
    client.close()


def test_an_event_is_accepted_with_202_then_run_in_one_container_thread(
    standin: LambdaInvokeStandin, lambda_client: Any
) -> None:
    function = Recorder(work_seconds=0.01)
    standin.register("handler", function)

    statuses = [send_event(lambda_client, "handler", json.dumps({"n": n})) for n in range(5)]
    standin.wait_idle(5)

    assert statuses == [202] * 5
    assert [event for event, _, _ in function.calls] == [{"n": n} for n in range(5)]
    assert {thread for _, _, thread in function.calls} == {"lambda-handler-0"}  # one container
    assert function.most_at_once == 1
    assert [c.aws_request_id for _, c, _ in function.calls] == [i.request_id for i in standin.invocations]
    assert all(i.invocation_type == "Event" and i.accepted for i in standin.invocations)


def test_request_response_returns_the_result_or_an_unhandled_error(
    standin: LambdaInvokeStandin, lambda_client: Any
) -> None:
    standin.register("handler", Recorder(failures=1))

    error, failed = send_request(lambda_client, "handler", b'{"a": 1}')
    arn = "arn:aws:lambda:us-east-1:123456789012:function:handler:live"
    result, succeeded = send_request(lambda_client, arn, b"{}")

    assert failed == "Unhandled"
    assert (error["errorType"], error["errorMessage"]) == ("RuntimeError", "failure 1")
    assert succeeded is None and result["seen"] == {}
    assert 0 < result["remaining_ms"] <= 30_000


def test_an_unknown_function_is_resource_not_found(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as raised:
        send_event(lambda_client, "missing", b"{}")

    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_accept_any_records_every_name() -> None:
    with LambdaInvokeStandin(accept_any=True) as standin:
        client = boto3.client(
            "lambda",
            endpoint_url=standin.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="k",
            aws_secret_access_key="s",
        )
        assert send_event(client, "anything", b"[1]") == 202
        client.close()
        [invocation] = standin.invocations
        assert (invocation.function_name, invocation.event()) == ("anything", [1])


def test_failed_events_are_retried_twice_then_dead_lettered(
    standin: LambdaInvokeStandin, lambda_client: Any
) -> None:
    flaky, broken = Recorder(failures=2), Recorder(failures=99)
    standin.register("flaky", flaky)
    standin.register("broken", broken)

    send_event(lambda_client, "flaky", b"{}")
    send_event(lambda_client, "broken", b'{"x": 1}')
    standin.wait_idle(5)

    [completion] = standin.completions
    assert (completion.function_name, completion.attempts) == ("flaky", 3)
    [dead] = standin.dead_letters
    assert (dead.function_name, dead.attempts, dead.error_type, dead.payload) == (
        "broken",
        3,
        "RuntimeError",
        b'{"x": 1}',
    )
    assert len(broken.calls) == 3


@pytest.mark.parametrize(
    ("fault", "code", "status"),
    [
        (LambdaFault.throttle(), "TooManyRequestsException", 429),
        (LambdaFault.service_error(), "ServiceException", 500),
    ],
)
def test_scripted_faults_refuse_the_next_invokes(
    standin: LambdaInvokeStandin, lambda_client: Any, fault: LambdaFault, code: str, status: int
) -> None:
    standin.fail_next(fault, times=2, function="recorded-only")

    for _ in range(2):
        with pytest.raises(ClientError) as raised:
            send_event(lambda_client, "recorded-only", b"{}")
        assert raised.value.response["Error"]["Code"] == code
    third = send_event(lambda_client, "recorded-only", b"{}")

    assert third == 202
    assert [i.status for i in standin.invocations] == [status, status, 202]
    assert len(standin.accepted) == 1


def test_a_delay_past_the_client_timeout_leaves_nothing_queued(
    standin: LambdaInvokeStandin, lambda_client: Any
) -> None:
    standin.fail_next(LambdaFault.delay(1.0))

    with pytest.raises(ReadTimeoutError):
        send_event(lambda_client, "recorded-only", b"{}")
    deadline = time.monotonic() + 3
    while not standin.invocations and time.monotonic() < deadline:
        time.sleep(0.02)

    assert [(i.status, i.accepted) for i in standin.invocations] == [(0, False)]


def test_payloads_over_lambdas_limits_are_refused(standin: LambdaInvokeStandin, lambda_client: Any) -> None:
    with pytest.raises(ClientError) as too_big:
        send_event(lambda_client, "recorded-only", b'"' + b"x" * 1_048_576 + b'"')
    with pytest.raises(ClientError) as not_json:
        send_event(lambda_client, "recorded-only", b"{nope")

    assert too_big.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert not_json.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert standin.accepted == []


def test_wait_idle_times_out_while_a_function_still_runs(
    standin: LambdaInvokeStandin, lambda_client: Any
) -> None:
    standin.register("slow", Recorder(work_seconds=0.5))
    send_event(lambda_client, "slow", b"{}")

    with pytest.raises(TimeoutError, match="1 invocation"):
        standin.wait_idle(0.05)
    standin.wait_idle(5)


def test_runs_as_a_process() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "standins.lambda_invoke", "--port", "0", "--function", "echo=json:dumps"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = json.loads(process.stdout.readline())
        assert line["message"] == "stand-in listening" and line["standin"] == "lambda"
        client = boto3.client(
            "lambda",
            endpoint_url=line["url"],
            region_name="us-east-1",
            aws_access_key_id="k",
            aws_secret_access_key="s",
        )
        error, failed = send_request(client, "echo", b"[]")
        client.close()
        assert failed == "Unhandled"  # json.dumps(event, context): the context is no `cls`
        assert error["errorType"] == "TypeError"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        process.kill()
        process.wait()
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        process.stderr.close()


def test_several_containers_take_events_and_a_retry_does_not_hold_one_up() -> None:
    seen: list[tuple[str, str]] = []
    failed_once: set[str] = set()
    lock = threading.Lock()

    def function(event: Any, context: FakeLambdaContext) -> Any:
        with lock:
            seen.append((event["n"], threading.current_thread().name))
            first_time = event["n"] == "flaky" and "flaky" not in failed_once
            failed_once.add(event["n"])
        if first_time:
            raise RuntimeError("a passing failure")
        time.sleep(0.05)
        return {"ok": event["n"]}

    with LambdaInvokeStandin({"f": function}, concurrency=3, retry_delay_seconds=0.3) as standin:
        client = boto3.client(
            "lambda",
            endpoint_url=standin.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="k",
            aws_secret_access_key="s",
        )
        for n in ["flaky", *(str(i) for i in range(6))]:
            client.invoke(FunctionName="f", InvocationType="Event", Payload=json.dumps({"n": n}).encode())
        standin.wait_idle(timeout=10)
        client.close()

    order = [n for n, _ in seen]
    assert order.count("flaky") == 2 and order[-1] == "flaky"  # its retry came after the others
    assert len({thread for _, thread in seen}) > 1  # several containers worked
    [flaky] = [c for c in standin.completions if c.result == {"ok": "flaky"}]
    assert flaky.attempts == 2 and standin.dead_letters == []
