"""The environment the two functions read their settings from during `make invoke`.

Both read the process environment (as in Lambda), so it is set for the invocation and put back
afterwards. The values point at this process's stand-ins and use the sample events' test secrets.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from infra.sample_events import HANDLER, TEST_APP_SECRET, TEST_VERIFY_TOKEN
from localrun.settings import quiet_metrics

# Where the forwarder's boto3 client looks for the handler, and what it signs with: a fake
# account, so no real AWS credential is ever sent to the stand-in.
FAKE_AWS_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": None,
    "AWS_PROFILE": None,
}
AWS_REGION = "eu-west-1"

Changes = Mapping[str, str | None]  # None: the variable is removed


def function_environment(
    *,
    database_url: str,
    groq_base_url: str,
    graph_base_url: str,
    lambda_endpoint_url: str | None,
    env: Mapping[str, str] | None = None,
) -> dict[str, str | None]:
    """What the handler and the forwarder need here (the forwarder hands off to HandlerFunction at
    `lambda_endpoint_url`); variables that would send them elsewhere (the HTTP transport, S3
    parking, the seed route) are removed."""
    env = os.environ if env is None else env
    changes: dict[str, str | None] = {
        "DATABASE_URL": database_url,
        "GROQ_BASE_URL": groq_base_url,
        "GRAPH_API_BASE_URL": graph_base_url,
        "META_APP_SECRET": TEST_APP_SECRET,
        "VERIFY_TOKEN": TEST_VERIFY_TOKEN,
        "HANDLER_FUNCTION_NAME": HANDLER if lambda_endpoint_url else None,
        "AWS_ENDPOINT_URL_LAMBDA": lambda_endpoint_url,
        "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION") or AWS_REGION,
        "HANDLER_URL": None,
        "FORWARDER_HANDLER_SECRET": None,
        "PARKING_BUCKET": None,
        "SEED_ROUTE_KEY": None,
        "AWS_LAMBDA_FUNCTION_NAME": None,  # would make our logging take over the root handler's format
        **quiet_metrics(env),  # the report shows the outcome; EMF lines only unless asked for
    }
    # Tenant secrets under KMS need the operator's own credentials (KMS_KEY_ID set): those stay.
    if not env.get("KMS_KEY_ID", "").strip():
        changes.update(FAKE_AWS_CREDENTIALS)
    return changes


@contextmanager
def patched_environ(changes: Changes) -> Iterator[None]:
    """Apply `changes` to `os.environ`, and restore every variable they touched on the way out."""
    saved = {name: os.environ.get(name) for name in changes}
    try:
        _apply(changes)
        yield
    finally:
        _apply(saved)


def _apply(changes: Changes) -> None:
    for name, value in changes.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
