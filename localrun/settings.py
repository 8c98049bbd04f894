"""What `make run` is configured with: ports, the data folder, the database and where Groq is."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from ops.database import LOCAL_SECRETS_FILE, data_dir
from shared.env import ConfigurationError, optional_float, optional_int, optional_str

_MAX_PORT = 65535


@dataclass(frozen=True, slots=True, kw_only=True)
class PortSetting:
    """A port and the variable that sets it (0: any free port)."""

    variable: str
    port: int


class GroqTarget(StrEnum):
    STANDIN = "standin"  # the offline stand-in started by `make run`
    REAL = "real"  # api.groq.com with DEMO_GROQ_API_KEY
    CUSTOM = "custom"  # GROQ_BASE_URL from the environment, left as it is


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalSettings:
    handler: PortSetting
    forwarder: PortSetting
    groq_standin: PortSetting
    graph_standin: PortSetting
    data_dir: Path
    database_url: str  # empty: the embedded Postgres under the data folder
    groq_base_url: str  # GROQ_BASE_URL as the user set it; empty when unset
    demo_groq_api_key: str = field(repr=False)  # a real Groq key for the demo tenants
    reply_timeout_seconds: float
    startup_timeout_seconds: float

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LocalSettings:
        env = os.environ if env is None else env
        return cls(
            handler=_port(env, "HANDLER_PORT", 8001),
            forwarder=_port(env, "FORWARDER_PORT", 8002),
            groq_standin=_port(env, "GROQ_STANDIN_PORT", 8003),
            graph_standin=_port(env, "GRAPH_STANDIN_PORT", 8004),
            data_dir=data_dir(env),
            database_url=optional_str(env, "DATABASE_URL"),
            groq_base_url=optional_str(env, "GROQ_BASE_URL"),
            demo_groq_api_key=optional_str(env, "DEMO_GROQ_API_KEY"),
            reply_timeout_seconds=optional_float(env, "LOCALRUN_REPLY_TIMEOUT_SECONDS", 60.0, minimum=1.0),
            startup_timeout_seconds=optional_float(
                env, "LOCALRUN_STARTUP_TIMEOUT_SECONDS", 30.0, minimum=1.0
            ),
        )

    @property
    def groq_target(self) -> GroqTarget:
        if self.groq_base_url:
            return GroqTarget.CUSTOM
        if self.demo_groq_api_key:
            return GroqTarget.REAL
        return GroqTarget.STANDIN

    @property
    def run_dir(self) -> Path:
        """Where this run's logs go."""
        return self.data_dir / "localrun"

    @property
    def secrets_path(self) -> Path:
        return self.data_dir / LOCAL_SECRETS_FILE

    @property
    def postgres_dir(self) -> Path:
        return self.data_dir / "postgres"


def _port(env: Mapping[str, str], variable: str, default: int) -> PortSetting:
    port = optional_int(env, variable, default, minimum=0)
    if port > _MAX_PORT:
        raise ConfigurationError(f"{variable} must be at most {_MAX_PORT}, got {port}")
    return PortSetting(variable=variable, port=port)


def quiet_metrics(env: Mapping[str, str]) -> dict[str, str]:
    """What keeps the handler's application metrics off locally: their EMF lines only mean something
    to CloudWatch, and would crowd the output. Asked for (POWERTOOLS_METRICS_DISABLED=false, or
    any Powertools switch set), they are left as asked."""
    if "POWERTOOLS_METRICS_DISABLED" in env or "POWERTOOLS_DEV" in env:
        return {}
    return {"POWERTOOLS_METRICS_DISABLED": "true"}
