"""The application metrics: the EMF lines the handler writes to stdout, read back as CloudWatch
would read them."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from handler.adapters.metrics import MetricsRecorder
from handler.model import Outcome
from handler.settings import HandlerSettings

NAMESPACE = "WhatsAppAssistant"


@dataclass(frozen=True, slots=True)
class MetricLine:
    """One EMF line: its namespace, dimension sets, dimension values and metric values."""

    namespace: str
    dimension_sets: list[list[str]]
    dimensions: dict[str, str]
    units: dict[str, str]
    values: dict[str, list[float]]


def metric_lines(printed: str) -> list[MetricLine]:
    lines = []
    for raw in printed.splitlines():
        if not raw.startswith('{"_aws"'):
            continue
        entry = json.loads(raw)
        [directive] = entry["_aws"]["CloudWatchMetrics"]
        names = {definition["Name"]: definition["Unit"] for definition in directive["Metrics"]}
        dimension_names = {name for dimension_set in directive["Dimensions"] for name in dimension_set}
        lines.append(
            MetricLine(
                namespace=directive["Namespace"],
                dimension_sets=directive["Dimensions"],
                dimensions={name: entry[name] for name in dimension_names},
                units=names,
                values={name: entry[name] for name in names},
            )
        )
    return lines


def test_nothing_recorded_writes_nothing_and_a_disabled_recorder_records_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    recorder = MetricsRecorder(namespace=NAMESPACE, service="handler")
    recorder.flush()
    disabled = MetricsRecorder(namespace=NAMESPACE, service="handler", enabled=False)
    disabled.message(Outcome.REPLIED)
    disabled.flush()
    assert capsys.readouterr().out == ""


def test_a_hundred_values_of_one_metric_are_all_written(capsys: pytest.CaptureFixture[str]) -> None:
    recorder = MetricsRecorder(namespace=NAMESPACE, service="handler")
    for _ in range(150):
        recorder.message(Outcome.DUPLICATE)
    recorder.flush()  # Powertools wrote the first 100 by itself (its limit per line)
    lines = metric_lines(capsys.readouterr().out)
    assert [len(line.values["Messages"]) for line in lines] == [100, 50]


@pytest.mark.parametrize(
    ("env", "enabled"),
    [
        ({}, True),
        ({"POWERTOOLS_DEV": "true"}, False),  # Powertools' development mode prints no metric
        ({"POWERTOOLS_DEV": "true", "POWERTOOLS_METRICS_DISABLED": "false"}, True),
        ({"POWERTOOLS_METRICS_DISABLED": "true"}, False),
    ],
)
def test_metrics_are_on_unless_powertools_own_variables_turn_them_off(
    env: dict[str, str], enabled: bool
) -> None:
    settings = HandlerSettings.from_env({"DATABASE_URL": "postgresql://db/x", **env})
    assert settings.metrics_enabled is enabled
    assert (settings.metrics_namespace, settings.metrics_service) == (NAMESPACE, "handler")
