"""The sample Lambda events in infra/events: what each one shows, how to invoke it, and its signatures.

    python -m infra.sample_events            # `make events`: list them with the commands to run each
    python -m infra.sample_events sign       # recompute their signatures with the test app secret
    python -m infra.sample_events sign --secret-env META_APP_SECRET --out DIR
                                             # copies signed with your own app secret (for a deployed stack)

Signed events carry Meta's `X-Hub-Signature-256` of their body under TEST_APP_SECRET, a secret
that belongs to no real Meta app; the tests check that every signature still matches its body.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.envelope import Envelope
from shared.signature import META_SIGNATURE_HEADER, sign

EVENTS_DIR = Path(__file__).resolve().parent / "events"
# Documented test values (infra/env.local.json, the tests): never a real app's secret or token.
TEST_APP_SECRET = "test-app-secret"
TEST_VERIFY_TOKEN = "test-verify-token"
DEFAULT_STACK_NAME = "whatsapp-assistant"

HANDLER = "HandlerFunction"
FORWARDER = "ForwarderFunction"


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleEvent:
    file: str
    functions: tuple[str, ...]  # the template's functions that accept it, the main one first
    shows: str
    expect: str


CATALOG: tuple[SampleEvent, ...] = (
    SampleEvent(
        file="envelope-text.json",
        functions=(HANDLER,),
        shows="the forwarder's hand-off (asynchronous invoke) of one text message to phone_number_id 123456789",
        expect="one Groq call with tenant 123456789's key; its reply sent to 242066582610 with that tenant's"
        " token; the message (answered) and the reply (sent) in customer_conversations",
    ),
    SampleEvent(
        file="envelope-batch-two-tenants.json",
        functions=(HANDLER,),
        shows="one webhook batching two entries: a message for 111111111 (tenant A) and one for 222222222 (tenant B)",
        expect="each customer answered by their own tenant's Groq key and WhatsApp token: 242066582611 by"
        " 111111111, 242066582612 by 222222222",
    ),
    SampleEvent(
        file="envelope-status.json",
        functions=(HANDLER,),
        shows="a status webhook: the reply wamid.…RVZFTlQtU1RBVFVTLVJFUExZAA== was delivered",
        expect="that reply's row goes from 'sent' to 'delivered' (statuses_applied 1); no Groq call, nothing"
        " sent. The reply must exist: `make invoke` records it first; where nothing sent it, the status"
        " is counted in statuses_unmatched",
    ),
    SampleEvent(
        file="envelope-image.json",
        functions=(HANDLER,),
        shows="a non-text message (an image with a caption) to 123456789",
        expect="the tenant's polite 'I can only read text' message (its unsupported_media_text) is sent to"
        " 242066582610; no Groq call",
    ),
    SampleEvent(
        file="seed-request.json",
        functions=(HANDLER,),
        shows="the old edge function's request body, unchanged (what the seed's webhook sent)",
        expect="statusCode 200, `whatsappSent: true`, the reply in `response`, sent to +242066582610 from"
        " 123456789",
    ),
    SampleEvent(
        file="function-url-handshake.json",
        functions=(FORWARDER, HANDLER),
        shows="Meta's subscription handshake (GET /webhook) through a Function URL",
        expect="200 with the body 1158201444 (the challenge): its hub.verify_token is the test verify token,"
        " which `make invoke` and env.local.json set as VERIFY_TOKEN (any other VERIFY_TOKEN: 403)",
    ),
    SampleEvent(
        file="function-url-webhook.json",
        functions=(FORWARDER, HANDLER),
        shows="Meta's POST /webhook through a Function URL, signed with the test app secret",
        expect="200 EVENT_RECEIVED; the forwarder hands the body to the handler (an asynchronous invoke),"
        " which answers 242066582613 from 123456789",
    ),
    SampleEvent(
        file="http-api-web-chat.json",
        functions=(HANDLER,),
        shows="a web chat message (POST /chat) through the API Gateway HTTP API",
        expect="200 with the reply in `response`; nothing sent on WhatsApp. `webUserId` must be the web chat"
        " tenant's id and the `authorization` header that tenant's web chat key: `make invoke` gives"
        " tenant 123456789 the id 5f0c6a8e-1d2b-4c3a-9e4f-7a8b9c0d1e2f and the event's key (else 401)",
    ),
    SampleEvent(
        file="rest-api-health.json",
        functions=(HANDLER,),
        shows="GET /health through an API Gateway REST API (payload format 1.0)",
        expect="200 with `status: healthy` when the database answers",
    ),
)


def load_event(name: str, directory: Path = EVENTS_DIR) -> dict[str, Any]:
    data = json.loads((directory / name).read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{name}: an event must be a JSON object")
    return data


def signed_body(event: Mapping[str, Any]) -> bytes | None:
    """The bytes an event's signature covers: an envelope's body, or a signed HTTP request's body."""
    if Envelope.matches(event) and isinstance(event.get("body"), str):
        return str(event["body"]).encode()
    if _signature_header_name(event) is not None and isinstance(event.get("body"), str):
        body = str(event["body"])
        return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    return None


def current_signature(event: Mapping[str, Any]) -> str | None:
    if Envelope.matches(event):
        signature = event.get("signature")
        return signature if isinstance(signature, str) else None
    header = _signature_header_name(event)
    return None if header is None else str(event["headers"][header])


def with_signature(event: Mapping[str, Any], secret: str) -> dict[str, Any]:
    """A copy of `event` whose signature is recomputed from its body (unsigned events are unchanged)."""
    body = signed_body(event)
    updated: dict[str, Any] = copy.deepcopy(dict(event))
    if body is None:
        return updated
    signature = sign(secret, body)
    if Envelope.matches(event):
        updated["signature"] = signature
    else:
        header = _signature_header_name(event)
        assert header is not None
        updated["headers"][header] = signature
    return updated


def stale_signatures(directory: Path = EVENTS_DIR, secret: str = TEST_APP_SECRET) -> list[str]:
    """Files whose signature no longer matches their body (edited without `sign`)."""
    stale = []
    for path in sorted(directory.glob("*.json")):
        event = load_event(path.name, directory)
        if current_signature(event) != current_signature(with_signature(event, secret)):
            stale.append(path.name)
    return stale


def sign_events(source: Path, destination: Path, secret: str) -> list[str]:
    """Write every event of `source` into `destination` with fresh signatures; return those that changed."""
    destination.mkdir(parents=True, exist_ok=True)
    changed = []
    for path in sorted(source.glob("*.json")):
        event = load_event(path.name, source)
        text = dump_event(with_signature(event, secret))
        target = destination / path.name
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            changed.append(path.name)
    return changed


def dump_event(event: Mapping[str, Any]) -> str:
    return json.dumps(event, indent=2, ensure_ascii=False) + "\n"


def _signature_header_name(event: Mapping[str, Any]) -> str | None:
    headers = event.get("headers")
    if not isinstance(headers, Mapping):
        return None
    for name in headers:
        if isinstance(name, str) and name.lower() == META_SIGNATURE_HEADER:
            return name
    return None


def render_listing(catalog: Sequence[SampleEvent], stack_name: str = DEFAULT_STACK_NAME) -> str:
    lines = [
        "Sample events (infra/events). `make invoke EVENT=…` runs one through the real lambda_handler in",
        "this process, without Docker: against make run's database, with the Groq and Graph stand-ins,",
        "after preparing the tenants and the reply it names. Each also works as a Lambda console test event (function >",
        "Test > Create new event > paste the file), with `sam local invoke` (from infra/, after `sam build`;",
        "env.local.json holds the test secret and verify token) and with `sam remote invoke` on a",
        "deployed stack. There the tenants they name (phone_number_id 123456789, 111111111, 222222222 and",
        "web user 5f0c6a8e-…) must exist: see infra/DEPLOY.md, 'Trying the sample events'. A message id",
        "is answered once: invoke the same message event again and it is recognised as a duplicate.",
        "",
    ]
    for event in catalog:
        main_function = event.functions[0]
        lines.append(f"{event.file}  [{', '.join(event.functions)}]")
        lines.append(f"  shows:  {event.shows}")
        lines.append(f"  expect: {event.expect}")
        lines.append(f"  here:   make invoke EVENT=infra/events/{event.file}")
        lines.append(f"  local:  cd infra && sam local invoke {main_function} -e events/{event.file}")
        lines.append(
            f"  AWS:    sam remote invoke {main_function} --stack-name {stack_name}"
            f" --event-file infra/events/{event.file}"
        )
        lines.append("")
    lines.append(
        "Signed events use the test app secret 'test-app-secret'. For a deployed stack, sign copies with"
    )
    lines.append(
        "your own: META_APP_SECRET=... python -m infra.sample_events sign --secret-env META_APP_SECRET"
        " --out /tmp/events"
    )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.sample_events", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command")
    listing = commands.add_parser("list", help="list the events and how to invoke each (default)")
    listing.add_argument("--stack-name", default=DEFAULT_STACK_NAME)
    signing = commands.add_parser("sign", help="recompute the events' signatures")
    signing.add_argument("--secret-env", help="sign with the app secret in this environment variable")
    signing.add_argument("--out", type=Path, help="write signed copies here instead of in place")
    arguments = parser.parse_args(argv)
    if arguments.command == "sign":
        return _sign(arguments.secret_env, arguments.out)
    sys.stdout.write(render_listing(CATALOG, getattr(arguments, "stack_name", DEFAULT_STACK_NAME)))
    return 0


def _sign(secret_env: str | None, out: Path | None) -> int:
    secret = TEST_APP_SECRET
    if secret_env is not None:
        # The first secret of a comma list, as the forwarder's META_APP_SECRET holds them.
        secret = os.environ.get(secret_env, "").split(",")[0].strip()
        if not secret:
            sys.stderr.write(f"error: {secret_env} is not set\n")
            return 1
        if out is None:
            sys.stderr.write(
                "error: with --secret-env, give --out: the committed events keep the test secret\n"
            )
            return 1
    changed = sign_events(EVENTS_DIR, out or EVENTS_DIR, secret)
    sys.stdout.write(f"{len(changed)} event(s) re-signed: {', '.join(changed) or 'none'}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
