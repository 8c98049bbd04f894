"""The application metrics: the EMF lines the real handler writes to stdout, once per invocation (or
HTTP request), read back as CloudWatch would read them; never a tenant, a customer or a secret."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from handler.adapters.metrics import MetricsRecorder
from handler.app import create_app
from handler.errors import RetryLater
from handler.model import Outcome
from handler.settings import HandlerSettings
from shared.envelope import Envelope
from shared.signature import sign
from standins import meta
from standins.graph import GraphStandIn
from standins.groq import GroqStandIn
from tenant_secrets.secrets_crypto import SecretColumn
from tests.factories import SeededTenant, add_tenant, issue_web_chat_key, seal
from tests.handler.conftest import SEED_ROUTE_KEY, LambdaContainer, LambdaTestContext
from tests.handler.events import APP_SECRET, business_of, envelope_event, function_url_event
from tests.handler.test_media import photo_of, voice_note_of, webhook
from tests.handler.test_web_chat_keys import chat_event
from tests.media_samples import image_message, voice_note_message

CUSTOMER = "242066582610"
NAMESPACE = "WhatsAppAssistant"
# Every dimension a metric may have: none names a tenant, a customer or a message.
DIMENSIONS = {"service", "Outcome", "Reason", "Column", "Kind"}
OTHER_CUSTOMER = "33700000000"


@dataclass(frozen=True, slots=True)
class MetricLine:
    """One EMF line: its namespace, dimension sets, dimension values and metric values."""

    namespace: str
    dimension_sets: list[list[str]]
    dimensions: dict[str, str]
    units: dict[str, str]
    values: dict[str, list[float]]


def metric_lines(printed: str) -> list[MetricLine]:
    lines = []
    for raw in printed.splitlines():
        if not raw.startswith('{"_aws"'):
            continue
        entry = json.loads(raw)
        [directive] = entry["_aws"]["CloudWatchMetrics"]
        names = {definition["Name"]: definition["Unit"] for definition in directive["Metrics"]}
        dimension_names = {name for dimension_set in directive["Dimensions"] for name in dimension_set}
        lines.append(
            MetricLine(
                namespace=directive["Namespace"],
                dimension_sets=directive["Dimensions"],
                dimensions={name: entry[name] for name in dimension_names},
                units=names,
                values={name: entry[name] for name in names},
            )
        )
    return lines


def values(lines: list[MetricLine], metric: str, **dimensions: str) -> list[float]:
    """Every value of `metric` in lines with these dimension values (and no other but `service`)."""
    return [
        value
        for line in lines
        if metric in line.values and line.dimensions == {"service": "handler", **dimensions}
        for value in line.values[metric]
    ]


def total(lines: list[MetricLine], metric: str, **dimensions: str) -> float:
    return sum(values(lines, metric, **dimensions))


def documents(lines: list[MetricLine]) -> dict[frozenset[tuple[str, str]], set[str]]:
    """Each EMF document as its dimension values (besides `service`) and its metric names; an
    invocation writing one document twice for the same values would fail here."""
    found: dict[frozenset[tuple[str, str]], set[str]] = {}
    for line in lines:
        key = frozenset((name, value) for name, value in line.dimensions.items() if name != "service")
        assert key not in found, f"two documents for {sorted(key)}"
        found[key] = set(line.values)
    return found


def assert_nothing_personal(printed: str, tenant: SeededTenant) -> None:
    for line in metric_lines(printed):
        assert line.namespace == NAMESPACE
        assert set(line.dimensions) <= DIMENSIONS
    for private in (CUSTOMER, str(tenant.user_id), tenant.access_token, tenant.groq_key, APP_SECRET):
        assert private not in printed


@pytest.fixture
def stdout(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    capsys.readouterr()  # what earlier fixtures printed is not this test's
    yield capsys


def hello(tenant: SeededTenant, text: str = "Hello") -> dict[str, Any]:
    return envelope_event(meta.text_webhook(text, sender=CUSTOMER, business=business_of(tenant)))


def signed_envelope(payload: object, secret: str) -> dict[str, Any]:
    body = json.dumps(payload, separators=(",", ":"))
    return Envelope(body=body, signature=sign(secret, body.encode()), received_at=time.time()).to_dict()


async def test_a_replied_message_is_counted_with_its_outcome_and_groq_and_graph_latency(
    db: asyncpg.Connection, container: LambdaContainer, stdout: pytest.CaptureFixture[str]
) -> None:
    tenant = await add_tenant(db, 1)

    result = await container.invoke(hello(tenant))

    assert result["messages"] == {"replied": 1}
    printed = stdout.readouterr().out
    lines = metric_lines(printed)
    assert total(lines, "Messages", Outcome="replied") == 1
    [messages] = [line for line in lines if "Messages" in line.values]
    # Published per outcome and, from the same line, as the total the alarms read.
    assert messages.dimension_sets == [["Outcome", "service"], ["service"]]
    assert messages.units == {"Messages": "Count"}
    assert total(lines, "Answered") == 1 and total(lines, "Fallbacks") == 0
    [groq_ms] = values(lines, "GroqLatency")
    [graph_ms] = values(lines, "GraphSendLatency")
    assert groq_ms > 0 and graph_ms > 0
    latency = next(line for line in lines if "GroqLatency" in line.values)
    assert latency.units["GroqLatency"] == "Milliseconds" and latency.dimension_sets == [["service"]]
    # Exactly one document per set of dimension values, all written at the end of the invocation.
    assert documents(lines) == {
        frozenset(): {"Answered", "GroqLatency", "GraphSendLatency"},
        frozenset({("Outcome", "replied")}): {"Messages"},
    }
    assert_nothing_personal(printed, tenant)


async def test_a_groq_outage_counts_retry_later_on_each_raising_attempt_then_the_fallback(
    db: asyncpg.Connection,
    container: LambdaContainer,
    groq: GroqStandIn,
    stdout: pytest.CaptureFixture[str],
) -> None:
    tenant = await add_tenant(db, 1)
    groq.fail_next(None, status=503)
    event, context = hello(tenant), LambdaTestContext()

    for _ in range(2):  # while Lambda's retries remain, each attempt raises RetryLater
        with pytest.raises(RetryLater):
            await container.invoke(event, context)
        lines = metric_lines(stdout.readouterr().out)
        assert total(lines, "Messages", Outcome="retry_later") == 1  # written although it raised
        assert total(lines, "Answered") == 0 and values(lines, "GroqLatency") == []

    result = await container.invoke(event, context)  # the last attempt: the fallback text

    assert result["messages"] == {"replied": 1}
    printed = stdout.readouterr().out
    lines = metric_lines(printed)
    assert total(lines, "Fallbacks", Reason="groq_unavailable") == 1
    assert total(lines, "Answered") == 1 and total(lines, "Messages", Outcome="replied") == 1
    [fallbacks] = [line for line in lines if "Fallbacks" in line.values]
    assert fallbacks.dimension_sets == [["Reason", "service"], ["service"]]
    assert values(lines, "GroqLatency") == []  # no completion succeeded
    assert documents(lines) == {
        frozenset(): {"Answered", "GraphSendLatency"},
        frozenset({("Reason", "groq_unavailable")}): {"Fallbacks"},
        frozenset({("Outcome", "replied")}): {"Messages"},
    }
    assert_nothing_personal(printed, tenant)


async def test_a_rejected_groq_key_is_a_fallback_of_its_own_reason(
    db: asyncpg.Connection,
    container: LambdaContainer,
    groq: GroqStandIn,
    stdout: pytest.CaptureFixture[str],
) -> None:
    tenant = await add_tenant(db, 1)
    groq.fail_next(None, status=401, code="invalid_api_key")

    await container.invoke(hello(tenant))

    lines = metric_lines(stdout.readouterr().out)
    assert total(lines, "Fallbacks", Reason="groq_rejected") == 1 and total(lines, "Answered") == 1


async def test_a_voice_note_transcribed_and_an_image_seen_are_counted_by_kind(
    db: asyncpg.Connection,
    container: LambdaContainer,
    groq: GroqStandIn,
    graph: GraphStandIn,
    stdout: pytest.CaptureFixture[str],
) -> None:
    tenant = await add_tenant(db, 1)
    groq.transcribe = lambda request: "Vous livrez samedi ?"
    voice_note = voice_note_message(voice_note_of(graph, tenant), sender=CUSTOMER)
    photo = image_message(photo_of(graph, tenant), "Le menu", sender=OTHER_CUSTOMER)

    result = await container.invoke(envelope_event(webhook(tenant, voice_note, photo)))

    assert result["messages"] == {"replied": 2}
    printed = stdout.readouterr().out
    lines = metric_lines(printed)
    assert total(lines, "Media", Kind="audio", Outcome="transcribed") == 1
    assert total(lines, "Media", Kind="image", Outcome="seen") == 1
    media = next(line for line in lines if "Media" in line.values)
    # Published by kind and outcome and, from the same line, by outcome over every kind.
    assert media.dimension_sets == [["Kind", "Outcome", "service"], ["Outcome", "service"]]
    # The transcript is answered like a text (Answered); the image by the vision model, not a text.
    assert total(lines, "Answered") == 1 and total(lines, "Messages", Outcome="replied") == 2
    assert len(values(lines, "GroqLatency")) == 2 and len(values(lines, "GraphSendLatency")) == 2
    assert "Vous livrez" not in printed and OTHER_CUSTOMER not in printed
    assert_nothing_personal(printed, tenant)


async def test_media_not_understood_is_counted_as_fallen_back_by_kind(
    db: asyncpg.Connection,
    container: LambdaContainer,
    groq: GroqStandIn,
    graph: GraphStandIn,
    stdout: pytest.CaptureFixture[str],
) -> None:
    tenant = await add_tenant(db, 1)
    groq.fail_transcriptions(None, status=401)  # for good: the notice at once
    await db.execute("UPDATE user_groq_config SET vision_model = 'openai/gpt-oss-120b'")  # cannot see
    voice_note = voice_note_message(voice_note_of(graph, tenant), sender=CUSTOMER)
    photo = image_message(photo_of(graph, tenant), "Le menu", sender=OTHER_CUSTOMER)

    await container.invoke(envelope_event(webhook(tenant, voice_note, photo)))

    lines = metric_lines(stdout.readouterr().out)
    assert total(lines, "Media", Kind="audio", Outcome="fell_back") == 1
    assert total(lines, "Media", Kind="image", Outcome="fell_back") == 1
    assert values(lines, "Media", Kind="audio", Outcome="transcribed") == []
    # The notice is not the AI's turn: neither an answer nor a Groq fallback.
    assert total(lines, "Answered") == 0 and total(lines, "Fallbacks") == 0


async def test_a_retired_model_counts_a_substitution(
    db: asyncpg.Connection, container: LambdaContainer, stdout: pytest.CaptureFixture[str]
) -> None:
    tenant = await add_tenant(db, 1, model="llama-3.3-70b-versatile")  # the Groq stand-in answers 404

    result = await container.invoke(hello(tenant))

    assert result["messages"] == {"replied": 1}
    printed = stdout.readouterr().out
    lines = metric_lines(printed)
    assert total(lines, "ModelSubstitutions") == 1
    assert total(lines, "Answered") == 1 and total(lines, "Fallbacks") == 0
    assert len(values(lines, "GroqLatency")) == 1  # the default model's answer; the refusal is not
    assert documents(lines) == {
        frozenset(): {"Answered", "GroqLatency", "GraphSendLatency", "ModelSubstitutions"},
        frozenset({("Outcome", "replied")}): {"Messages"},
    }
    assert "llama" not in printed  # the model is the tenant's choice: in the logs, not a metric
    assert_nothing_personal(printed, tenant)


async def test_an_undecryptable_app_secret_is_counted_and_its_message_refused(
    db: asyncpg.Connection, container: LambdaContainer, stdout: pytest.CaptureFixture[str]
) -> None:
    tenant = await add_tenant(db, 1, app_secret="tenant-own-app-secret")
    # A ciphertext sealed for another column (a row copied by hand): it can never be decrypted here.
    await db.execute(
        "UPDATE user_whatsapp_config SET app_secret = $1",
        seal("tenant-own-app-secret", SecretColumn.ACCESS_TOKEN, tenant.user_id),
    )

    result = await container.invoke(hello(tenant))

    assert result["messages"] == {"refused": 1}
    printed = stdout.readouterr().out
    lines = metric_lines(printed)
    assert total(lines, "UndecryptableSecrets", Column="user_whatsapp_config.app_secret") == 1
    undecryptable = next(line for line in lines if "UndecryptableSecrets" in line.values)
    assert undecryptable.dimension_sets == [["Column", "service"], ["service"]]
    assert total(lines, "Refusals", Reason="tenant_proof") == 1
    assert total(lines, "Messages", Outcome="refused") == 1
    assert "tenant-own-app-secret" not in printed
    assert_nothing_personal(printed, tenant)


async def test_an_undecryptable_groq_key_is_counted_and_the_message_has_no_groq(
    db: asyncpg.Connection, container: LambdaContainer, stdout: pytest.CaptureFixture[str]
) -> None:
    tenant = await add_tenant(db, 1)
    await db.execute(
        "UPDATE user_groq_config SET api_key = $1",
        seal(tenant.groq_key, SecretColumn.ACCESS_TOKEN, tenant.user_id),
    )

    await container.invoke(hello(tenant))

    lines = metric_lines(stdout.readouterr().out)
    assert total(lines, "UndecryptableSecrets", Column="user_groq_config.api_key") == 1
    assert total(lines, "Messages", Outcome=Outcome.NO_GROQ.value) == 1


async def test_a_web_chat_reply_is_a_replied_message_and_a_wrong_key_a_refusal(
    db: asyncpg.Connection, container: LambdaContainer, stdout: pytest.CaptureFixture[str]
) -> None:
    tenant = await add_tenant(db, 1)
    key = await issue_web_chat_key(db, tenant.user_id)

    answered = await container.invoke(chat_event(tenant.user_id, key))
    replied = metric_lines(stdout.readouterr().out)
    refused = await container.invoke(chat_event(tenant.user_id, "wck_guess"))
    wrong_key = metric_lines(stdout.readouterr().out)

    assert (answered["statusCode"], refused["statusCode"]) == (200, 401)
    assert total(replied, "Messages", Outcome="replied") == 1 and total(replied, "Answered") == 1
    assert len(values(replied, "GroqLatency")) == 1 and values(replied, "GraphSendLatency") == []
    assert total(wrong_key, "Refusals", Reason="web_chat_key") == 1 and len(wrong_key) == 1
    assert key not in str(replied + wrong_key)


async def test_a_status_not_proven_for_the_tenants_own_app_is_a_refusal(
    db: asyncpg.Connection,
    container: LambdaContainer,
    graph: GraphStandIn,
    stdout: pytest.CaptureFixture[str],
) -> None:
    tenant = await add_tenant(db, 1, app_secret="tenant-own-app-secret")
    payload = meta.text_webhook("Hello", sender=CUSTOMER, business=business_of(tenant))
    await container.invoke(signed_envelope(payload, "tenant-own-app-secret"))
    [sent] = graph.delivered
    receipt = meta.webhook_payload(
        meta.statuses_change(meta.status(sent.wamid or "", "read"), business=business_of(tenant))
    )
    stdout.readouterr()

    forged = await container.invoke(signed_envelope(receipt, APP_SECRET))  # the deployment's secret only

    assert forged["statuses_unmatched"] == 1
    lines = metric_lines(stdout.readouterr().out)
    assert total(lines, "Refusals", Reason="status_proof") == 1 and len(lines) == 1


async def test_a_forged_signature_through_a_function_url_is_a_refusal(
    db: asyncpg.Connection, container: LambdaContainer, stdout: pytest.CaptureFixture[str]
) -> None:
    await add_tenant(db, 1)
    forged = function_url_event(
        "POST", "/webhook", body=b"{}", headers={"x-hub-signature-256": "sha256=" + "0" * 64}
    )

    response = await container.invoke(forged)

    assert response["statusCode"] == 401
    lines = metric_lines(stdout.readouterr().out)
    assert total(lines, "Refusals", Reason="signature") == 1
    assert len(lines) == 1  # written once: by the app after the request, not again by the entry


async def test_the_local_server_writes_each_requests_metrics_when_it_ends(
    handler_environment: Mapping[str, str], db: asyncpg.Connection, stdout: pytest.CaptureFixture[str]
) -> None:
    app = create_app(HandlerSettings.from_env())
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://handler") as client:
            forged = await client.post("/webhook", content=b"{}", headers={"x-hub-signature-256": "sha256=0"})
            first = metric_lines(stdout.readouterr().out)
            wrong_key = await client.post(
                "/functions/v1/api-chatbot", json={}, headers={"authorization": "Bearer guess"}
            )
            second = metric_lines(stdout.readouterr().out)
            keyless = await client.post("/chat", json={})
            third = metric_lines(stdout.readouterr().out)
    finally:
        await app.state.runtime.close()

    assert (forged.status_code, wrong_key.status_code, keyless.status_code) == (401, 401, 401)
    assert total(first, "Refusals", Reason="signature") == 1
    assert total(second, "Refusals", Reason="seed_route_key") == 1 and len(second) == 1
    assert total(third, "Refusals", Reason="web_chat_key") == 1 and len(third) == 1
    assert SEED_ROUTE_KEY not in str(second)


def test_nothing_recorded_writes_nothing_and_a_disabled_recorder_records_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    recorder = MetricsRecorder(namespace=NAMESPACE, service="handler")
    recorder.flush()
    disabled = MetricsRecorder(namespace=NAMESPACE, service="handler", enabled=False)
    disabled.message(Outcome.REPLIED)
    disabled.flush()
    assert capsys.readouterr().out == ""


def test_a_hundred_values_of_one_metric_are_all_written(capsys: pytest.CaptureFixture[str]) -> None:
    recorder = MetricsRecorder(namespace=NAMESPACE, service="handler")
    for _ in range(150):
        recorder.message(Outcome.DUPLICATE)
    recorder.flush()  # Powertools wrote the first 100 by itself (its limit per line)
    lines = metric_lines(capsys.readouterr().out)
    assert [len(line.values["Messages"]) for line in lines] == [100, 50]


@pytest.mark.parametrize(
    ("env", "enabled"),
    [
        ({}, True),
        ({"POWERTOOLS_DEV": "true"}, False),  # Powertools' development mode prints no metric
        ({"POWERTOOLS_DEV": "true", "POWERTOOLS_METRICS_DISABLED": "false"}, True),
        ({"POWERTOOLS_METRICS_DISABLED": "true"}, False),
    ],
)
def test_metrics_are_on_unless_powertools_own_variables_turn_them_off(
    env: dict[str, str], enabled: bool
) -> None:
    settings = HandlerSettings.from_env({"DATABASE_URL": "postgresql://db/x", **env})
    assert settings.metrics_enabled is enabled
    assert (settings.metrics_namespace, settings.metrics_service) == (NAMESPACE, "handler")
