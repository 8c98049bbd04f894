"""The pure parts of `make invoke`: which replies a status event needs, when a sample tenant is as
the events need it, the environment the functions get, and how results are told."""

from __future__ import annotations

import base64
import json
import os
from uuid import uuid4

import pytest

from admin.configs import TenantCredentials
from admin.records import Tenant
from admin.secrets_input import Secret
from infra.sample_events import CATALOG, HANDLER, TEST_APP_SECRET, load_event
from localrun.invoke.environment import function_environment, patched_environ
from localrun.invoke.functions import FunctionResult, Invocation
from localrun.invoke.preconditions import (
    SAMPLE_TENANTS,
    SAMPLE_WEB_CHAT_KEY,
    WEB_CHAT_TENANT_ID,
    ReportedReply,
    credentials_match,
    reported_replies,
)
from localrun.invoke.report import excerpt, json_body, notes
from providers.groq_models import DEFAULT_CHAT_MODEL

MAIN = SAMPLE_TENANTS[0]


def test_the_web_chat_event_names_the_prepared_tenant_and_carries_its_key() -> None:
    event = load_event("http-api-web-chat.json")

    assert json.loads(event["body"])["webUserId"] == str(WEB_CHAT_TENANT_ID) == str(MAIN.user_id)
    assert event["headers"]["authorization"] == f"Bearer {SAMPLE_WEB_CHAT_KEY}"


def test_the_sample_tenants_have_the_numbers_the_events_name_and_offline_secrets() -> None:
    assert [t.phone_number_id for t in SAMPLE_TENANTS] == ["123456789", "111111111", "222222222"]
    assert all(t.groq_api_key.startswith("gsk_offline_") for t in SAMPLE_TENANTS)  # Groq's key shape
    assert all(t.access_token not in repr(t) and t.groq_api_key not in repr(t) for t in SAMPLE_TENANTS)


def test_a_status_event_needs_the_reply_it_reports_on_and_other_events_need_none() -> None:
    assert reported_replies(load_event("envelope-status.json")) == (
        ReportedReply(
            phone_number_id="123456789",
            wa_message_id="wamid.HBgMMjQyMDY2NTgyNjEwFQIAERgSRVZFTlQtU1RBVFVTLVJFUExZAA==",
            customer="242066582610",
        ),
    )
    others = [event.file for event in CATALOG if event.file != "envelope-status.json"]
    assert all(reported_replies(load_event(name)) == () for name in others)


def credentials(**changes: object) -> TenantCredentials:
    values: dict[str, object] = {
        "tenant": Tenant(id=uuid4(), email=MAIN.email),
        "phone_number_id": MAIN.phone_number_id,
        "active": True,
        "graph_api_version": None,
        "model": DEFAULT_CHAT_MODEL,
        "access_token": Secret(MAIN.access_token),
        "groq_api_key": Secret(MAIN.groq_api_key),
        "access_token_unreadable": False,
        "groq_api_key_unreadable": False,
    }
    values.update(changes)
    return TenantCredentials(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"active": False},
        {"phone_number_id": "999"},
        {"access_token": Secret("EAA-someone-elses")},
        {"access_token": None},
        {"groq_api_key": Secret("gsk_someone_elses")},
        {"model": "openai/gpt-oss-20b"},
    ],
)
def test_a_tenant_changed_in_any_way_the_events_depend_on_is_not_ready(changes: dict[str, object]) -> None:
    assert credentials_match(credentials(), MAIN)
    assert not credentials_match(credentials(**changes), MAIN)
    assert not credentials_match(None, MAIN)


def test_the_functions_get_the_test_secrets_and_the_stand_ins_and_nothing_pointing_elsewhere() -> None:
    env = {"HANDLER_URL": "http://elsewhere", "PARKING_BUCKET": "b", "AWS_ACCESS_KEY_ID": "AKIAREAL"}

    changes = function_environment(
        database_url="postgresql:///x",
        groq_base_url="http://127.0.0.1:1",
        graph_base_url="http://127.0.0.1:2",
        lambda_endpoint_url="http://127.0.0.1:3",
        env=env,
    )

    assert changes["META_APP_SECRET"] == TEST_APP_SECRET
    assert (changes["HANDLER_FUNCTION_NAME"], changes["AWS_ENDPOINT_URL_LAMBDA"]) == (
        HANDLER,
        "http://127.0.0.1:3",
    )
    assert changes["HANDLER_URL"] is None and changes["PARKING_BUCKET"] is None
    assert changes["AWS_ACCESS_KEY_ID"] == "testing"  # never a real credential sent to the stand-in
    assert changes["POWERTOOLS_METRICS_DISABLED"] == "true"  # no EMF lines in the report unless asked
    with_kms = function_environment(
        database_url="",
        groq_base_url="",
        graph_base_url="",
        lambda_endpoint_url=None,
        env={**env, "KMS_KEY_ID": "arn:aws:kms:eu-west-1:1:key/k"},
    )
    assert "AWS_ACCESS_KEY_ID" not in with_kms  # KMS needs the operator's own
    assert with_kms["HANDLER_FUNCTION_NAME"] is None


def test_the_environment_is_put_back_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOKE_TEST_KEPT", "before")
    monkeypatch.delenv("INVOKE_TEST_ADDED", raising=False)

    with patched_environ({"INVOKE_TEST_KEPT": None, "INVOKE_TEST_ADDED": "during"}):
        assert "INVOKE_TEST_KEPT" not in os.environ and os.environ["INVOKE_TEST_ADDED"] == "during"

    assert os.environ["INVOKE_TEST_KEPT"] == "before" and "INVOKE_TEST_ADDED" not in os.environ


def test_an_http_body_is_decoded_when_it_is_json() -> None:
    payload = {"status": "healthy"}
    encoded = base64.b64encode(json.dumps(payload).encode()).decode()

    assert json_body({"statusCode": 200, "body": json.dumps(payload)}) == payload
    assert json_body({"statusCode": 200, "body": encoded, "isBase64Encoded": True}) == payload
    assert json_body({"statusCode": 200, "body": "EVENT_RECEIVED"}) is None
    assert json_body({"success": True, "messages": {}}) is None


def test_a_duplicate_is_explained_not_reported_as_a_failure() -> None:
    def handler_returned(result: object) -> Invocation:
        return Invocation(main=FunctionResult(function=HANDLER, result=result))

    assert "a duplicate" in notes(handler_returned({"messages": {"duplicate": 1}}))[0]
    assert notes(handler_returned({"messages": {"replied": 1}})) == []
    assert notes(handler_returned({"statusCode": 200})) == []


def test_excerpts_are_short_single_line_and_quoted() -> None:
    assert excerpt("Bonjour,\nça va ?") == '"Bonjour, ça va ?"'
    assert len(excerpt("x" * 500)) < 80 and excerpt(None) == "-"
