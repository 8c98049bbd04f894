"""Which Meta app secret signs `wa-admin webhook-test`'s sample, and how to say where it came from.

In this order: the tenant's own app secret (Meta signs the webhooks of a tenant's own app with it,
and the handler acts for such a tenant only on payloads it signed); else the first secret of
`META_APP_SECRET` (what the forwarder checks); else the app secret `make run` keeps in the data
folder (`local-secrets.json`). The choice is a pure function; reading the local file is the one I/O.
Only the origin is ever shown, never the secret.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from admin.errors import MissingSecret
from admin.secrets_input import Secret

# The field of localrun/local_secrets.py's LocalSecrets that holds the local Meta app secret.
_LOCAL_APP_SECRET_FIELD = "meta_app_secret"


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalSecretFile:
    """What `make run`'s secrets file offers: its app secret, or why there is none."""

    path: Path
    app_secret: Secret | None
    problem: str = ""  # "not found", "not a JSON object", ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretCandidates:
    tenant_secret: Secret | None  # the tenant's own app secret, decrypted
    tenant_secret_unreadable: bool  # stored, but this process cannot decrypt it
    env_secrets: tuple[str, ...]  # META_APP_SECRET, split at commas
    local: LocalSecretFile


@dataclass(frozen=True, slots=True, kw_only=True)
class SigningSecret:
    secret: Secret
    origin: str  # e.g. "META_APP_SECRET (the first of 2)"
    notes: tuple[str, ...] = ()  # what the operator should know about this choice


def choose_signing_secret(candidates: SecretCandidates) -> SigningSecret:
    """The secret to sign with; `MissingSecret` when there is none anywhere."""
    notes: list[str] = []
    if candidates.tenant_secret_unreadable:
        notes.append(
            "the tenant's own app secret cannot be decrypted with this master key; the handler"
            " refuses the tenant's messages unless its key can"
        )
    tenant, env = candidates.tenant_secret, candidates.env_secrets
    if tenant is not None:
        if env and tenant.value not in env:
            notes.append(
                "META_APP_SECRET here does not hold the tenant's app secret: a forwarder configured"
                " with the same value answers 401"
            )
        return SigningSecret(secret=tenant, origin="the tenant's own Meta app secret", notes=tuple(notes))
    if env:
        of = f" (the first of {len(env)})" if len(env) > 1 else ""
        return SigningSecret(secret=Secret(env[0]), origin=f"META_APP_SECRET{of}", notes=tuple(notes))
    local = candidates.local
    if local.app_secret is not None:
        return SigningSecret(
            secret=local.app_secret, origin=f"make run's local app secret ({local.path})", notes=tuple(notes)
        )
    own = "cannot be decrypted here" if candidates.tenant_secret_unreadable else "is not set"
    raise MissingSecret(
        f"no Meta app secret to sign with: the tenant's own {own}, META_APP_SECRET is not set, and"
        f" make run's {local.path} is {local.problem}; set META_APP_SECRET to the forwarder's app"
        " secret (or start make run once)"
    )


def read_local_secret_file(path: Path) -> LocalSecretFile:
    """The local app secret from `path`; a missing or unusable file is a `problem`, not an error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return LocalSecretFile(path=path, app_secret=None, problem="not there")
    except OSError as error:
        return LocalSecretFile(path=path, app_secret=None, problem=f"unreadable ({error.strerror or error})")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return LocalSecretFile(path=path, app_secret=None, problem="not a JSON object")
    value = data.get(_LOCAL_APP_SECRET_FIELD)
    if not isinstance(value, str) or not value.strip():
        return LocalSecretFile(path=path, app_secret=None, problem=f"without {_LOCAL_APP_SECRET_FIELD}")
    return LocalSecretFile(path=path, app_secret=Secret(value.strip()))
