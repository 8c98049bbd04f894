"""Opening a database connection for a command an operator runs (`make run`, `wa-admin`), with a
failure said in one line that names `DATABASE_URL` and what to do about it, never its credentials."""

from __future__ import annotations

import re

import asyncpg

_SHAPE = "postgresql://USER:PASSWORD@HOST:5432/DATABASE"
_USERINFO = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://([^@/?#]*)@")
_PASSWORD_PARAMETER = re.compile(r"[?&]password=([^&#]*)")
_HOST_PORT = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^/?#]*)")


class DatabaseUnusable(Exception):
    """The database cannot be used as configured; the message is one line for the operator."""


async def connect_database(url: str, *, configured: bool, timeout: float) -> asyncpg.Connection:
    """Connect to `url`. `configured`: it came from `DATABASE_URL` (else it is the embedded
    server's). Raises `DatabaseUnusable` when the URL is malformed or the server unreachable."""
    try:
        return await asyncpg.connect(url, timeout=timeout)
    except (ValueError, OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise DatabaseUnusable(connect_failure_message(error, url, configured=configured)) from None


def connect_failure_message(error: BaseException, url: str, *, configured: bool) -> str:
    """What went wrong, where, and what to do; the URL's password is never in it."""
    reason = _reason(error, url)
    if not configured:
        return (
            f"cannot connect to the embedded PostgreSQL ({reason}); stop what else uses the data"
            " folder (APP_DATA_DIR) and try again, or set DATABASE_URL to a server of your own"
        )
    if isinstance(error, ValueError):  # asyncpg's ClientConfigurationError is one too
        return (
            f"DATABASE_URL is not a usable PostgreSQL URL ({reason}); write it as {_SHAPE},"
            " or unset it to use the embedded server"
        )
    if isinstance(error, asyncpg.InvalidAuthorizationSpecificationError | asyncpg.InvalidPasswordError):
        return (
            f"the database at DATABASE_URL ({target(url)}) refused the login ({reason});"
            " check the user and password in DATABASE_URL"
        )
    if isinstance(error, asyncpg.InvalidCatalogNameError):
        return (
            f"the database named in DATABASE_URL ({target(url)}) does not exist ({reason});"
            " create it (createdb) or name another one"
        )
    return (
        f"cannot connect to the database at DATABASE_URL ({target(url)}): {reason}; check that"
        " PostgreSQL runs there and accepts connections, or unset DATABASE_URL to use the embedded server"
    )


def target(url: str) -> str:
    """HOST:PORT/DATABASE of a URL (or what stands there), without its user and password."""
    match = _HOST_PORT.match(url)
    if match is None:
        return "no host"
    rest = url[match.end() :]
    database = rest[1:].split("?", 1)[0].split("#", 1)[0] if rest.startswith("/") else ""
    host = match.group(1) or "local socket"
    return f"{host}/{database}" if database else host


def _reason(error: BaseException, url: str) -> str:
    """The error's first line, with the URL's password and any `password=` value taken out. A
    parser's own message can quote a misplaced password ("invalid literal for int(): 'secret'"),
    so only asyncpg's configuration messages are quoted; other parse errors are named."""
    if isinstance(error, ValueError) and not isinstance(error, asyncpg.ClientConfigurationError):
        return "the port is not a number" if "int()" in str(error) else "it cannot be parsed"
    text = str(error).splitlines()[0].strip() if str(error).strip() else type(error).__name__
    secrets = set(_PASSWORD_PARAMETER.findall(url))
    if (match := _USERINFO.match(url)) and ":" in match.group(1):
        secrets.add(match.group(1).split(":", 1)[1])
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return text
