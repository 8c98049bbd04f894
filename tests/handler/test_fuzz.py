"""Any signed payload, however odd, gets a clear 4xx or a clean skip from the handler: never a 5xx,
never an unhandled exception (Meta would retry a 5xx for days)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handler.app import create_app
from handler.settings import HandlerSettings
from shared.signature import sign
from tests.handler.conftest import SEED_ROUTE_KEY
from tests.handler.events import APP_SECRET

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
# Values Postgres cannot store as they are: NUL, lone surrogates (half an emoji), index-busting lengths.
unstorable_text = st.one_of(
    st.sampled_from(["\x00", "33\x0061", "\ud83d", "wamid.\udc00", "9" * 3000, "wamid." + "A" * 3000]),
    st.text(alphabet=st.characters(categories=["Cs", "Cc"]), min_size=1, max_size=6),
)
loose_text = st.one_of(st.none(), st.integers(), st.text(max_size=12), st.just("123456789"), unstorable_text)
messages = st.fixed_dictionaries(
    {},
    optional={
        "from": loose_text,
        "id": loose_text,
        "timestamp": st.one_of(loose_text, st.just("99999999999999999999")),
        "type": st.sampled_from(["text", "image", "interactive", "reaction", "system", "nonsense", ""])
        | loose_text,
        "text": st.one_of(
            json_values, st.fixed_dictionaries({"body": st.one_of(loose_text, unstorable_text)})
        ),
        "interactive": json_values,
    },
)
whatsapp_payloads = st.fixed_dictionaries(
    {
        "object": st.just("whatsapp_business_account"),
        "entry": st.lists(
            st.fixed_dictionaries(
                {
                    "changes": st.lists(
                        st.fixed_dictionaries(
                            {
                                "field": st.sampled_from(["messages", "account_update"]) | loose_text,
                                "value": st.fixed_dictionaries(
                                    {},
                                    optional={
                                        "metadata": st.fixed_dictionaries(
                                            {}, optional={"phone_number_id": loose_text}
                                        ),
                                        "messages": st.lists(messages, max_size=3) | json_values,
                                        "statuses": st.lists(json_values, max_size=2),
                                    },
                                ),
                            }
                        ),
                        max_size=2,
                    )
                }
            ),
            max_size=2,
        )
        | json_values,
    }
)


# Well-formed messages whose fields may hold unstorable values: they reach Postgres.
storable_or_not = st.one_of(st.text(min_size=1, max_size=12), unstorable_text)
hostile_messages = st.lists(
    st.fixed_dictionaries(
        {
            "from": st.one_of(st.just("33612345678"), storable_or_not),
            "id": st.one_of(st.uuids().map(lambda u: f"wamid.{u.hex}"), storable_or_not),
            "timestamp": st.just("1765805875"),
            "type": st.just("text"),
            "text": st.fixed_dictionaries({"body": storable_or_not}),
        }
    ),
    min_size=1,
    max_size=3,
)
hostile_payloads = st.builds(
    lambda number, messages, errors: {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "waba",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"phone_number_id": number},
                            "messages": messages,
                            "statuses": [{"id": "wamid.x", "status": "failed", "errors": errors}],
                        },
                    }
                ],
            }
        ],
    },
    st.one_of(st.just("123456789"), storable_or_not),
    hostile_messages,
    st.lists(st.fixed_dictionaries({"code": st.integers(), "title": storable_or_not}), max_size=2),
)


@pytest.fixture
async def client(handler_environment: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(HandlerSettings.from_env())  # handler_environment has patched it
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://handler") as http:
        yield http
    await app.state.runtime.close()  # the app's pool lives on this test loop: close it with the test


async def post_signed(client: httpx.AsyncClient, path: str, body: bytes) -> httpx.Response:
    headers = {"x-hub-signature-256": sign(APP_SECRET, body), "content-type": "application/json"}
    return await client.post(path, content=body, headers=headers)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=whatsapp_payloads | json_values)
async def test_any_signed_payload_is_handled_or_refused_cleanly(
    client: httpx.AsyncClient, payload: Any
) -> None:
    response = await post_signed(client, "/webhook", json.dumps(payload).encode())
    assert response.status_code in (200, 400), response.text
    assert "Traceback" not in response.text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=hostile_payloads)
async def test_values_postgres_cannot_store_are_refused_or_cleaned_never_a_5xx(
    client: httpx.AsyncClient, payload: Any
) -> None:
    response = await post_signed(client, "/webhook", json.dumps(payload).encode())
    assert response.status_code == 200, response.text


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(depth=st.integers(min_value=500, max_value=60_000), opener=st.sampled_from(["[", '{"a":']))
async def test_deeply_nested_json_gets_a_400(client: httpx.AsyncClient, depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    body = (opener * depth + ("0" if opener == "[" else "1") + closer * depth).encode()
    response = await post_signed(client, "/webhook", body)
    assert response.status_code in (200, 400), response.text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=200))
async def test_any_bytes_get_a_4xx_or_a_skip(client: httpx.AsyncClient, body: bytes) -> None:
    response = await post_signed(client, "/webhook", body)
    assert response.status_code in (200, 400)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=json_values)
async def test_any_seed_request_gets_a_clear_answer(client: httpx.AsyncClient, payload: Any) -> None:
    response = await client.post(
        "/functions/v1/api-chatbot",
        content=json.dumps(payload).encode(),
        headers={"authorization": f"Bearer {SEED_ROUTE_KEY}"},
    )
    assert response.status_code in (200, 400, 503)
    assert "error" in response.json() or response.json().get("success") is True
