"""The Graph stand-in's media, driven with httpx as the handler drives Meta: metadata, a short-lived
URL, the download with the same token, and the refusals Meta gives."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from standins.graph import GraphStandIn
from tests.media_samples import ogg_voice_note

PHONE_A, TOKEN_A = "111111111111111", "EAA-tenant-a"
PHONE_B, TOKEN_B = "222222222222222", "EAA-tenant-b"
VOICE = ogg_voice_note(5_000)


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


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_metadata_then_download_with_the_same_token(
    graph: GraphStandIn, http: httpx.AsyncClient
) -> None:
    media = graph.add_media(VOICE, mime_type="audio/ogg; codecs=opus", phone_number_id=PHONE_A)

    response = await http.get(
        f"/v25.0/{media.id}", params={"phone_number_id": PHONE_A}, headers=bearer(TOKEN_A)
    )

    assert response.status_code == 200
    body = response.json()
    assert body["messaging_product"] == "whatsapp" and body["id"] == media.id
    assert (body["mime_type"], body["file_size"]) == ("audio/ogg; codecs=opus", len(VOICE))
    assert body["sha256"] == hashlib.sha256(VOICE).hexdigest()
    assert media.sha256_base64 == base64.b64encode(hashlib.sha256(VOICE).digest()).decode()
    download = await http.get(body["url"], headers=bearer(TOKEN_A))
    assert download.status_code == 200
    assert (download.content, download.headers["content-type"]) == (VOICE, "audio/ogg; codecs=opus")
    assert [(r.stage, r.status) for r in graph.media_requests] == [("metadata", 200), ("download", 200)]


async def test_another_numbers_token_is_refused_like_a_wrong_token(
    graph: GraphStandIn, http: httpx.AsyncClient
) -> None:
    media = graph.add_media(VOICE, mime_type="audio/ogg", phone_number_id=PHONE_A)

    response = await http.get(f"/v25.0/{media.id}", headers=bearer(TOKEN_B))

    assert response.status_code == 401 and response.json()["error"]["code"] == 190
    wrong_number = await http.get(
        f"/v25.0/{media.id}", params={"phone_number_id": PHONE_B}, headers=bearer(TOKEN_A)
    )
    assert wrong_number.status_code == 400
    assert (wrong_number.json()["error"]["code"], wrong_number.json()["error"]["error_subcode"]) == (100, 33)
    no_token = await http.get(f"/v25.0/{media.id}")
    assert no_token.status_code == 400 and no_token.json()["error"]["code"] == 104


async def test_the_download_needs_the_token_and_a_live_link(
    graph: GraphStandIn, http: httpx.AsyncClient
) -> None:
    media = graph.add_media(VOICE, mime_type="audio/ogg", phone_number_id=PHONE_A)
    url = (await http.get(f"/v25.0/{media.id}", headers=bearer(TOKEN_A))).json()["url"]

    assert (await http.get(url)).status_code == 401
    assert (await http.get(url, headers=bearer(TOKEN_B))).status_code == 401
    graph.media.expire_links()
    assert (await http.get(url, headers=bearer(TOKEN_A))).status_code == 404
    fresh = (await http.get(f"/v25.0/{media.id}", headers=bearer(TOKEN_A))).json()["url"]
    assert (await http.get(fresh, headers=bearer(TOKEN_A))).content == VOICE


async def test_a_media_added_with_its_own_token_takes_only_that_one() -> None:
    with GraphStandIn() as graph:  # no token table: the media's own token decides
        media = graph.add_media(VOICE, mime_type="audio/ogg", phone_number_id=PHONE_A, token=TOKEN_A)
        async with httpx.AsyncClient(base_url=graph.base_url) as http:
            assert (await http.get(f"/v25.0/{media.id}", headers=bearer(TOKEN_B))).status_code == 401
            assert (await http.get(f"/v25.0/{media.id}", headers=bearer(TOKEN_A))).status_code == 200


async def test_scripted_media_faults(graph: GraphStandIn, http: httpx.AsyncClient) -> None:
    media = graph.add_media(VOICE, mime_type="audio/ogg", phone_number_id=PHONE_A)
    graph.fail_media(stage="metadata", status=503)
    graph.fail_media(stage="download", status=200, body=b"tampered")

    assert (await http.get(f"/v25.0/{media.id}", headers=bearer(TOKEN_A))).status_code == 503
    url = (await http.get(f"/v25.0/{media.id}", headers=bearer(TOKEN_A))).json()["url"]
    assert (await http.get(url, headers=bearer(TOKEN_A))).content == b"tampered"
    assert (await http.get(url, headers=bearer(TOKEN_A))).content == VOICE


async def test_an_upload_for_local_runs_names_the_media(graph: GraphStandIn, http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/_standin/media",
        params={"phone_number_id": PHONE_A, "mime_type": "image/jpeg"},
        content=b"\xff\xd8img",
    )

    assert response.status_code == 200
    uploaded = graph.media.get(response.json()["id"])
    assert uploaded is not None and uploaded.data == b"\xff\xd8img"
    assert response.json()["sha256"] == uploaded.sha256_base64


async def test_the_phone_number_object_is_still_served(http: httpx.AsyncClient) -> None:
    response = await http.get(f"/v25.0/{PHONE_A}", headers=bearer(TOKEN_A))
    assert response.status_code == 200 and response.json()["id"] == PHONE_A
