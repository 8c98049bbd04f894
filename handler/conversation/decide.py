"""What to do with one inbound message: ask the AI, send the polite notice, or nothing."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from handler.model import PayloadProof, ProofKind, Tenant, Turn
from shared.signature import SignatureCheck, check_signature, secret_key_id
from shared.webhook import DeliveryStatus, InboundMessage, MessageType, StatusUpdate


class Action(StrEnum):
    ASK_AI = "ask_ai"
    SEND_UNREADABLE_NOTICE = "send_unreadable_notice"
    IGNORE = "ignore"


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    action: Action
    reason: str


# Meta's own notices and reactions need no answer; an unknown type is one Meta added after us.
_NOTHING_TO_ANSWER = frozenset(
    {MessageType.REACTION, MessageType.SYSTEM, MessageType.UNSUPPORTED, MessageType.UNKNOWN}
)


def decide(message: InboundMessage) -> Decision:
    """Text, and the titles of button and list replies, go to the AI; other media get the notice."""
    if message.text is not None:
        return Decision(action=Action.ASK_AI, reason=f"readable {message.type.value}")
    if message.type in _NOTHING_TO_ANSWER:
        return Decision(action=Action.IGNORE, reason=f"{message.type.value} needs no answer")
    if message.type is MessageType.TEXT:
        return Decision(action=Action.IGNORE, reason="empty text")
    if message.type is MessageType.INTERACTIVE:
        # Not a button or list choice: a call permission answer, a Flow's form, … nothing to say.
        return Decision(action=Action.IGNORE, reason="interactive reply of a kind we do not answer")
    return Decision(action=Action.SEND_UNREADABLE_NOTICE, reason=f"{message.type.value} cannot be read yet")


def is_reportable(status: StatusUpdate) -> bool:
    """Does a delivery status say something a reply's row can record? (Not Meta's unknown kinds,
    nor `deleted`, which concerns the customer's own message.)"""
    return status.status not in (DeliveryStatus.UNKNOWN, DeliveryStatus.DELETED)


def stored_content(message: InboundMessage) -> str:
    """What the conversation log keeps for a message: its text, or a marker naming its type."""
    return message.text if message.text is not None else f"[{message.type.value}]"


def build_messages(system_prompt: str, history: Sequence[Turn], text: str) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system_prompt}] if system_prompt.strip() else []
    for turn in history:
        role = "user" if turn.sender == "user" else "assistant"
        messages.append({"role": role, "content": turn.content})
    messages.append({"role": "user", "content": text})
    return messages


# --- the isolation rule ---------------------------------------------------------------------------
# A tenant with its own Meta app secret (`user_whatsapp_config.app_secret`) is acted for only when
# the payload is proven to come from that app, by one rule for every path in:
# - the forwarder verified the payload and names the secret it verified with (`verified_by`, a key
#   id from `shared.signature.secret_key_id`, never the secret): that key must be the tenant's. This
#   covers whole envelopes, parts of a split payload (which have no signature of their own) and
#   parked bodies alike;
# - the original bytes and Meta's `X-Hub-Signature-256` reached the handler (`POST /webhook`, or an
#   envelope from a forwarder that named no key): the signature must verify with the tenant's secret;
# - a Meta payload with no signature and no key (a raw payload invoked directly): refused for such a
#   tenant;
# - a seed-format request is not a Meta payload: it is trusted as the deployment's relay (its route
#   needs the deployment's key, a direct invoke needs IAM).
# Tenants without an app secret of their own rely on the `META_APP_SECRET` check alone.


def proof_allows(proof: PayloadProof, tenant: Tenant) -> bool:
    """May this payload drive `tenant`'s number? Never while its app secret cannot be read."""
    if tenant.whatsapp is not None and tenant.whatsapp.app_secret_unreadable:
        return False
    return proof_allows_secret(proof, tenant.whatsapp.app_secret if tenant.whatsapp is not None else None)


def proof_allows_secret(proof: PayloadProof, app_secret: str | None) -> bool:
    """May this payload act for a tenant whose own Meta app secret is `app_secret` (None: none)?"""
    if not app_secret or proof.kind is ProofKind.SEED_RELAY:
        return True
    if proof.verified_by is not None and hmac.compare_digest(proof.verified_by, secret_key_id(app_secret)):
        return True
    if proof.body is None or not proof.signature:
        return False
    return check_signature(proof.body, proof.signature, [app_secret]) is SignatureCheck.VALID
