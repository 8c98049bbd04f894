"""Typed readers for environment variables, with errors that name the variable."""

from __future__ import annotations

from collections.abc import Mapping

from shared.errors import ConfigurationError

__all__ = [
    "ConfigurationError",
    "comma_list",
    "optional_bool",
    "optional_float",
    "optional_int",
    "optional_str",
    "required_str",
]


def optional_str(env: Mapping[str, str], name: str, default: str = "") -> str:
    return env.get(name, default).strip() or default


def required_str(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"{name} is not set")
    return value


def optional_int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, got {value}")
    return value


def optional_float(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, got {value}")
    return value


def optional_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"{name} must be true or false, got {raw!r}")


def comma_list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated values, blanks dropped (e.g. several Meta app secrets)."""
    return tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())
