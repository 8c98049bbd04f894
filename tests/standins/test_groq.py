"""The Groq stand-in, driven by the real `groq` SDK: answers, recording, and every scripted fault."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import groq
import httpx
import pytest

from standins.groq import OFFLINE_LABEL, GroqRequest, GroqStandIn, offline_reply

MODEL = "openai/gpt-oss-120b"


@pytest.fixture(scope="module")
def shared_standin() -> Iterator[GroqStandIn]:
    with GroqStandIn() as standin:
        yield standin


@pytest.fixture
def standin(shared_standin: GroqStandIn) -> GroqStandIn:
    shared_standin.reset()
    return shared_standin


@pytest.fixture
async def client(standin: GroqStandIn) -> AsyncIterator[groq.AsyncGroq]:
    async with groq.AsyncGroq(api_key="gsk_tenant_a", base_url=standin.base_url, max_retries=0) as sdk:
        yield sdk


def error_of(exc: groq.APIStatusError) -> dict[str, object]:
    """The `error` object of a Groq error body, as the SDK kept it."""
    assert isinstance(exc.body, dict)
    error = exc.body["error"]
    assert isinstance(error, dict)
    return error


async def ask(client: groq.AsyncGroq, text: str = "Bonjour", *, model: str = MODEL) -> str:
    completion = await client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": text}], temperature=0.2
    )
    return completion.choices[0].message.content or ""


async def test_answers_in_the_real_shape_and_labels_itself_offline(
    standin: GroqStandIn, client: groq.AsyncGroq
) -> None:
    completion = await client.chat.completions.create(
        model=MODEL,
        temperature=0.4,
        messages=[
            {"role": "system", "content": "Tu es un assistant."},
            {"role": "user", "content": "Salut"},
            {"role": "assistant", "content": "Bonjour !"},
            {"role": "user", "content": "Quels horaires ?"},
        ],
    )
    assert completion.object == "chat.completion"
    assert completion.model == MODEL
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.role == "assistant"
    text = completion.choices[0].message.content or ""
    assert text.startswith(OFFLINE_LABEL)
    assert "You wrote: Quels horaires ?" in text
    assert "2 earlier messages in context" in text
    assert completion.usage is not None
    assert (
        completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    assert completion.x_groq is not None and completion.x_groq.id.startswith("req_")


async def test_records_key_model_temperature_and_messages(
    standin: GroqStandIn, client: groq.AsyncGroq
) -> None:
    await ask(client, "Premier")
    async with groq.AsyncGroq(api_key="gsk_tenant_b", base_url=standin.base_url, max_retries=0) as other:
        await ask(other, "Second", model="openai/gpt-oss-20b")

    first, second = standin.requests
    assert (first.api_key, first.model, first.temperature, first.status) == ("gsk_tenant_a", MODEL, 0.2, 200)
    assert first.last_user_message == "Premier"
    assert (second.api_key, second.model, second.last_user_message) == (
        "gsk_tenant_b",
        "openai/gpt-oss-20b",
        "Second",
    )


async def test_reply_can_be_set_by_the_test(standin: GroqStandIn, client: groq.AsyncGroq) -> None:
    standin.reply = lambda request: "x" * 9000 + request.last_user_message
    text = await ask(client, "fin")
    assert len(text) == 9003 and text.endswith("fin")
    standin.reset()
    assert standin.reply is offline_reply
    assert (await ask(client)).startswith(OFFLINE_LABEL)


async def test_unregistered_key_gets_401_invalid_api_key() -> None:
    with GroqStandIn(api_keys=["gsk_good"]) as standin:
        async with groq.AsyncGroq(api_key="gsk_good", base_url=standin.base_url, max_retries=0) as good:
            assert (await ask(good)).startswith(OFFLINE_LABEL)
        async with groq.AsyncGroq(api_key="gsk_bad", base_url=standin.base_url, max_retries=0) as bad:
            with pytest.raises(groq.AuthenticationError) as raised:
                await ask(bad)
        standin.accept_key("gsk_bad")
        async with groq.AsyncGroq(api_key="gsk_bad", base_url=standin.base_url, max_retries=0) as now_good:
            await ask(now_good)
        statuses = [(r.api_key, r.status) for r in standin.requests]
    assert raised.value.status_code == 401
    assert error_of(raised.value) == {
        "message": "Invalid API Key",
        "type": "invalid_request_error",
        "code": "invalid_api_key",
    }
    assert statuses == [("gsk_good", 200), ("gsk_bad", 401), ("gsk_bad", 200)]


async def test_unknown_model_404_and_decommissioned_model_400() -> None:
    with GroqStandIn(models=[MODEL], decommissioned_models=["llama3-70b-8192"]) as standin:
        async with groq.AsyncGroq(api_key="gsk_k", base_url=standin.base_url, max_retries=0) as client:
            with pytest.raises(groq.NotFoundError) as missing:
                await ask(client, model="no-such-model")
            with pytest.raises(groq.BadRequestError) as retired:
                await ask(client, model="llama3-70b-8192")
            models = await client.models.list()
    assert missing.value.status_code == 404
    assert error_of(missing.value)["code"] == "model_not_found"
    assert "no-such-model" in missing.value.message
    assert retired.value.status_code == 400
    assert error_of(retired.value)["code"] == "model_decommissioned"
    assert [m.id for m in models.data] == [MODEL]


async def test_429_carries_retry_after_and_only_the_next_call_fails(
    standin: GroqStandIn, client: groq.AsyncGroq
) -> None:
    standin.fail_next(1, status=429, retry_after=7)
    with pytest.raises(groq.RateLimitError) as raised:
        await ask(client)
    assert raised.value.response.headers["retry-after"] == "7"
    assert error_of(raised.value)["code"] == "rate_limit_exceeded"
    assert (await ask(client)).startswith(OFFLINE_LABEL)
    assert [r.status for r in standin.requests] == [429, 200]


async def test_sdk_retries_honour_retry_after(standin: GroqStandIn) -> None:
    standin.fail_next(1, status=429, retry_after=0.3)
    async with groq.AsyncGroq(api_key="gsk_k", base_url=standin.base_url, max_retries=1) as retrying:
        started = time.perf_counter()
        assert (await ask(retrying)).startswith(OFFLINE_LABEL)
        elapsed = time.perf_counter() - started
    assert elapsed >= 0.3
    assert [r.status for r in standin.requests] == [429, 200]


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors(standin: GroqStandIn, client: groq.AsyncGroq, status: int) -> None:
    standin.fail_next(2, status=status)
    for _ in range(2):
        with pytest.raises(groq.InternalServerError) as raised:
            await ask(client)
        assert raised.value.status_code == status
        assert error_of(raised.value)["type"] == "internal_server_error"
    await ask(client)


async def test_rules_can_target_one_key_or_one_model(standin: GroqStandIn, client: groq.AsyncGroq) -> None:
    standin.fail_next(None, status=500, api_key="gsk_broken")
    standin.fail_next(None, status=404, model="retired-model")
    async with groq.AsyncGroq(api_key="gsk_broken", base_url=standin.base_url, max_retries=0) as broken:
        for _ in range(3):
            with pytest.raises(groq.InternalServerError):
                await ask(broken)
    with pytest.raises(groq.NotFoundError):
        await ask(client, model="retired-model")
    assert (await ask(client)).startswith(OFFLINE_LABEL)
    assert standin.faults.pending() == 2


async def test_slow_answers_trip_the_sdk_timeout(standin: GroqStandIn) -> None:
    standin.slow(0.5, n=1)
    async with groq.AsyncGroq(
        api_key="gsk_k", base_url=standin.base_url, max_retries=0, timeout=0.15
    ) as impatient:
        with pytest.raises(groq.APITimeoutError):
            await ask(impatient)
        started = time.perf_counter()
        await ask(impatient)
    assert time.perf_counter() - started < 0.15


async def test_streaming_is_refused_in_groq_error_shape(standin: GroqStandIn, client: groq.AsyncGroq) -> None:
    with pytest.raises(groq.BadRequestError) as raised:
        await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x"}], stream=True
        )
    assert error_of(raised.value)["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, {"model": MODEL, "messages": [{"role": "user", "content": "x"}]}, 401),
        ({"authorization": "Bearer gsk_k"}, {"messages": [{"role": "user", "content": "x"}]}, 400),
        ({"authorization": "Bearer gsk_k"}, {"model": MODEL, "messages": []}, 400),
        ({"authorization": "Bearer gsk_k"}, [1, 2], 400),
    ],
)
async def test_invalid_requests_get_groq_errors(
    standin: GroqStandIn, headers: dict[str, str], body: object, status: int
) -> None:
    async with httpx.AsyncClient(base_url=standin.base_url) as http:
        response = await http.post("/openai/v1/chat/completions", json=body, headers=headers)
    assert response.status_code == status
    assert set(response.json()["error"]) >= {"message", "type"}
    assert [r.status for r in standin.requests] == [status]


async def test_unknown_url_is_a_groq_404(standin: GroqStandIn) -> None:
    async with httpx.AsyncClient(base_url=standin.base_url) as http:
        response = await http.post("/v1/chat/completions", json={})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_url"


async def test_wait_for_requests(standin: GroqStandIn, client: groq.AsyncGroq) -> None:
    await ask(client, "un")
    seen = await standin.recorder.wait_for(1, where=lambda r: r.last_user_message == "un")
    assert isinstance(seen[0], GroqRequest)
    with pytest.raises(TimeoutError, match="got 0"):
        await standin.recorder.wait_for(1, timeout=0.05, where=lambda r: r.last_user_message == "deux")


async def test_a_call_slowed_past_a_reset_is_not_counted_after_it(standin: GroqStandIn) -> None:
    standin.slow(0.5, n=1)
    async with groq.AsyncGroq(
        api_key="gsk_k", base_url=standin.base_url, max_retries=0, timeout=0.1
    ) as impatient:
        with pytest.raises(groq.APITimeoutError):
            await ask(impatient)  # the previous test's call, still sleeping in the stand-in

    standin.reset()  # the next test starts
    await asyncio.sleep(0.6)  # the slowed call ends now

    assert standin.requests == []
