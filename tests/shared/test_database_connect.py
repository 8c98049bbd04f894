"""What an operator reads when the database cannot be used: one line, where, what to do, no password."""

from __future__ import annotations

import asyncpg
import pytest

from ops.database_connect import DatabaseUnusable, connect_database, connect_failure_message, target

PASSWORD = "hunter22-s3cret"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://admin:{PASSWORD}@db.internal:notaport/app",
        f"postgresql://admin@db.internal:{PASSWORD}/app",
        f"postgres://admin:{PASSWORD}@[::1/app",
        f"mysql://admin:{PASSWORD}@db.internal/app",
        f"postgresql://admin@127.0.0.1/app?sslmode={PASSWORD}",
        f"postgresql://admin@127.0.0.1/app?password={PASSWORD}&sslmode=maybe",
    ],
)
async def test_a_malformed_url_is_named_with_the_shape_to_use_and_never_its_password(url: str) -> None:
    with pytest.raises(DatabaseUnusable) as raised:
        await connect_database(url, configured=True, timeout=1.0)

    message = str(raised.value)
    assert message.startswith("DATABASE_URL is not a usable PostgreSQL URL (")
    assert "postgresql://USER:PASSWORD@HOST:5432/DATABASE" in message and "\n" not in message
    assert PASSWORD not in message


def test_a_refused_login_points_at_the_credentials_without_showing_them() -> None:
    error = asyncpg.InvalidPasswordError('password authentication failed for user "admin"')

    message = connect_failure_message(error, f"postgresql://admin:{PASSWORD}@db:5432/app", configured=True)

    assert message == (
        "the database at DATABASE_URL (db:5432/app) refused the login (password authentication failed for"
        ' user "admin"); check the user and password in DATABASE_URL'
    )


def test_the_embedded_server_is_not_blamed_on_database_url() -> None:
    message = connect_failure_message(
        FileNotFoundError(2, "No such file or directory"),
        "postgresql:///postgres?host=/tmp/x",
        configured=False,
    )

    assert message.startswith(
        "cannot connect to the embedded PostgreSQL ([Errno 2] No such file or directory)"
    )
    assert "set DATABASE_URL to a server of your own" in message


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"postgresql://admin:{PASSWORD}@db.internal:5433/app?sslmode=require", "db.internal:5433/app"),
        ("postgresql:///app?host=/run/postgresql", "local socket/app"),
        ("postgresql://db", "db"),
        ("no scheme at all", "no host"),
    ],
)
def test_the_target_shows_host_port_and_database_only(url: str, expected: str) -> None:
    assert target(url) == expected
