"""`make run`'s settings: ports with their variables, and where Groq replies come from."""

from __future__ import annotations

from pathlib import Path

import pytest

from localrun.settings import GroqTarget, LocalSettings, quiet_metrics
from shared.env import ConfigurationError


def test_defaults() -> None:
    settings = LocalSettings.from_env({"APP_DATA_DIR": "/srv/data"})
    assert [
        p.port for p in (settings.handler, settings.forwarder, settings.groq_standin, settings.graph_standin)
    ] == [
        8001,
        8002,
        8003,
        8004,
    ]
    assert settings.secrets_path == Path("/srv/data/local-secrets.json")
    assert settings.groq_target is GroqTarget.STANDIN


def test_ports_come_from_their_variables() -> None:
    settings = LocalSettings.from_env({"HANDLER_PORT": "9101", "GRAPH_STANDIN_PORT": "0"})
    assert (settings.handler.variable, settings.handler.port) == ("HANDLER_PORT", 9101)
    assert settings.graph_standin.port == 0


@pytest.mark.parametrize(
    ("value", "problem"), [("http", "must be an integer"), ("70000", "must be at most 65535")]
)
def test_a_bad_port_names_its_variable(value: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=f"FORWARDER_PORT {problem}"):
        LocalSettings.from_env({"FORWARDER_PORT": value})


def test_groq_is_real_with_a_demo_key_unless_a_base_url_is_set() -> None:
    assert LocalSettings.from_env({"DEMO_GROQ_API_KEY": "gsk_x"}).groq_target is GroqTarget.REAL
    custom = LocalSettings.from_env({"DEMO_GROQ_API_KEY": "gsk_x", "GROQ_BASE_URL": "http://127.0.0.1:9"})
    assert custom.groq_target is GroqTarget.CUSTOM
    assert "gsk_x" not in repr(custom)


@pytest.mark.parametrize(
    ("env", "changes"),
    [
        ({}, {"POWERTOOLS_METRICS_DISABLED": "true"}),  # off unless asked for
        ({"POWERTOOLS_METRICS_DISABLED": "false"}, {}),  # asked for: the EMF lines are written
        ({"POWERTOOLS_DEV": "true"}, {}),  # Powertools' own rule (off) stands
    ],
)
def test_the_handlers_metrics_stay_off_locally_unless_asked_for(
    env: dict[str, str], changes: dict[str, str]
) -> None:
    assert quiet_metrics(env) == changes
