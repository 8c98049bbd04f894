"""The planner's handover decisions, pure: who keeps the assistant out of a conversation, when a
stop or start word is confirmed, and what an echo or a marketing preference leads to."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from handler.conversation import opt_out_words
from handler.conversation.decide import (
    Confirm,
    Finish,
    Quiet,
    RecordEcho,
    RecordPreference,
    Refuse,
    Reply,
    plan_echo,
    plan_in_turn,
    plan_message,
    plan_preference,
)
from handler.model import (
    AssistantSettings,
    Claim,
    ClaimOutcome,
    CustomerControls,
    GroqConfig,
    HandoverSettings,
    OptChange,
    PauseReason,
    PayloadProof,
    QuietReason,
    Tenant,
    WhatsAppCredentials,
)
from shared.webhook import (
    BusinessEcho,
    EchoKind,
    InboundMessage,
    MessageType,
    PreferenceUpdate,
    PreferenceValue,
)

PROOF = PayloadProof.unsigned()
HUMAN = CustomerControls(pause_reason=PauseReason.HUMAN_REPLY, paused_until=datetime(2030, 1, 1, tzinfo=UTC))
OPERATOR = CustomerControls(pause_reason=PauseReason.OPERATOR)
OPTED_OUT = CustomerControls(opted_out=True)
FREE = CustomerControls()


def tenant(
    handover: HandoverSettings | None = None, *, groq: bool = True, app_secret: str | None = None
) -> Tenant:
    return Tenant(
        user_id=uuid.UUID(int=1),
        whatsapp=WhatsAppCredentials(phone_number_id="1", access_token="token", app_secret=app_secret),
        groq=GroqConfig(api_key="gsk_x", model="m", temperature=0.7) if groq else None,
        assistant=AssistantSettings(
            system_prompt="", history_length=10, fallback_text="sorry", unsupported_media_text="text only"
        ),
        handover=handover or HandoverSettings(),
    )


def message(
    text: str | None = "Bonjour", *, kind: MessageType = MessageType.TEXT, payload: str | None = None
) -> InboundMessage:
    return InboundMessage(
        id="wamid.1",
        phone_number_id="1",
        customer_phone="33612345678",
        type=kind,
        timestamp=None,
        text=text,
        reply_payload=payload,
        raw={},
    )


def plan(
    text: str | None = "Bonjour",
    controls: CustomerControls = FREE,
    *,
    kind: MessageType = MessageType.TEXT,
    handover: HandoverSettings | None = None,
) -> object:
    claim = Claim(
        outcome=ClaimOutcome.CLAIMED,
        inbound_id=uuid.UUID(int=2),
        customer_key="33612345678",
        controls=controls,
    )
    return plan_message(message(text, kind=kind), claim, tenant(handover), PROOF, after_answer=False)


@pytest.mark.parametrize(
    ("controls", "handover", "reason"),
    [
        (HUMAN, None, QuietReason.PAUSED_BY_HUMAN),
        (OPERATOR, None, QuietReason.PAUSED_BY_OPERATOR),
        (OPTED_OUT, None, QuietReason.OPTED_OUT),
        (CustomerControls(), HandoverSettings(bot_paused=True), QuietReason.BOT_OFF),
        # Who holds the conversation wins over the customer's own opt-out in the recorded reason.
        (
            CustomerControls(pause_reason=PauseReason.OPERATOR, opted_out=True),
            None,
            QuietReason.PAUSED_BY_OPERATOR,
        ),
        (HUMAN, HandoverSettings(bot_paused=True), QuietReason.BOT_OFF),
    ],
)
def test_who_keeps_the_assistant_out(
    controls: CustomerControls, handover: HandoverSettings | None, reason: QuietReason
) -> None:
    assert plan("Bonjour", controls, handover=handover) == Quiet(reason=reason)


def test_media_of_a_paused_customer_gets_no_notice_either() -> None:
    assert plan(None, HUMAN, kind=MessageType.IMAGE) == Quiet(reason=QuietReason.PAUSED_BY_HUMAN)


def test_a_reaction_stays_ignored_whoever_holds_the_conversation() -> None:
    assert isinstance(plan(None, HUMAN, kind=MessageType.REACTION), Finish)


@pytest.mark.parametrize("text", ["STOP", "stop", " Stop ! ", "Arrêt.", "ARRETER", "désabonner", "opt-out"])
def test_stop_words_in_the_default_languages_are_confirmed_in_french_first(text: str) -> None:
    planned = plan(text)
    assert isinstance(planned, Confirm)
    assert planned.change == OptChange(opted_out=True, source="stop_word", word=text.strip())
    assert planned.reason is QuietReason.STOP_WORD
    assert planned.text.startswith("Vous ne recevrez plus") or planned.text.startswith("You will not")


def test_the_confirmation_speaks_the_language_of_the_word() -> None:
    languages = HandoverSettings(languages=("en", "es"))
    stop = plan("stop", handover=languages)
    baja = plan("Baja", handover=languages)
    assert isinstance(stop, Confirm) and stop.text.startswith("You will not get automatic replies")
    assert isinstance(baja, Confirm) and baja.text.startswith("Ya no recibirás")
    assert "Write START" in stop.text


@pytest.mark.parametrize("text", ["Don't stop", "stop please now", "Bajar", "arrêtez de m'écrire"])
def test_words_that_are_not_a_stop_word_alone_go_to_the_ai(text: str) -> None:
    assert isinstance(plan(text), Reply)


@pytest.mark.parametrize(
    ("text", "confirmation"), [("BAJA", "Ya no recibirás"), ("Abmelden", "Sie erhalten")]
)
def test_by_default_the_stop_words_of_every_language_count(text: str, confirmation: str) -> None:
    planned = plan(text)
    assert isinstance(planned, Confirm) and planned.text.startswith(confirmation)


def test_a_tenant_that_names_its_languages_hears_only_their_words() -> None:
    assert isinstance(plan("BAJA", handover=HandoverSettings(languages=("fr", "en"))), Reply)


def test_the_default_languages_are_every_language_with_words() -> None:
    assert sorted(HandoverSettings().languages) == sorted(opt_out_words.KNOWN_LANGUAGES)


def test_a_stop_word_while_paused_is_recorded_quietly() -> None:
    planned = plan("STOP", HUMAN)
    assert planned == Quiet(
        reason=QuietReason.PAUSED_BY_HUMAN, change=OptChange(opted_out=True, source="stop_word", word="STOP")
    )


def test_opted_out_a_start_word_is_confirmed_and_anything_else_is_quiet() -> None:
    start = plan("Start", OPTED_OUT)
    assert isinstance(start, Confirm) and start.change.opted_out is False
    assert start.text == "Les réponses automatiques sont réactivées. Écrivez STOP pour les arrêter."
    assert plan("STOP", OPTED_OUT) == Quiet(reason=QuietReason.OPTED_OUT)  # no second confirmation
    assert isinstance(plan("START"), Reply)  # not opted out: just a message


def test_a_stop_word_needs_no_groq() -> None:
    claim = Claim(outcome=ClaimOutcome.CLAIMED, inbound_id=uuid.UUID(int=2), customer_key="k")
    assert isinstance(
        plan_message(message("STOP"), claim, tenant(groq=False), PROOF, after_answer=False), Confirm
    )


def test_a_tapped_buttons_payload_counts_as_its_word() -> None:
    planned = plan_message(
        message("Ne plus recevoir", kind=MessageType.BUTTON, payload="STOP"),
        Claim(outcome=ClaimOutcome.CLAIMED, inbound_id=uuid.UUID(int=2), customer_key="k"),
        tenant(),
        PROOF,
        after_answer=False,
    )
    assert isinstance(planned, Confirm) and planned.change.word == "STOP"


def test_a_tenants_own_words_and_texts() -> None:
    own = HandoverSettings(stop_words=("FIN",), start_words=("ENCORE",), opt_in_text="Re-bonjour !")
    assert isinstance(plan("stop", handover=own), Reply)
    stop = plan("fin", handover=own)
    assert isinstance(stop, Confirm) and stop.text.endswith("Écrivez ENCORE pour les réactiver.")
    start = plan("encore", OPTED_OUT, handover=own)
    assert isinstance(start, Confirm) and start.text == "Re-bonjour !"


def test_a_message_that_waited_is_planned_again_with_the_controls_of_now() -> None:
    claim = Claim(
        outcome=ClaimOutcome.CLAIMED, inbound_id=uuid.UUID(int=2), customer_key="k", earlier_pending=1
    )
    first = plan_message(message("Hello"), claim, tenant(), PROOF, after_answer=False)
    assert isinstance(first, Reply) and first.wait_turn

    again = plan_in_turn(message("Hello"), claim, tenant(), PROOF, OPTED_OUT)
    assert again == Quiet(reason=QuietReason.OPTED_OUT)
    answered = plan_in_turn(message("Hello"), claim, tenant(), PROOF, CustomerControls())
    assert isinstance(answered, Reply) and not answered.wait_turn


def echo(kind: EchoKind = EchoKind.MESSAGE, text: str | None = "Je m'en occupe") -> BusinessEcho:
    return BusinessEcho(
        id="wamid.e",
        phone_number_id="1",
        customer_phone="33612345678",
        customer_user_id=None,
        kind=kind,
        type=MessageType.TEXT if text is not None else MessageType.IMAGE,
        timestamp=None,
        text=text,
        raw={},
    )


def test_an_echo_is_recorded_with_the_tenants_pause_window() -> None:
    assert plan_echo(echo(), tenant(), PROOF) == RecordEcho(content="Je m'en occupe", pause_seconds=12 * 3600)
    assert plan_echo(echo(text=None), tenant(HandoverSettings(human_pause_seconds=0)), PROOF) == RecordEcho(
        content="[image]", pause_seconds=0
    )
    assert plan_echo(echo(EchoKind.REVOKE, None), tenant(), PROOF) == RecordEcho(
        content=None, pause_seconds=43200
    )


def test_an_echo_unproven_for_a_tenant_with_its_own_app_is_refused() -> None:
    assert isinstance(plan_echo(echo(), tenant(app_secret="own"), PROOF), Refuse)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (PreferenceValue.STOP, RecordPreference(opted_out=True)),
        (PreferenceValue.RESUME, RecordPreference(opted_out=False)),
        (PreferenceValue.SIGNUP, RecordPreference(opted_out=False)),
        (PreferenceValue.UNKNOWN, None),
    ],
)
def test_marketing_preferences(value: PreferenceValue, expected: RecordPreference | None) -> None:
    update = PreferenceUpdate(
        phone_number_id="1",
        customer_phone="1",
        customer_user_id=None,
        category="marketing_messages",
        value=value,
        detail="",
        timestamp=None,
    )
    assert plan_preference(update, tenant(), PROOF) == expected


def test_normalized_words_ignore_case_accents_spaces_and_punctuation() -> None:
    assert opt_out_words.normalized("  Arrêt   !! ") == "ARRET"
    assert opt_out_words.normalized("¡Baja!") == "BAJA"
    assert opt_out_words.normalized("opt  out") == "OPT OUT"
