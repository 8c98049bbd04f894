"""Any POST to /webhook gets a 4xx or a 200, never a 5xx or an exception (the hand-off here always succeeds)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forwarder.app import create_app
from shared.signature import sign
from standins.lambda_invoke import LambdaInvokeStandin
from tests.forwarder.support import APP_SECRETS, SETTINGS

MAX_BODY = 3000

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
whatsappish = st.fixed_dictionaries(
    {"object": st.sampled_from(["whatsapp_business_account", "page", ""])},
    optional={
        "entry": st.one_of(
            json_values,
            st.lists(
                st.fixed_dictionaries(
                    {"id": json_values},
                    optional={"changes": st.one_of(json_values, st.lists(json_values, max_size=3))},
                ),
                max_size=3,
            ),
        )
    },
)
bodies = st.one_of(
    st.binary(max_size=MAX_BODY + 200),
    json_values.map(lambda value: json.dumps(value).encode()),
    whatsappish.map(lambda value: json.dumps(value, ensure_ascii=False).encode()),
)
signatures = st.one_of(
    st.none(),
    st.just("valid"),
    st.just("truncated"),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80),
)
extra_headers = st.dictionaries(
    st.sampled_from(["content-type", "x-forwarded-for", "user-agent", "x-hub-signature"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    max_size=3,
)


@pytest.fixture
async def asgi_client(lambda_standin: LambdaInvokeStandin) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(replace(SETTINGS, max_body_bytes=MAX_BODY))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://forwarder") as client:
        yield client
    await app.state.runtime.aclose()


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, signature=signatures, headers=extra_headers)
async def test_no_input_makes_the_forwarder_fail(
    asgi_client: httpx.AsyncClient,
    lambda_standin: LambdaInvokeStandin,
    body: bytes,
    signature: str | None,
    headers: dict[str, str],
) -> None:
    if signature == "valid":
        signature = sign(APP_SECRETS[0], body)
    elif signature == "truncated":
        signature = sign(APP_SECRETS[1], body)[:-1]
    if signature is not None:
        headers = headers | {"x-hub-signature-256": signature}
    before = len(lambda_standin.accepted)

    response = await asgi_client.post("/webhook", content=body, headers=headers)

    assert response.status_code in {200, 400, 401, 413}
    if len(body) > MAX_BODY:
        assert response.status_code == 413
    forwarded = len(lambda_standin.accepted) - before
    if response.status_code != 200:
        assert forwarded == 0
    else:
        payload = json.loads(body)
        is_handed_off = isinstance(payload, dict) and payload.get("object") == "whatsapp_business_account"
        is_handed_off = is_handed_off and isinstance(payload.get("entry"), list)
        assert forwarded == (1 if is_handed_off else 0)
