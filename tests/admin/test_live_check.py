"""`wa-admin check --live` and `wa-admin test TENANT`: each tenant's Groq key and WhatsApp token
tried against Groq and the Graph API (here their strict stand-ins), reported without a secret."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import asyncpg
import pytest

from standins.graph import GraphStandIn
from standins.groq import GroqStandIn
from tests.admin.conftest import ACCESS_TOKEN, GROQ_KEY, Cli, add_served_tenant, add_tenant


@pytest.fixture(scope="module")
def groq_standin() -> Iterator[GroqStandIn]:
    with GroqStandIn() as standin:
        yield standin


@pytest.fixture(scope="module")
def graph_standin() -> Iterator[GraphStandIn]:
    with GraphStandIn() as standin:
        yield standin


@pytest.fixture
def platforms(groq_standin: GroqStandIn, graph_standin: GraphStandIn) -> dict[str, str]:
    """The environment pointing the CLI at both stand-ins, fresh for each test."""
    groq_standin.reset()
    groq_standin.api_keys = None
    graph_standin.reset()
    graph_standin.tokens = None
    return {"GROQ_BASE_URL": groq_standin.base_url, "GRAPH_API_BASE_URL": graph_standin.base_url}


def live_lines(out: str) -> dict[str, str]:
    """tenant -> its line of the live table."""
    lines = out.split("live check (Groq models, Graph phone number):\n", 1)[1].splitlines()
    return {
        line.split()[0]: line
        for line in lines[1:]
        if line and not line.startswith(("(", " ")) and "@" in line
    }


async def test_working_credentials_are_reported_working(
    cli: Cli, platforms: dict[str, str], groq_standin: GroqStandIn, graph_standin: GraphStandIn
) -> None:
    await add_served_tenant(cli, "shop@example.com", "123456789")
    graph_standin.register("123456789", ACCESS_TOKEN)

    result = await cli("test", "shop@example.com", env=platforms)

    assert result.code == 0, result.out
    line = live_lines(result.out)["shop@example.com"]
    assert "working (model openai/gpt-oss-120b available)" in line and "working (Stand-in Business)" in line
    assert groq_standin.model_list_keys == [GROQ_KEY]  # the tenant's own key
    result.assert_no_secret()


async def test_refused_key_refused_token_and_unreachable_are_told_apart(
    cli: Cli,
    db: asyncpg.Connection,
    platforms: dict[str, str],
    groq_standin: GroqStandIn,
    graph_standin: GraphStandIn,
) -> None:
    await add_served_tenant(cli, "refused@example.com", "111111111")
    await add_served_tenant(cli, "offline@example.com", "222222222")
    groq_standin.api_keys = {"gsk_some_other_key"}  # Groq does not know these tenants' key
    graph_standin.register("111111111", "EAA-not-the-tenants-token")

    refused = await cli("test", "refused@example.com", env=platforms)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}"
    offline = await cli(
        "test", "offline@example.com", env={"GROQ_BASE_URL": nowhere, "GRAPH_API_BASE_URL": nowhere}
    )

    assert refused.code == 1 and offline.code == 1
    refused_line = live_lines(refused.out)["refused@example.com"]
    assert "refused (http 401 invalid_api_key)" in refused_line
    assert "refused (http 401, code 190: access token expired or invalid)" in refused_line
    assert live_lines(offline.out)["offline@example.com"].count("unreachable") == 2
    refused.assert_no_secret()
    offline.assert_no_secret()


async def test_check_live_covers_every_active_tenant_and_fails_on_a_refusal(
    cli: Cli, platforms: dict[str, str], graph_standin: GraphStandIn
) -> None:
    await add_served_tenant(cli, "good@example.com", "111111111")
    await add_served_tenant(cli, "bad@example.com", "222222222")
    await add_tenant(cli, "prospect@example.com")
    graph_standin.register("111111111", ACCESS_TOKEN)
    graph_standin.register("222222222", "EAA-someone-elses-token")

    plain = await cli("check", env=platforms)
    live = await cli("check", "--live", env=platforms)

    assert plain.code == 0 and "live check" not in plain.out
    assert live.code == 1
    lines = live_lines(live.out)
    assert set(lines) == {"good@example.com", "bad@example.com"}  # active numbers only
    assert "code 190" in lines["bad@example.com"] and "code 190" not in lines["good@example.com"]
    assert "1 of 2 tenants' credentials work" in live.out


async def test_a_model_the_key_cannot_use_is_a_refusal(
    cli: Cli,
    db: asyncpg.Connection,
    platforms: dict[str, str],
    groq_standin: GroqStandIn,
    graph_standin: GraphStandIn,
) -> None:
    await add_served_tenant(cli, "shop@example.com", "123456789")
    graph_standin.register("123456789", ACCESS_TOKEN)
    await db.execute("UPDATE user_groq_config SET model = 'acme/brand-new-model'")

    result = await cli("test", "shop@example.com", env=platforms)

    assert result.code == 1
    assert "the key works, but model acme/brand-new-model is not available to it" in result.out


async def test_secrets_that_cannot_be_decrypted_block_the_tenant_in_check(
    cli: Cli, db: asyncpg.Connection, platforms: dict[str, str]
) -> None:
    await add_served_tenant(cli, "shop@example.com", "111111111")
    await add_served_tenant(cli, "other@example.com", "222222222")
    # The other tenant's ciphertexts: valid, but bound to another tenant, so they never decrypt here.
    await db.execute(
        "UPDATE user_whatsapp_config AS w SET access_token = o.access_token FROM user_whatsapp_config AS o"
        " WHERE w.phone_number_id = '111111111' AND o.phone_number_id = '222222222'"
    )

    result = await cli("check", env=platforms)
    tested = await cli("test", "shop@example.com", env=platforms)

    assert result.code == 1
    assert "BLOCKING  shop@example.com  unreadable_secret" in result.out
    assert (
        "set it again with wa-admin set-whatsapp shop@example.com --phone-number-id 111111111" in result.out
    )
    assert "1 of them cannot be served" in result.out
    assert tested.code == 1 and "unreadable (the access token cannot be decrypted)" in tested.out
    result.assert_no_secret()


async def test_a_tenant_graph_api_version_is_checked_and_used(
    cli: Cli, db: asyncpg.Connection, platforms: dict[str, str], graph_standin: GraphStandIn
) -> None:
    await add_served_tenant(cli, "shop@example.com", "123456789")
    graph_standin.register("123456789", ACCESS_TOKEN)

    set_version = await cli(
        "set-whatsapp", "shop@example.com", "--phone-number-id", "123456789", "--graph-api-version", "v26.0"
    )
    expired = await cli(
        "set-whatsapp", "shop@example.com", "--phone-number-id", "123456789", "--graph-api-version", "v20.0"
    )
    garbled = await cli(
        "set-whatsapp", "shop@example.com", "--phone-number-id", "123456789", "--graph-api-version", "26"
    )

    assert set_version.code == 0
    assert await db.fetchval("SELECT graph_api_version FROM user_whatsapp_config") == "v26.0"
    expired.assert_one_line_error("does not serve Graph API version v20.0")
    garbled.assert_one_line_error("looks like v25.0")
    await db.execute("UPDATE user_whatsapp_config SET graph_api_version = 'v19.0'")  # as a restore might
    stale = await cli("check", env=platforms)
    assert stale.code == 1 and "Graph API version v19.0 is not served by Meta" in stale.out
    back = await cli(
        "set-whatsapp", "shop@example.com", "--phone-number-id", "123456789", "--graph-api-version", "default"
    )
    assert back.code == 0 and await db.fetchval("SELECT graph_api_version FROM user_whatsapp_config") is None


async def test_set_groq_refuses_what_is_not_a_groq_key_and_switches_typing(
    cli: Cli, db: asyncpg.Connection
) -> None:
    await add_served_tenant(cli, "shop@example.com", "123456789")

    not_groq = await cli(
        "set-groq", "shop@example.com", "--api-key-stdin", stdin="sk-openai-key-0123456789\n"
    )
    off = await cli("set-groq", "shop@example.com", "--typing-indicator", "off")

    not_groq.assert_one_line_error("not a Groq API key")
    assert "sk-openai-key-0123456789" not in not_groq.err
    assert off.code == 0 and await db.fetchval("SELECT typing_indicator FROM user_groq_config") is False
    unknown = await cli("set-groq", "shop@example.com", "--model", "acme/brand-new-model")
    allowed = await cli(
        "set-groq", "shop@example.com", "--model", "acme/brand-new-model", "--allow-unknown-model"
    )
    unknown.assert_one_line_error("--allow-unknown-model")
    assert (
        allowed.code == 0
        and await db.fetchval("SELECT model FROM user_groq_config") == "acme/brand-new-model"
    )
