"""The forwarder's refusals: the same status and body as before the shared rule, and the status the
shared rule (shared/signature.py) and the error table (shared/errors.py) give the handler too."""

from __future__ import annotations

import httpx
import pytest

from shared.errors import Forbidden, InvalidInput, handling_of
from shared.signature import SignatureCheck, sign, signature_refusal
from standins.lambda_invoke import LambdaInvokeStandin
from standins.meta import signed_request, text_webhook, verification_params
from tests.forwarder.conftest import StartForwarder
from tests.forwarder.servers import LiveServer
from tests.forwarder.support import APP_SECRETS, VERIFY_TOKEN


def post_signed(client: httpx.Client, server: LiveServer, body: bytes, secret: str) -> httpx.Response:
    headers = {"content-type": "application/json", "x-hub-signature-256": sign(secret, body)}
    return client.post(f"{server.url}/webhook", content=body, headers=headers)


@pytest.mark.parametrize(
    ("secret", "check"),
    [("not-our-secret", SignatureCheck.MISMATCH), (APP_SECRETS[0], SignatureCheck.NO_SECRET)],
)
def test_a_signature_refusal_answers_what_the_shared_rule_rules(
    client: httpx.Client,
    start_forwarder: StartForwarder,
    lambda_standin: LambdaInvokeStandin,
    secret: str,
    check: SignatureCheck,
) -> None:
    overrides = {"meta_app_secrets": ()} if check is SignatureCheck.NO_SECRET else {}
    server = start_forwarder(**overrides)
    body, _ = signed_request(text_webhook("Bonjour"), secret)

    response = post_signed(client, server, body, secret)

    refusal = signature_refusal(check, "META_APP_SECRET")
    assert refusal is not None
    assert response.status_code == handling_of(refusal).http_status
    expected = {
        SignatureCheck.MISMATCH: (401, "invalid signature"),
        SignatureCheck.NO_SECRET: (503, "not configured"),
    }
    assert (response.status_code, response.text) == expected[check]
    assert lambda_standin.invocations == []


@pytest.mark.parametrize(
    "params",
    [
        verification_params("wrong-token"),
        {**verification_params(VERIFY_TOKEN), "hub.mode": "unsubscribe"},
        {"hub.challenge": "123"},
    ],
)
def test_a_refused_handshake_is_the_tables_forbidden_with_the_same_body(
    client: httpx.Client, forwarder: LiveServer, params: dict[str, str]
) -> None:
    response = client.get(f"{forwarder.url}/webhook", params=params)

    assert (response.status_code, response.text) == (403, "forbidden")
    assert response.status_code == handling_of(Forbidden()).http_status


def test_the_handshake_echoes_the_challenge_as_the_shared_rule_does(
    client: httpx.Client, forwarder: LiveServer
) -> None:
    params = {**verification_params(VERIFY_TOKEN), "hub.challenge": "1158201444"}

    response = client.get(f"{forwarder.url}/webhook", params=params)

    assert (response.status_code, response.text) == (200, "1158201444")


def test_malformed_json_is_the_tables_invalid_input_with_the_same_body(
    client: httpx.Client, forwarder: LiveServer, lambda_standin: LambdaInvokeStandin
) -> None:
    response = post_signed(client, forwarder, b"{not json", APP_SECRETS[0])

    assert (response.status_code, response.text) == (400, "malformed JSON")
    assert response.status_code == handling_of(InvalidInput()).http_status
    assert lambda_standin.invocations == []


def test_a_failed_hand_off_is_503_with_the_same_body(
    client: httpx.Client, start_forwarder: StartForwarder, lambda_standin: LambdaInvokeStandin
) -> None:
    server = start_forwarder(handler_function_name="no-such-function")
    body, _ = signed_request(text_webhook("Bonjour"), APP_SECRETS[0])

    response = post_signed(client, server, body, APP_SECRETS[0])

    assert (response.status_code, response.text) == (503, "hand-off failed, retry later")


def test_no_handler_target_is_503_not_configured(
    client: httpx.Client, start_forwarder: StartForwarder
) -> None:
    server = start_forwarder(handler_function_name="")
    body, _ = signed_request(text_webhook("Bonjour"), APP_SECRETS[0])

    response = post_signed(client, server, body, APP_SECRETS[0])

    assert (response.status_code, response.text) == (503, "not configured")


def test_the_forwarder_keeps_no_copy_of_the_signature_rule_or_the_handshake() -> None:
    import forwarder.app

    source = forwarder.app.__loader__.get_source("forwarder.app")  # type: ignore[union-attr]
    assert source is not None
    assert "hmac" not in source and "hub.verify_token" not in source
    assert "signature_refusal(" in source and "handshake_challenge(" in source
