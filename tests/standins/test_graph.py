"""The Graph stand-in, driven with httpx as the handler drives Meta: sends, validation, every fault."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from standins.graph import MAX_TEXT_LENGTH, GraphStandIn
from standins.graph_errors import GRAPH_ERRORS

PHONE_A, TOKEN_A = "111111111111111", "EAA-tenant-a"
PHONE_B, TOKEN_B = "222222222222222", "EAA-tenant-b"
CUSTOMER = "33612345678"


@pytest.fixture(scope="module")
def shared_standin() -> Iterator[GraphStandIn]:
    with GraphStandIn(tokens={PHONE_A: TOKEN_A, PHONE_B: TOKEN_B}) as standin:
        yield standin


@pytest.fixture
def graph(shared_standin: GraphStandIn) -> GraphStandIn:
    shared_standin.reset()
    return shared_standin


@pytest.fixture
async def http(graph: GraphStandIn) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=graph.base_url) as client:
        yield client


def text_message(body: str = "Bonjour", to: str = CUSTOMER) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"preview_url": False, "body": body},
    }


async def send(
    http: httpx.AsyncClient,
    payload: object | None = None,
    *,
    phone: str = PHONE_A,
    token: str | None = TOKEN_A,
    version: str = "v24.0",
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return await http.post(f"/{version}/{phone}/messages", json=payload or text_message(), headers=headers)


def graph_error(response: httpx.Response) -> dict[str, Any]:
    error = response.json()["error"]
    assert isinstance(error, dict)
    assert isinstance(error["fbtrace_id"], str) and error["fbtrace_id"]
    return error


async def test_accepts_a_text_message_like_meta(graph: GraphStandIn, http: httpx.AsyncClient) -> None:
    response = await send(http, text_message("Bonjour", to="+33612345678"))
    assert response.status_code == 200
    data = response.json()
    wamid = data["messages"][0]["id"]
    assert wamid.startswith("wamid.")
    assert data == {
        "messaging_product": "whatsapp",
        "contacts": [{"input": "+33612345678", "wa_id": CUSTOMER}],
        "messages": [{"id": wamid}],
    }
    (sent,) = graph.delivered
    assert (sent.version, sent.phone_number_id, sent.token, sent.to, sent.body, sent.wamid) == (
        "v24.0",
        PHONE_A,
        TOKEN_A,
        "+33612345678",
        "Bonjour",
        wamid,
    )


async def test_every_message_gets_a_unique_wamid(graph: GraphStandIn, http: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(*(send(http, text_message(str(i))) for i in range(20)))
    assert len({r.json()["messages"][0]["id"] for r in responses}) == 20
    assert sorted(int(m.body or "") for m in graph.delivered_to(CUSTOMER)) == list(range(20))


async def test_each_tenant_uses_its_own_token(graph: GraphStandIn, http: httpx.AsyncClient) -> None:
    assert (await send(http, phone=PHONE_B, token=TOKEN_B)).status_code == 200
    wrong = await send(http, phone=PHONE_B, token=TOKEN_A)
    assert wrong.status_code == 401
    error = graph_error(wrong)
    assert (error["type"], error["code"]) == ("OAuthException", 190)
    assert TOKEN_A not in wrong.text
    assert [(m.phone_number_id, m.token, m.status, m.error_code) for m in graph.requests] == [
        (PHONE_B, TOKEN_B, 200, None),
        (PHONE_B, TOKEN_A, 401, 190),
    ]
    assert len(graph.delivered) == 1


async def test_unknown_number_and_missing_token(graph: GraphStandIn, http: httpx.AsyncClient) -> None:
    unknown = await send(http, phone="999")
    assert unknown.status_code == 400
    assert graph_error(unknown)["type"] == "GraphMethodException"
    assert (graph_error(unknown)["code"], graph_error(unknown)["error_subcode"]) == (100, 33)
    missing = await send(http, token=None)
    assert missing.status_code == 400 and graph_error(missing)["code"] == 104
    assert graph.delivered == []


async def test_without_registered_tokens_any_token_is_accepted() -> None:
    with GraphStandIn() as open_graph:
        async with httpx.AsyncClient(base_url=open_graph.base_url) as http:
            assert (await send(http, phone="42", token="anything")).status_code == 200
            open_graph.register("42", "right")
            assert (await send(http, phone="42", token="anything")).status_code == 401
            assert (await send(http, phone="42", token="right")).status_code == 200


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({**text_message(), "messaging_product": None}, "messaging_product"),
        ({**text_message(), "to": ""}, "to is required"),
        ({**text_message(), "text": {}}, "text['body']"),
        ({**text_message(), "type": "image"}, "image"),
        ([1, 2, 3], "JSON object"),
    ],
)
async def test_invalid_parameters_are_code_100(
    graph: GraphStandIn, http: httpx.AsyncClient, payload: object, fragment: str
) -> None:
    response = await send(http, payload)
    assert response.status_code == 400
    error = graph_error(response)
    assert error["code"] == 100
    assert fragment in error["message"] + error.get("error_data", {}).get("details", "")
    assert graph.delivered == []


async def test_text_longer_than_4096_characters_is_refused(
    graph: GraphStandIn, http: httpx.AsyncClient
) -> None:
    assert (await send(http, text_message("é" * MAX_TEXT_LENGTH))).status_code == 200
    too_long = await send(http, text_message("é" * (MAX_TEXT_LENGTH + 1)))
    assert too_long.status_code == 400
    error = graph_error(too_long)
    assert error["code"] == 100 and "4096" in error["error_data"]["details"]
    assert len(graph.delivered) == 1


@pytest.mark.parametrize(
    ("code", "status"),
    [(130429, 400), (131056, 400), (131000, 500), (131047, 400), (131026, 400), (131051, 400), (100, 400)],
)
async def test_scripted_whatsapp_errors(
    graph: GraphStandIn, http: httpx.AsyncClient, code: int, status: int
) -> None:
    graph.fail_next(1, code=code)
    response = await send(http)
    assert response.status_code == status
    error = graph_error(response)
    assert error["code"] == code
    assert error["type"] == "OAuthException"
    assert error["message"] == f"(#{code}) {GRAPH_ERRORS[code].title}"
    assert error["error_data"] == {"messaging_product": "whatsapp", "details": GRAPH_ERRORS[code].details}
    assert (await send(http)).status_code == 200
    assert [(m.status, m.error_code) for m in graph.requests] == [(status, code), (200, None)]


async def test_scripted_expired_token(graph: GraphStandIn, http: httpx.AsyncClient) -> None:
    graph.fail_next(1, code=190)
    response = await send(http)
    assert response.status_code == 401
    error = graph_error(response)
    assert (error["code"], error["error_subcode"]) == (190, 463)
    assert "access token" in error["message"]


async def test_status_can_be_overridden(graph: GraphStandIn, http: httpx.AsyncClient) -> None:
    graph.fail_next(1, code=130429, status=429)
    response = await send(http)
    assert response.status_code == 429 and graph_error(response)["code"] == 130429


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_http_5xx(graph: GraphStandIn, http: httpx.AsyncClient, status: int) -> None:
    graph.fail_next(1, status=status)
    response = await send(http)
    assert response.status_code == status
    error = graph_error(response)
    assert error["is_transient"] is True and error["code"] == 2


async def test_rules_target_one_number_and_recipient(graph: GraphStandIn, http: httpx.AsyncClient) -> None:
    graph.fail_next(None, code=131047, phone_number_id=PHONE_B, to="999")
    assert (await send(http, text_message(to="999"), phone=PHONE_B, token=TOKEN_B)).status_code == 400
    assert (await send(http, text_message(to="999"), phone=PHONE_B, token=TOKEN_B)).status_code == 400
    assert (await send(http, text_message(to="888"), phone=PHONE_B, token=TOKEN_B)).status_code == 200
    assert (await send(http, text_message(to="999"))).status_code == 200


async def test_unknown_code_cannot_be_scripted(graph: GraphStandIn) -> None:
    with pytest.raises(ValueError, match="unknown Graph error code"):
        graph.fail_next(code=999999)
    with pytest.raises(ValueError, match="code, an HTTP status"):
        graph.fail_next()


async def test_slow_answer_after_acceptance_leaves_a_delivered_message(
    graph: GraphStandIn, http: httpx.AsyncClient
) -> None:
    graph.slow(0.4, n=1)
    with pytest.raises(httpx.ReadTimeout):
        await http.post(
            f"/v24.0/{PHONE_A}/messages",
            json=text_message("perdu ?"),
            headers={"Authorization": f"Bearer {TOKEN_A}"},
            timeout=0.1,
        )
    assert [m.body for m in graph.delivered] == ["perdu ?"]
    started = time.perf_counter()
    assert (await send(http)).status_code == 200
    assert time.perf_counter() - started < 0.2


async def test_delayed_error(graph: GraphStandIn, http: httpx.AsyncClient) -> None:
    graph.fail_next(1, code=131000, delay=0.2)
    started = time.perf_counter()
    assert (await send(http)).status_code == 500
    assert time.perf_counter() - started >= 0.2


async def test_long_poll_of_delivered_messages(graph: GraphStandIn, http: httpx.AsyncClient) -> None:
    await send(http, text_message("un"))
    first = (await http.get("/_standin/messages")).json()["messages"]
    assert [(m["body"], m["to"]) for m in first] == [("un", CUSTOMER)]
    assert "token" not in first[0]

    async def send_later() -> None:
        await asyncio.sleep(0.1)
        await send(http, text_message("deux"))

    sender = asyncio.create_task(send_later())
    later = await http.get("/_standin/messages", params={"after": first[-1]["index"], "wait": 3})
    await sender
    assert [m["body"] for m in later.json()["messages"]] == ["deux"]
    empty = await http.get("/_standin/messages", params={"after": 99, "wait": 0.05})
    assert empty.json() == {"messages": []}


# --- 2026: business-scoped user ids, read receipts with typing, API versions --------------------


def bsuid_message(recipient: str = "US.13491208655302741918") -> dict[str, Any]:
    payload = text_message()
    del payload["to"]
    return payload | {"recipient": recipient}


async def test_a_send_to_a_business_scoped_user_id_answers_without_wa_id(
    graph: GraphStandIn, http: httpx.AsyncClient
) -> None:
    response = await send(http, bsuid_message())

    assert response.status_code == 200
    assert response.json()["contacts"] == [
        {"input": "US.13491208655302741918", "user_id": "US.13491208655302741918"}
    ]
    [sent] = graph.delivered
    assert (sent.to, sent.recipient, sent.addressee) == (
        "",
        "US.13491208655302741918",
        "US.13491208655302741918",
    )


@pytest.mark.parametrize(
    ("payload", "complaint"),
    [
        ({k: v for k, v in text_message().items() if k != "to"}, "The parameter to is required"),
        (bsuid_message("13491208655302741918"), "valid business-scoped user id"),
        (bsuid_message("US.1349 1208"), "valid business-scoped user id"),
    ],
)
async def test_a_send_with_no_usable_recipient_is_refused(
    graph: GraphStandIn, http: httpx.AsyncClient, payload: dict[str, Any], complaint: str
) -> None:
    response = await send(http, payload)

    assert response.status_code == 400 and response.json()["error"]["code"] == 100
    assert complaint in str(response.json()["error"])
    assert graph.delivered == []


async def test_read_receipts_with_typing_are_accepted_and_recorded_apart(
    graph: GraphStandIn, http: httpx.AsyncClient
) -> None:
    read = {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
        "typing_indicator": {"type": "text"},
    }
    ok = await send(http, read)
    bad_id = await send(http, read | {"message_id": "not-a-wamid"})
    bad_type = await send(http, read | {"typing_indicator": {"type": "audio"}})
    wrong_token = await send(http, read, token="EAA-someone-else")

    assert (ok.status_code, ok.json()) == (200, {"success": True})
    assert [bad_id.json()["error"]["code"], bad_type.json()["error"]["code"]] == [131009, 131009]
    assert wrong_token.json()["error"]["code"] == 190
    assert [(r.typing, r.status) for r in graph.reads] == [(True, 200), (True, 400), (True, 400), (True, 401)]
    assert graph.requests == []  # no message was sent


@pytest.mark.parametrize(
    ("version", "status"), [("v25.0", 200), ("v27.0", 200), ("v20.0", 400), ("v17.0", 400), ("v99.0", 400)]
)
async def test_only_versions_meta_serves_answer(
    graph: GraphStandIn, http: httpx.AsyncClient, version: str, status: int
) -> None:
    response = await send(http, version=version)
    assert response.status_code == status
    if status == 400:
        assert response.json()["error"]["code"] == 2635


async def test_the_phone_number_object_needs_its_own_token(
    graph: GraphStandIn, http: httpx.AsyncClient
) -> None:
    own = await http.get(f"/v25.0/{PHONE_A}", headers={"Authorization": f"Bearer {TOKEN_A}"})
    other = await http.get(f"/v25.0/{PHONE_A}", headers={"Authorization": f"Bearer {TOKEN_B}"})

    assert own.status_code == 200 and own.json()["id"] == PHONE_A
    assert other.json()["error"]["code"] == 190


async def test_a_token_source_is_asked_for_numbers_and_tokens_it_does_not_know() -> None:
    current = {PHONE_A: TOKEN_A}
    asked: list[str] = []

    async def token_source(phone_number_id: str) -> str | None:
        asked.append(phone_number_id)
        return current.get(phone_number_id)

    with GraphStandIn(tokens={}, token_source=token_source) as standin:
        async with httpx.AsyncClient(base_url=standin.base_url) as client:
            first = await send(client, phone=PHONE_A, token=TOKEN_A)
            again = await send(client, phone=PHONE_A, token=TOKEN_A)  # known now: not asked again
            current[PHONE_A] = "EAAnewtoken"  # the tenant's token changed (wa-admin set-whatsapp)
            new_token = await send(client, phone=PHONE_A, token="EAAnewtoken")
            old_token = await send(client, phone=PHONE_A, token=TOKEN_A)
            unknown = await send(client, phone=PHONE_B, token=TOKEN_B)

    assert [first.status_code, again.status_code, new_token.status_code] == [200, 200, 200]
    assert old_token.json()["error"]["code"] == 190
    assert unknown.json()["error"]["code"] == 100
    assert asked == [PHONE_A, PHONE_A, PHONE_A, PHONE_B]
