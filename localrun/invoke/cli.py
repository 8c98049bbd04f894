"""`python -m localrun.invoke EVENT` (`make invoke EVENT=infra/events/<file>.json`): one sample
event through the real `lambda_handler`, in this process, against `make run`'s database."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from admin.errors import AdminError
from infra.sample_events import CATALOG, EVENTS_DIR, SampleEvent, load_event
from localrun.console import Output
from localrun.database import database_url
from localrun.errors import BadEvent, LocalRunError
from localrun.invoke.runner import EventFile, describe_target, run_event
from localrun.master_key import use_local_master_key
from localrun.settings import LocalSettings
from ops.database import PROJECT_ROOT
from shared.env import ConfigurationError
from shared.logs import JsonFormatter

USAGE = "usage: make invoke EVENT=infra/events/<file>.json  (`make events` lists the sample events)"


def find_event(argument: str, catalog: Sequence[SampleEvent] = CATALOG) -> EventFile:
    """The sample event `argument` names (a path, or a file name in infra/events); `BadEvent` when
    the file is missing, is not one of the catalogued events, or is not a JSON object."""
    given = Path(argument)
    path = next(
        (candidate for candidate in (given, PROJECT_ROOT / given, EVENTS_DIR / given) if candidate.is_file()),
        None,
    )
    if path is None:
        raise BadEvent(f"no such event file: {argument}")
    sample = next((event for event in catalog if event.file == path.name), None)
    if sample is None:
        raise BadEvent(
            f"{argument} is not one of the sample events in infra/events (`make events` lists them)"
        )
    try:
        event = load_event(path.name, path.parent)
    except json.JSONDecodeError as exc:
        raise BadEvent(f"{argument} is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    except UnicodeDecodeError:
        raise BadEvent(f"{argument} is not UTF-8 text") from None
    except ValueError:
        raise BadEvent(f"{argument} is not a JSON object, as a Lambda event must be") from None
    except OSError as exc:
        raise BadEvent(f"cannot read {argument}: {exc.strerror or exc}") from None
    return EventFile(sample=sample, path=path, event=event)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if len(arguments) != 1 or not arguments[0].strip() or arguments[0].startswith("-"):
        sys.stderr.write(USAGE + "\n")
        return 2
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")  # replies in any language, on any terminal
    out = Output(sys.stdout)
    try:
        target = find_event(arguments[0].strip())
        settings = LocalSettings.from_env()
        log_path = settings.run_dir / "invoke.log"
        with _log_to_file(log_path):
            out.line(describe_target(target))
            key_file = use_local_master_key(settings.data_dir)  # before any secret is written or read
            url = database_url(settings)  # the embedded server may take a few seconds to start
            for line in _where(settings, key_file, log_path):
                out.line(line)
            done = asyncio.run(run_event(target, url, out, configured=bool(settings.database_url)))
    except (LocalRunError, AdminError, ConfigurationError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return getattr(exc, "exit_code", 2)
    return 1 if done.failed else 0  # the function raised: Lambda's error object is printed above


@contextmanager
def _log_to_file(path: Path) -> Iterator[None]:
    """The functions' JSON log lines go to a file, not between the report's lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()


def _where(settings: LocalSettings, key_file: Path | None, log_path: Path) -> list[str]:
    """The data folder, master key and database this run uses, as `make run` shows them."""
    database = (
        "DATABASE_URL" if settings.database_url else f"embedded Postgres in {_shown(settings.postgres_dir)}"
    )
    lines = [f"  data        {_shown(settings.data_dir)} (the functions' log lines: {_shown(log_path)})"]
    if key_file is not None:
        lines.append(f"  secrets     tenant secrets encrypted at rest with {_shown(key_file)}")
    lines.append(f"  database    {database}")
    return lines


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
