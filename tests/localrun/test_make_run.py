"""`make run` end to end: a fresh data folder, the chat driven through pipes, Postgres checked, and
every process gone afterwards."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from standins import meta
from standins.server import bind_socket
from tests.conftest import CreateDatabase
from tests.localrun.driver import CLEARED, LocalRun, connect_embedded, descendants, is_gone, postmaster_pid
from tests.media_samples import jpeg_image, ogg_voice_note

READY = "You are customer +33612345678 writing to boulangerie@demo.example"


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A fresh data folder outside pytest's tmp_path: as root, Postgres runs as the `pgserver` user and
    must traverse the path, while every pytest start resets /tmp/pytest-of-root to mode 0700."""
    path = Path(tempfile.mkdtemp(prefix="localrun-test-"))
    yield path / "data"
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def runs() -> Iterator[list[LocalRun]]:
    """Every run a test starts; any still alive at the end is killed (a failed test leaves nothing)."""
    started: list[LocalRun] = []
    yield started
    for run in started:
        run.close()


def start(runs: list[LocalRun], data_dir: Path, **env: str) -> LocalRun:
    run = LocalRun(data_dir, **env)
    runs.append(run)
    return run


def processes_of(run: LocalRun) -> set[int]:
    """The run's own process tree, and the embedded Postgres (pg_ctl detaches it from the tree)."""
    postmaster = postmaster_pid(run.data_dir)
    return {run.process.pid} | descendants(run.process.pid) | {postmaster} | descendants(postmaster)


async def conversation_rows(data_dir: Path) -> list[dict[str, object]]:
    conn = await connect_embedded(data_dir)
    try:
        rows = await conn.fetch(
            """
            SELECT c.sender, c.content, c.status, c.wa_message_id, u.email
            FROM customer_conversations AS c JOIN auth.users AS u ON u.id = c.user_id
            WHERE c.phone_number = '33612345678'
            ORDER BY c.created_at, c.sender DESC
            """
        )
    finally:
        await conn.close()
    return [dict(row) for row in rows]


async def test_a_typed_message_is_answered_stored_deduplicated_and_every_process_stops(
    data_dir: Path, runs: list[LocalRun]
) -> None:
    run = start(runs, data_dir)
    await asyncio.to_thread(run.wait_for, lambda line: READY in line, 30)
    started = processes_of(run)
    assert len(started) >= 4  # localrun, handler, forwarder, postmaster (and Postgres' own workers)

    exchange = await asyncio.to_thread(run.command, "Bonjour", "ack ")
    reply = next(line for line in exchange if line.startswith("boulangerie> "))
    assert "[offline Groq stand-in]" in reply and reply.endswith("You wrote: Bonjour")
    timings = exchange[-1]
    for stage in ("ack ", "tenant lookup ", "Groq ", "send "):
        assert stage in timings

    rows = await conversation_rows(data_dir)
    assert [(r["sender"], r["status"], r["email"]) for r in rows] == [
        ("user", "answered", "boulangerie@demo.example"),
        ("bot", "sent", "boulangerie@demo.example"),
    ]
    assert rows[0]["content"] == "Bonjour"
    assert rows[1]["content"] == reply.removeprefix("boulangerie> ")

    duplicate = await asyncio.to_thread(run.command, "/duplicate", "ack ")
    assert any("no second reply" in line for line in duplicate)
    assert not any(line.startswith("boulangerie> ") for line in duplicate)
    assert any("Postgres holds 1 row(s) with this message id" in line for line in duplicate)
    assert len(await conversation_rows(data_dir)) == 2

    statuses = await asyncio.to_thread(run.command, "/status", "delivered -> read")
    assert any("sent -> delivered" in line for line in statuses)
    assert [r["status"] for r in await conversation_rows(data_dir)] == ["answered", "read"]

    history = await asyncio.to_thread(run.command, "/history", "read ")
    assert "2 row(s) in customer_conversations for +33612345678 and boulangerie, oldest first:" in history

    run.send("/quit")
    run.close_input()
    assert await asyncio.to_thread(run.finish) == 0, run.stderr
    assert "Postgres    stopped" in run.stdout
    assert [pid for pid in started if not is_gone(pid)] == []

    secrets_file, key_file = data_dir / "local-secrets.json", data_dir / "local-master-key"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    for secret in [*json.loads(secrets_file.read_text()).values(), key_file.read_text().strip()]:
        assert secret not in run.stdout and secret not in run.stderr


async def test_a_second_run_reuses_the_data_and_ctrl_c_stops_everything(
    data_dir: Path, runs: list[LocalRun]
) -> None:
    first = start(runs, data_dir)
    first.send("Bonjour")
    first.close_input()  # end of input ends the run, like Ctrl-D
    assert await asyncio.to_thread(first.finish, 30) == 0, first.stderr
    assert "created boulangerie@demo.example, garage@demo.example" in first.stdout

    second = start(runs, data_dir)
    await asyncio.to_thread(second.wait_for, lambda line: READY in line, 30)
    assert "demo tenants already there" in second.stdout
    started = processes_of(second)
    history = await asyncio.to_thread(second.command, "/history", "You wrote: Bonjour")
    assert any("customer  answered         Bonjour" in line for line in history)
    second.interrupt()
    assert await asyncio.to_thread(second.finish) == 0, second.stderr
    assert [pid for pid in started if not is_gone(pid)] == []


async def test_switching_tenant_and_customer_reaches_the_other_tenant(
    data_dir: Path, runs: list[LocalRun]
) -> None:
    run = start(runs, data_dir)
    run.send("/tenant 2")
    run.send("/customer +44 7700 900123")
    run.send("Hello")
    run.send("/tenant 9")
    run.close_input()
    assert await asyncio.to_thread(run.finish, 30) == 0, run.stderr
    assert "You are customer +447700900123 writing to garage@demo.example" in run.stdout
    assert (
        "garage> [offline Groq stand-in] (openai/gpt-oss-20b, 0 earlier messages in context) You wrote: Hello"
        in (run.stdout)
    )
    assert "there is no tenant 9; /tenant lists them" in run.stdout


async def test_the_business_writing_by_hand_makes_the_bot_step_aside_until_resumed(
    data_dir: Path, runs: list[LocalRun]
) -> None:
    run = start(runs, data_dir)
    await asyncio.to_thread(run.wait_for, lambda line: READY in line, 30)

    human = await asyncio.to_thread(run.command, "/human Bonjour, c'est Paul, je m'en occupe", "ack ")
    assert "business (by hand)> Bonjour, c'est Paul, je m'en occupe" in human
    assert any("the bot steps aside for +33612345678 until " in line for line in human)
    quiet = await asyncio.to_thread(run.command, "Merci Paul", "ack ")
    assert any("(no reply reached the customer)" in line for line in quiet)
    assert any("stored, not answered: the business wrote to this customer by hand" in line for line in quiet)
    history = await asyncio.to_thread(run.command, "/history", "quiet (paused_by_human)")
    assert any("business  sent" in line and "je m'en occupe" in line for line in history)

    resumed = await asyncio.to_thread(wa_admin, data_dir, "resume", "boulangerie@demo.example", "33612345678")
    assert resumed.returncode == 0, resumed.stderr
    answered = await asyncio.to_thread(run.command, "Et le pain ?", "ack ")
    reply = next(line for line in answered if line.startswith("boulangerie> "))
    # The business's message and the quiet one are the AI's history.
    assert "2 earlier messages in context" in reply and reply.endswith("You wrote: Et le pain ?")
    assert [(r["sender"], r["status"]) for r in await conversation_rows(data_dir)] == [
        ("business", "sent"),
        ("user", "quiet"),
        ("user", "answered"),
        ("bot", "sent"),
    ]
    run.close_input()
    assert await asyncio.to_thread(run.finish, 30) == 0, run.stderr


async def test_a_voice_note_and_a_photo_from_files_are_understood_and_answered(
    data_dir: Path, runs: list[LocalRun]
) -> None:
    files = data_dir.parent
    (files / "note.ogg").write_bytes(ogg_voice_note(8_000))
    (files / "shoe.jpg").write_bytes(jpeg_image(4_000))
    run = start(runs, data_dir)
    await asyncio.to_thread(run.wait_for, lambda line: READY in line, 30)

    voice = await asyncio.to_thread(run.command, f"/voice {files / 'note.ogg'}", "transcript by")
    assert "(sent note.ogg, 8,000 bytes, as a voice note)" in voice[1]
    reply = next(line for line in voice if line.startswith("boulangerie> "))
    assert reply.endswith("You wrote: [offline Groq stand-in] transcript of voice.ogg (8000 bytes)")
    timings = next(line for line in voice if "ack " in line)
    for stage in ("media download ", "transcription ", "Groq ", "send "):
        assert stage in timings
    assert voice[-1].endswith(
        "(transcript by the offline Groq stand-in, which does not listen to the audio; stored as the"
        " customer's message: [offline Groq stand-in] transcript of voice.ogg (8000 bytes))"
    )
    image = await asyncio.to_thread(
        run.command, f"/image {files / 'shoe.jpg'} En stock en 42 ?", "image shown"
    )
    assert any(
        "You wrote: En stock en 42 ? (I see 1 image: image/jpeg of 4000 bytes)" in line for line in image
    )
    assert image[-1].endswith(
        "(image shown to the offline Groq stand-in, which does not look at it; stored as: [image] En stock en 42 ?)"
    )
    history = await asyncio.to_thread(run.command, "/history", "[image] En stock")
    assert any("(voice note, transcript) [offline Groq stand-in] transcript" in line for line in history)

    assert len(await conversation_rows(data_dir)) == 4  # each file and its reply

    run.send("/quit")
    run.close_input()
    assert await asyncio.to_thread(run.finish) == 0, run.stderr


async def test_a_file_whatsapp_would_not_send_gets_one_line_and_nothing_is_sent(
    data_dir: Path, runs: list[LocalRun]
) -> None:
    files = data_dir.parent
    (files / "notes.ogg").write_text("shopping list: bread, milk")
    with (files / "long.ogg").open("wb") as sparse:
        sparse.truncate(16 * 1024 * 1024 + 1)
    (files / "empty.jpg").touch()
    run = start(runs, data_dir)
    await asyncio.to_thread(run.wait_for, lambda line: READY in line, 30)

    for line, problem in (
        (f"/voice {files / 'missing.ogg'}", f"no such file: {files / 'missing.ogg'}; nothing sent"),
        (f"/voice {files / 'notes.ogg'}", "notes.ogg is not OGG/Opus audio (its first bytes are b'shopping"),
        (
            f"/voice {files / 'long.ogg'}",
            "is 16,777,217 bytes: WhatsApp sends audio up to 16 MB; nothing sent",
        ),
        (f"/image {files / 'empty.jpg'} hello", "empty.jpg is empty: nothing sent"),
        ("/image menu.gif", "/image takes a .jpg, .jpeg, .png, .webp file, got menu.gif"),
    ):
        shown = await asyncio.to_thread(run.command, line, problem)
        assert shown == [f"you> {line}", shown[-1]]  # the echo, then the one line
    assert await conversation_rows(data_dir) == []

    run.send("/quit")
    run.close_input()
    assert await asyncio.to_thread(run.finish) == 0, run.stderr
    assert "ack " not in run.stdout


def wa_admin(data_dir: Path, *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`wa-admin` as an operator runs it beside `make run`: same data folder, no key configured."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED} | {"APP_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "admin", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


async def test_a_tenant_added_with_wa_admin_while_it_runs_is_answered(
    data_dir: Path, runs: list[LocalRun]
) -> None:
    run = start(runs, data_dir)
    await asyncio.to_thread(run.wait_for, lambda line: READY in line, 30)
    token, phone_number_id = "EAAnew" + "x" * 40, "100000000000077"
    steps = [
        await asyncio.to_thread(wa_admin, data_dir, "add-tenant", "--email", "florist@example.com"),
        await asyncio.to_thread(
            wa_admin, data_dir, "set-whatsapp", "florist@example.com", "--phone-number-id", phone_number_id,
            "--access-token-stdin", stdin=token + "\n",
        ),
        await asyncio.to_thread(
            wa_admin, data_dir, "set-groq", "florist@example.com", "--api-key-stdin", stdin="gsk_" + "f" * 52 + "\n"
        ),
    ]  # fmt: skip
    assert [step.returncode for step in steps] == [0, 0, 0], [step.stderr for step in steps]
    # A webhook for the new number, as Meta would send it, while the chat still talks to another
    # tenant (it has not listed tenants since).
    [forwarder] = re.findall(r"forwarder +(http://\S+/webhook)", run.stdout)
    app_secret = json.loads((data_dir / "local-secrets.json").read_text())["meta_app_secret"]
    business = meta.BusinessNumber(
        phone_number_id=phone_number_id, display_phone_number="15550077", waba_id="77"
    )
    body, headers = meta.signed_request(meta.text_webhook("Bonjour", business=business), app_secret)

    async with httpx.AsyncClient() as client:
        acknowledged = await client.post(forwarder, content=body, headers=headers)

    assert acknowledged.status_code == 200
    assert await _final_status(data_dir, phone_number_id) == ("answered", None)
    assert token not in run.stdout + run.stderr


async def _final_status(data_dir: Path, phone_number_id: str) -> tuple[str, str | None]:
    conn = await connect_embedded(data_dir)
    try:
        for _ in range(200):
            row = await conn.fetchrow(
                "SELECT status, error_title FROM customer_conversations"
                " WHERE business_phone_number_id = $1 AND sender = 'user'",
                phone_number_id,
            )
            if row is not None and row["status"] not in ("received", "answering", "sending"):
                return row["status"], row["error_title"]
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise AssertionError("the message was not answered within 10 s")


async def test_a_busy_port_is_one_line_naming_the_port_and_its_variable(
    data_dir: Path, runs: list[LocalRun]
) -> None:
    with bind_socket() as taken:
        port = taken.getsockname()[1]
        run = start(runs, data_dir, FORWARDER_PORT=str(port))
        run.close_input()
        assert await asyncio.to_thread(run.finish) == 2
    assert (
        run.stderr
        == f"error: port {port} is already in use; set FORWARDER_PORT to a free port (e.g. FORWARDER_PORT=0)\n"
    )
    assert not (data_dir / "postgres").exists()  # nothing was started


@pytest.mark.parametrize(
    ("unusable_url", "says"),
    [
        ("postgres//admin:hunter22@db.internal/app", "error: DATABASE_URL is not a usable PostgreSQL URL ("),
        (
            "postgresql://admin:hunter22@127.0.0.1:1/app",
            "error: cannot connect to the database at DATABASE_URL (127.0.0.1:1/app): ",
        ),
    ],
    ids=["malformed", "unreachable"],
)
async def test_an_unusable_database_url_is_one_line_naming_it(
    data_dir: Path, runs: list[LocalRun], unusable_url: str, says: str
) -> None:
    run = start(runs, data_dir, DATABASE_URL=unusable_url)
    run.close_input()

    assert await asyncio.to_thread(run.finish) == 2
    assert run.stderr.startswith(says) and run.stderr.count("\n") == 1
    assert "or unset it to use the embedded server" in run.stderr or "unset DATABASE_URL" in run.stderr
    assert "hunter22" not in run.stderr + "".join(run.lines)
    assert not (data_dir / "postgres").exists()  # no embedded server started in its place


async def test_the_servers_stop_by_themselves_when_the_run_is_killed(
    data_dir: Path, runs: list[LocalRun], create_database: CreateDatabase
) -> None:
    run = start(runs, data_dir, DATABASE_URL=await create_database())
    await asyncio.to_thread(run.wait_for, lambda line: READY in line, 30)
    assert "Postgres    DATABASE_URL" in run.stdout
    servers = descendants(run.process.pid)
    assert len(servers) >= 2  # the handler and the forwarder
    run.process.kill()  # no chance to clean up: the servers see their stdin pipe close
    await asyncio.to_thread(run.process.wait)
    deadline = time.monotonic() + 15
    while [pid for pid in servers if not is_gone(pid)] and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert [pid for pid in servers if not is_gone(pid)] == []
