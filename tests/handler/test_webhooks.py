"""Meta payloads handed over by the forwarder: every message of every change, statuses, media."""

from __future__ import annotations

import asyncpg
import pytest

from handler.errors import UnrecognisedEvent
from standins import meta
from standins.graph import GraphStandIn
from standins.groq import GroqStandIn
from tests.factories import add_tenant
from tests.handler.conftest import LambdaContainer
from tests.handler.events import business_of, envelope_event

CUSTOMER = "242066582610"


async def test_text_message_is_answered_and_logged(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    payload = meta.text_webhook("Hello", sender=CUSTOMER, business=business_of(tenant))

    result = await container.invoke(envelope_event(payload))

    assert result["messages"] == {"replied": 1}
    [call] = groq.requests
    assert call.api_key == tenant.groq_key and call.last_user_message == "Hello"
    [sent] = graph.delivered
    assert (sent.token, sent.phone_number_id, sent.to) == (
        tenant.access_token,
        tenant.phone_number_id,
        CUSTOMER,
    )
    inbound = await db.fetchrow("SELECT * FROM customer_conversations WHERE sender = 'user'")
    assert inbound is not None
    wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert (inbound["wa_message_id"], inbound["status"], inbound["source"]) == (wamid, "answered", "whatsapp")
    assert inbound["meta_timestamp"] is not None


async def test_batch_for_two_tenants_uses_each_tenants_credentials(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    first, second = await add_tenant(db, 1), await add_tenant(db, 2)
    payload = meta.webhook_payload(
        meta.messages_change(meta.text_message("A1", sender="111"), business=business_of(first)),
        meta.messages_change(
            meta.text_message("B1", sender="222"),
            meta.text_message("B2", sender="333"),
            business=business_of(second),
        ),
    )

    result = await container.invoke(envelope_event(payload))

    assert result["messages"] == {"replied": 3}
    keys = {call.last_user_message: call.api_key for call in groq.requests}
    assert keys == {"A1": first.groq_key, "B1": second.groq_key, "B2": second.groq_key}
    senders = {m.to: (m.phone_number_id, m.token) for m in graph.delivered}
    assert senders == {
        "111": (first.phone_number_id, first.access_token),
        "222": (second.phone_number_id, second.access_token),
        "333": (second.phone_number_id, second.access_token),
    }


async def test_the_same_payload_twice_is_answered_once(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    event = envelope_event(meta.text_webhook("Hello", business=business_of(tenant)))

    await container.invoke(event)
    again = await container.invoke(event)

    assert again["messages"] == {"duplicate": 1}
    assert len(groq.requests) == 1 and len(graph.delivered) == 1
    assert await db.fetchval("SELECT count(*) FROM customer_conversations WHERE sender = 'user'") == 1


async def test_statuses_update_the_reply_and_never_go_backwards(
    db: asyncpg.Connection, container: LambdaContainer, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    business = business_of(tenant)
    await container.invoke(envelope_event(meta.text_webhook("Hello", sender=CUSTOMER, business=business)))
    [sent] = graph.delivered
    assert sent.wamid is not None

    async def reply_status() -> str:
        return str(await db.fetchval("SELECT status FROM customer_conversations WHERE sender = 'bot'"))

    await container.invoke(
        envelope_event(
            meta.webhook_payload(meta.statuses_change(meta.status(sent.wamid, "read"), business=business))
        )
    )
    assert await reply_status() == "read"
    late = await container.invoke(
        envelope_event(
            meta.webhook_payload(
                meta.statuses_change(meta.status(sent.wamid, "delivered"), business=business)
            )
        )
    )
    assert await reply_status() == "read"
    # A known reply, only not moved backwards: stale, not "a status for no known reply".
    assert (late["statuses_stale"], late["statuses_unmatched"]) == (1, 0)
    assert len(graph.delivered) == 1  # statuses never trigger a reply


async def test_failed_status_records_metas_error(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    business = business_of(tenant)
    await container.invoke(envelope_event(meta.text_webhook("Hello", business=business)))
    [sent] = graph.delivered
    assert sent.wamid is not None

    result = await container.invoke(
        envelope_event(
            meta.webhook_payload(
                meta.statuses_change(meta.failed_status(sent.wamid, 131047), business=business)
            )
        )
    )

    assert result["statuses_applied"] == 1 and len(groq.requests) == 1
    row = await db.fetchrow(
        "SELECT status, error_code, error_title FROM customer_conversations WHERE sender = 'bot'"
    )
    assert row is not None and (row["status"], row["error_code"]) == ("failed", 131047)
    assert row["error_title"] == "Re-engagement message"


AI_KINDS = {"text", "button_reply", "list_reply", "button", "location"}  # a place: its name and address
SILENT_KINDS = {"reaction", "system", "unsupported"}


@pytest.mark.parametrize("kind", sorted(meta.SAMPLE_MESSAGES))
async def test_each_message_kind(
    kind: str, db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    item = meta.SAMPLE_MESSAGES[kind](sender=CUSTOMER)
    payload = meta.webhook_payload(meta.messages_change(item, business=business_of(tenant)))

    await container.invoke(envelope_event(payload))

    if kind in AI_KINDS:
        assert len(groq.requests) == 1 and len(graph.delivered) == 1
    elif kind in SILENT_KINDS:
        assert groq.requests == [] and graph.requests == []
    else:
        notice = await db.fetchval("SELECT unsupported_media_text FROM user_groq_config")
        assert groq.requests == []
        assert [m.body for m in graph.delivered] == [notice]
    assert await db.fetchval("SELECT count(*) FROM customer_conversations WHERE sender = 'user'") == 1


async def test_button_reply_title_is_what_the_ai_reads(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    item = meta.button_reply_message("Oui, livrez-moi", sender=CUSTOMER)
    await container.invoke(
        envelope_event(meta.webhook_payload(meta.messages_change(item, business=business_of(tenant))))
    )
    assert groq.requests[0].last_user_message == "Oui, livrez-moi"


async def test_history_is_sent_in_order_and_bounded(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn
) -> None:
    tenant = await add_tenant(db, 1, history_length=4, system_prompt="Tu es le boulanger.")
    business = business_of(tenant)
    for text in ["un", "deux", "trois", "quatre"]:
        await container.invoke(envelope_event(meta.text_webhook(text, sender=CUSTOMER, business=business)))

    last = groq.requests[-1]
    assert last.system_prompt == "Tu es le boulanger."
    roles_and_texts = [(m.role, m.content.split("You wrote: ")[-1]) for m in last.history]
    assert roles_and_texts == [
        ("user", "deux"),
        ("assistant", "deux"),
        ("user", "trois"),
        ("assistant", "trois"),
    ]
    assert last.last_user_message == "quatre"


async def test_history_never_mixes_customers_or_tenants(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn
) -> None:
    first, second = await add_tenant(db, 1), await add_tenant(db, 2)
    await container.invoke(
        envelope_event(meta.text_webhook("secret A", sender=CUSTOMER, business=business_of(first)))
    )
    await container.invoke(
        envelope_event(meta.text_webhook("other customer", sender="999", business=business_of(first)))
    )
    await container.invoke(
        envelope_event(meta.text_webhook("hello B", sender=CUSTOMER, business=business_of(second)))
    )

    assert [len(call.history) for call in groq.requests] == [0, 0, 0]


async def test_long_reply_goes_out_as_several_messages(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    paragraphs = [f"Paragraphe {i}. " + "x" * 1500 for i in range(5)]
    original_reply = groq.reply
    groq.reply = lambda request: "\n\n".join(paragraphs)
    try:
        await container.invoke(envelope_event(meta.text_webhook("Raconte", business=business_of(tenant))))
    finally:
        groq.reply = original_reply

    bodies = [m.body or "" for m in graph.delivered]
    assert len(bodies) == 3 and all(len(body) <= 4096 for body in bodies)
    assert "\n\n".join(bodies) == "\n\n".join(paragraphs)
    rows = await db.fetch("SELECT status, wa_message_id FROM customer_conversations WHERE sender = 'bot'")
    assert sorted(str(r["wa_message_id"]) for r in rows) == sorted(str(m.wamid) for m in graph.delivered)


async def test_no_whatsapp_credentials_saves_the_reply_without_sending(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    await db.execute("UPDATE user_whatsapp_config SET access_token = '' WHERE user_id = $1", tenant.user_id)

    result = await container.invoke(envelope_event(meta.text_webhook("Hello", business=business_of(tenant))))

    assert result["messages"] == {"not_sent": 1}
    assert len(groq.requests) == 1 and graph.requests == []
    row = await db.fetchrow("SELECT status, content FROM customer_conversations WHERE sender = 'bot'")
    assert row is not None and row["status"] == "not_sent" and row["content"]


async def test_unknown_business_number_is_recorded_unidentified(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn
) -> None:
    await add_tenant(db, 1)
    stranger = meta.BusinessNumber(phone_number_id="999999999")

    result = await container.invoke(envelope_event(meta.text_webhook("Hello", business=stranger)))

    assert result["messages"] == {"no_tenant": 1} and groq.requests == []
    assert await db.fetchval("SELECT count(*) FROM customer_conversations WHERE user_id IS NULL") == 1


async def test_inactive_number_is_not_served(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn
) -> None:
    tenant = await add_tenant(db, 1, active=False)
    result = await container.invoke(envelope_event(meta.text_webhook("Hello", business=business_of(tenant))))
    assert result["messages"] == {"no_tenant": 1} and groq.requests == []


async def test_non_whatsapp_payload_is_dropped(container: LambdaContainer, groq: GroqStandIn) -> None:
    result = await container.invoke(envelope_event({"object": "page", "entry": []}))
    assert result["messages"] == {} and groq.requests == []


async def test_unknown_event_names_the_shapes_expected(container: LambdaContainer) -> None:
    with pytest.raises(UnrecognisedEvent, match="expected one of: forwarder envelope"):
        await container.invoke({"hello": "world"})


async def test_envelope_with_a_body_that_is_not_json_is_refused(container: LambdaContainer) -> None:
    event = envelope_event({})
    event["body"] = "{not json"
    with pytest.raises(ValueError, match="not JSON"):
        await container.invoke(event)
