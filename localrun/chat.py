"""The chat: each line typed becomes a signed Meta webhook to the real forwarder; replies come back
through the whole pipeline and are shown as the customer sees them, with each stage's time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from localrun import conversations, render
from localrun.commands import HELP, ChatInput, Kind, parse_input
from localrun.console import InputLines, Output
from localrun.conversations import ChatTenant
from localrun.errors import ServerFailed
from localrun.handler_events import HandlerEvent, is_finished, stage_times
from localrun.media_files import MediaFile, MediaFileProblem, MediaKind, read_media_file
from localrun.system import RunningSystem
from standins import meta
from standins.graph import SentMessage

_POLL_SECONDS = 0.01
# After a refused webhook or a duplicate the handler logs at once, or not at all.
_SHORT_WAIT_SECONDS = 3.0
_WEBHOOK_TIMEOUT_SECONDS = 90.0
_PROMPT = "you> "
_CUSTOMER_NAME = "Local Customer"


@dataclass(frozen=True, slots=True, kw_only=True)
class Exchange:
    """The last message sent: what `/duplicate` resends and whose reply `/status` updates."""

    tenant: ChatTenant
    customer: str
    wamid: str
    body: bytes = field(repr=False)
    headers: dict[str, str] = field(repr=False)
    reply_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Ack:
    status: int
    ms: float


class ChatSession:
    def __init__(
        self,
        system: RunningSystem,
        conn: asyncpg.Connection,
        http: httpx.AsyncClient,
        out: Output,
        lines: InputLines,
        *,
        interactive: bool,
    ) -> None:
        self._system = system
        self._conn = conn
        self._http = http
        self._out = out
        self._lines = lines
        self._interactive = interactive
        self._tenants: list[ChatTenant] = []
        self._tenant: ChatTenant | None = None
        self._customer = meta.DEFAULT_CUSTOMER
        self._last: Exchange | None = None
        self._handlers: dict[Kind, Callable[[ChatInput], Awaitable[None]]] = {
            Kind.MESSAGE: self.send_message,
            Kind.VOICE: self.send_media,
            Kind.IMAGE: self.send_media,
            Kind.CUSTOMER: self.switch_customer,
            Kind.TENANT: self.switch_tenant,
            Kind.HISTORY: self.show_history,
            Kind.DUPLICATE: self.send_duplicate,
            Kind.STATUS: self.send_statuses,
            Kind.HUMAN: self.send_as_business,
            Kind.HELP: self.show_help,
            Kind.INVALID: self.show_problem,
        }

    async def run(self) -> None:
        """Read and answer lines until /quit or the end of input."""
        await self._load_tenants()
        self._tenant = self._tenants[0] if self._tenants else None
        self._out.line()
        self._out.line(
            "Chat as a WhatsApp customer. /help lists the commands; /quit, Ctrl-C or Ctrl-D stops."
        )
        self._show_who()
        while True:
            if self._interactive:
                self._out.prompt(_PROMPT)
            line = await self._lines.readline()
            if line is None:
                if self._interactive:
                    self._out.line()
                return
            if not self._interactive and line.strip():
                self._out.line(_PROMPT + line.strip())
            entry = parse_input(line)
            if entry.kind is Kind.QUIT:
                return
            handler = self._handlers.get(entry.kind)
            if handler is not None:
                await handler(entry)
            self._check_servers()

    # --- commands ---------------------------------------------------------------------------

    async def send_message(self, entry: ChatInput) -> None:
        tenant = self._require_tenant()
        if tenant is None:
            return
        await self._send(tenant, meta.text_message(entry.text, sender=self._customer))

    async def send_media(self, entry: ChatInput) -> None:
        """/voice FILE, /image FILE [caption]: the file goes to the Graph stand-in as media of the
        tenant's number, as a customer's phone uploads it, and the webhook names it (the handler
        fetches it with the tenant's token, as from Meta)."""
        tenant = self._require_tenant()
        if tenant is None:
            return
        kind = MediaKind(entry.kind.value)
        try:
            file = await asyncio.to_thread(read_media_file, kind, Path(entry.text).expanduser())
        except MediaFileProblem as problem:
            self._out.line(str(problem))
            return
        uploaded = await self._upload(file, tenant)
        if uploaded is None:
            return
        media_id, sha256 = uploaded
        voice = kind is MediaKind.VOICE
        message = meta.media_message(
            "audio" if voice else "image",
            media_id=media_id,
            mime_type=file.mime_type,
            sha256=sha256,
            caption=None if voice else entry.caption or None,
            voice=True if voice else None,
            sender=self._customer,
        )
        self._out.line(render.media_sent(file.path.name, len(file.data), voice=voice))
        wamid = await self._send(tenant, message)
        if wamid is not None:
            stored = await conversations.customer_message(self._conn, tenant, wamid)
            self._write(render.media_understanding(stored, groq_standin=self._system.groq is not None))

    async def _upload(self, file: MediaFile, tenant: ChatTenant) -> tuple[str, str] | None:
        """The media id and base64 sha256 the Graph stand-in gives `file`, as Meta's webhook carries them."""
        try:
            response = await self._http.post(
                self._system.graph.base_url + "/_standin/media",
                params={"phone_number_id": tenant.phone_number_id, "mime_type": file.mime_type},
                content=file.data,
                timeout=_WEBHOOK_TIMEOUT_SECONDS,
            )
        except httpx.HTTPError as exc:
            self._out.line(f"the Graph stand-in did not take the file ({type(exc).__name__}): nothing sent")
            return None
        if response.status_code != 200:
            self._out.line(f"the Graph stand-in refused the file (HTTP {response.status_code}): nothing sent")
            return None
        stored = response.json()
        return str(stored["id"]), str(stored["sha256"])

    async def _send(self, tenant: ChatTenant, message: dict[str, Any]) -> str | None:
        """Post one customer message as Meta's webhook and show what came back; its wamid."""
        customer = self._customer
        payload = meta.webhook_payload(
            meta.messages_change(message, business=tenant.business, names={customer: _CUSTOMER_NAME})
        )
        body, headers = meta.signed_request(payload, self._system.secrets.meta_app_secret)
        wamid: str = message["id"]
        mark = len(self._system.graph.requests)
        ack = await self._post(body, headers)
        if ack is None:
            return None
        wait = self._system.settings.reply_timeout_seconds if ack.status == 200 else _SHORT_WAIT_SECONDS
        events = await self._handler_events(wamid, since=0, timeout=wait)
        sent = self._deliveries(mark, tenant, customer)
        if sent:
            for text in render.reply(tenant.label, [m.body or f"[{m.type} message]" for m in sent]):
                self._out.line(text)
        else:
            self._out.line(f"{render.INDENT}(no reply reached the customer)")
        self._write(render.outcome_notes(events))
        self._out.line(render.timings(ack.ms, ack.status, stage_times(events)))
        self._last = Exchange(
            tenant=tenant,
            customer=customer,
            wamid=wamid,
            body=body,
            headers=headers,
            reply_ids=tuple(m.wamid for m in sent if m.wamid),
        )
        return wamid

    async def send_duplicate(self, entry: ChatInput) -> None:
        last = self._last
        if last is None:
            self._out.line("nothing sent yet: type a message first")
            return
        before = len(self._system.events.for_wamid(last.wamid))
        mark = len(self._system.graph.requests)
        self._out.line(
            f"sending the last webhook again (message id {render.short_id(last.wamid)}), as Meta retries"
        )
        ack = await self._post(last.body, last.headers)
        if ack is None:
            return
        events = await self._handler_events(last.wamid, since=before, timeout=_SHORT_WAIT_SECONDS)
        sent = self._deliveries(mark, last.tenant, last.customer)
        if sent:
            self._write(render.reply(last.tenant.label, [m.body or "" for m in sent]))
            self._out.line(
                f"{render.INDENT}(answered AGAIN: {len(sent)} more message(s) reached the customer)"
            )
        else:
            self._out.line(f"{render.INDENT}no second reply: the customer got nothing new")
        self._write(render.outcome_notes(events))
        rows = await conversations.rows_for_message(self._conn, last.tenant, last.wamid)
        self._out.line(f"{render.INDENT}Postgres holds {rows} row(s) with this message id")
        self._out.line(render.timings(ack.ms, ack.status, stage_times(events)))

    async def send_statuses(self, entry: ChatInput) -> None:
        last = self._last
        if last is None or not last.reply_ids:
            self._out.line("no reply to update yet: send a message that gets answered first")
            return
        ids = last.reply_ids
        previous = await conversations.reply_statuses(self._conn, last.tenant, ids)
        self._out.line(f"Meta reports on the last reply ({len(ids)} message(s), {render.short_id(ids[0])}):")
        for state in ("delivered", "read"):
            updates = [meta.status(wamid, state, recipient=last.customer) for wamid in ids]
            payload = meta.webhook_payload(meta.statuses_change(*updates, business=last.tenant.business))
            body, headers = meta.signed_request(payload, self._system.secrets.meta_app_secret)
            ack = await self._post(body, headers)
            if ack is None:
                return
            current = await conversations.reply_statuses(self._conn, last.tenant, ids)
            change = ", ".join(f"{previous.get(i) or '-'} -> {current.get(i) or '-'}" for i in ids)
            self._out.line(
                f"{render.INDENT}{state:<9}  row status {change}  (ack {render.milliseconds(ack.ms)})"
            )
            previous = current

    async def send_as_business(self, entry: ChatInput) -> None:
        """The business answers this customer by hand from the WhatsApp Business app: Meta's
        `smb_message_echoes` webhook, through the forwarder like any other."""
        tenant = self._require_tenant()
        if tenant is None:
            return
        customer = self._customer
        echo = meta.text_echo(entry.text, to=customer, business=tenant.business)
        payload = meta.webhook_payload(meta.echoes_change(echo, business=tenant.business))
        body, headers = meta.signed_request(payload, self._system.secrets.meta_app_secret)
        ack = await self._post(body, headers)
        if ack is None:
            return
        events = await self._handler_events(
            echo["id"], since=0, timeout=self._system.settings.reply_timeout_seconds
        )
        pause = await conversations.pause(self._conn, tenant, customer)
        self._write(render.business_message(entry.text, pause, tenant, customer))
        self._write(render.outcome_notes(events))
        self._out.line(render.timings(ack.ms, ack.status, {}))

    async def show_history(self, entry: ChatInput) -> None:
        tenant = self._require_tenant()
        if tenant is None:
            return
        rows = await conversations.history(self._conn, tenant, self._customer, entry.number or 20)
        self._write(render.history(rows, tenant, self._customer))

    async def switch_customer(self, entry: ChatInput) -> None:
        self._customer = entry.text
        self._show_who()

    async def switch_tenant(self, entry: ChatInput) -> None:
        await self._load_tenants()
        if entry.number is None:
            self._write(render.tenants(self._tenants, self._tenant))
            return
        if entry.number > len(self._tenants):
            self._out.line(f"there is no tenant {entry.number}; /tenant lists them")
            return
        self._tenant = self._tenants[entry.number - 1]
        self._show_who()

    async def show_help(self, entry: ChatInput) -> None:
        self._out.line(HELP)

    async def show_problem(self, entry: ChatInput) -> None:
        self._out.line(entry.text)

    # --- helpers ----------------------------------------------------------------------------

    async def _load_tenants(self) -> None:
        self._tenants = await conversations.chat_tenants(self._conn)
        for tenant in self._tenants:
            # The Graph stand-in then checks that each reply carries its own tenant's token.
            if tenant.access_token is not None:
                self._system.graph.register(tenant.phone_number_id, tenant.access_token)

    def _require_tenant(self) -> ChatTenant | None:
        if self._tenant is None:
            self._out.line("no tenant has an active WhatsApp number: add one with wa-admin, then /tenant")
        return self._tenant

    def _show_who(self) -> None:
        if self._tenant is not None:
            self._out.line(render.talking_to(self._tenant, self._customer))

    async def _post(self, body: bytes, headers: dict[str, str]) -> Ack | None:
        started = time.perf_counter()
        try:
            response = await self._http.post(
                self._system.webhook_url, content=body, headers=headers, timeout=_WEBHOOK_TIMEOUT_SECONDS
            )
        except httpx.HTTPError as exc:
            self._out.line(f"{render.INDENT}(the forwarder did not answer: {type(exc).__name__})")
            return None
        return Ack(status=response.status_code, ms=(time.perf_counter() - started) * 1000)

    async def _handler_events(self, wamid: str, *, since: int, timeout: float) -> Sequence[HandlerEvent]:
        """The handler's events for `wamid` past the first `since`, once it has logged its last one."""
        deadline = time.monotonic() + timeout
        while True:
            events = self._system.events.for_wamid(wamid)[since:]
            if is_finished(events) or time.monotonic() > deadline or self._system.stopped_server():
                return events
            await asyncio.sleep(_POLL_SECONDS)

    def _deliveries(self, mark: int, tenant: ChatTenant, customer: str) -> list[SentMessage]:
        return [
            m
            for m in self._system.graph.requests[mark:]
            if m.accepted and m.to == customer and m.phone_number_id == tenant.phone_number_id
        ]

    def _check_servers(self) -> None:
        stopped = self._system.stopped_server()
        if stopped is not None:
            raise ServerFailed(
                f"the {stopped.spec.name} stopped (exit code {stopped.exit_code()}); see {stopped.spec.log_path}"
            )

    def _write(self, lines: Sequence[str]) -> None:
        for line in lines:
            self._out.line(line)


async def chat(system: RunningSystem, out: Output, lines: InputLines, *, interactive: bool) -> None:
    """Open the chat's database connection and HTTP client, and chat until the end."""
    conn = await asyncpg.connect(system.database_url)
    try:
        async with httpx.AsyncClient() as http:
            await ChatSession(system, conn, http, out, lines, interactive=interactive).run()
    finally:
        await conn.close()
