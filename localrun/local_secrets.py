"""The local run's secrets, generated once and kept in the data folder (`local-secrets.json`, mode 0600).

They stand for what Meta and the tenants would hold: the verify token, the Meta app secret, the
forwarder-handler secret, and the demo tenants' WhatsApp tokens and offline Groq key.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from localrun.errors import BadLocalSecrets


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalSecrets:
    verify_token: str = field(repr=False)
    meta_app_secret: str = field(repr=False)
    forwarder_handler_secret: str = field(repr=False)
    demo_access_token_1: str = field(repr=False)
    demo_access_token_2: str = field(repr=False)
    demo_groq_api_key: str = field(repr=False)  # only the offline stand-in ever sees it

    def demo_access_token(self, number: int) -> str:
        return self.demo_access_token_1 if number == 1 else self.demo_access_token_2


_PREFIXES = {
    "verify_token": "verify-",
    "meta_app_secret": "",
    "forwarder_handler_secret": "",
    "demo_access_token_1": "EAAdemo",
    "demo_access_token_2": "EAAdemo",
    "demo_groq_api_key": "gsk_offline_",
}


def _generate(name: str) -> str:
    return _PREFIXES.get(name, "") + secrets.token_hex(24)


def load_or_create(path: Path) -> LocalSecrets:
    """The secrets stored at `path`; any that are missing are generated and stored first."""
    stored = _read(path)
    names = [f.name for f in fields(LocalSecrets)]
    values: dict[str, str] = {}
    for name in names:
        value = stored.get(name)
        values[name] = value if isinstance(value, str) and value else _generate(name)
    result = LocalSecrets(**values)
    if any(stored.get(name) != values[name] for name in names):
        _write(path, result)
    return result


def _read(path: Path) -> dict[str, object]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise BadLocalSecrets(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise BadLocalSecrets(f"{path} is not a JSON object; delete it to generate new local secrets")
    return data


def _write(path: Path, values: LocalSecrets) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(asdict(values), handle, indent=2)
        handle.write("\n")
    os.replace(temporary, path)
