"""The alarms on the handler's own metrics: they read exactly the series the handler's recorder
publishes (names from handler.adapters.metrics, the namespace and service the template gives the
function), and the fallback rate's metric math does what its description says."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from handler.adapters.metrics import Metric, MetricsRecorder
from handler.model import FallbackKind
from handler.settings import DEFAULT_METRICS_NAMESPACE
from ops.database import PROJECT_ROOT
from tenant_secrets.secrets_crypto import SecretColumn
from tests.infra.test_template import resources_of_type, transform

STACK_NAME = "whatsapp-assistant-prod"
# A series: namespace, metric name and its dimensions (name -> value).
Series = tuple[str, str, frozenset[tuple[str, str]]]


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    return transform({"AlarmEmail": "ops@example.com"})


def resolved(value: Any) -> Any:
    """The template's value with the stack's name in place of `Ref: AWS::StackName`."""
    return STACK_NAME if value == {"Ref": "AWS::StackName"} else value


def alarm_series(metric: Mapping[str, Any]) -> Series:
    dimensions = frozenset((d["Name"], resolved(d["Value"])) for d in metric.get("Dimensions", []))
    return (metric["Namespace"], metric["MetricName"], dimensions)


def published_series(printed: str) -> set[Series]:
    """Every series the EMF lines publish: each metric once per dimension set of its line."""
    series = set()
    for raw in printed.splitlines():
        entry = json.loads(raw)
        for directive in entry["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = frozenset((name, entry[name]) for name in dimension_set)
                for metric in directive["Metrics"]:
                    series.add((directive["Namespace"], metric["Name"], dimensions))
    return series


@pytest.fixture(scope="module")
def handler_environment(stack: dict[str, Any]) -> dict[str, Any]:
    variables: dict[str, Any] = stack["Resources"]["HandlerFunction"]["Properties"]["Environment"][
        "Variables"
    ]
    return variables


def test_the_handler_publishes_under_the_namespace_and_the_stacks_name(
    handler_environment: dict[str, Any],
) -> None:
    assert handler_environment["POWERTOOLS_METRICS_NAMESPACE"] == DEFAULT_METRICS_NAMESPACE
    # One `service` value per stack: two stacks in one account (staging, prod) never add up.
    assert resolved(handler_environment["POWERTOOLS_SERVICE_NAME"]) == STACK_NAME
    assert (
        "POWERTOOLS_METRICS_DISABLED" not in handler_environment
        and "POWERTOOLS_DEV" not in handler_environment
    )


def test_every_application_alarm_reads_a_series_the_handler_publishes(
    stack: dict[str, Any], handler_environment: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    recorder = MetricsRecorder(
        namespace=handler_environment["POWERTOOLS_METRICS_NAMESPACE"],
        service=resolved(handler_environment["POWERTOOLS_SERVICE_NAME"]),
    )
    recorder.answered()
    recorder.answered(fallback=FallbackKind.GROQ_UNAVAILABLE)
    recorder.answered(fallback=FallbackKind.GROQ_REJECTED)
    recorder.secret_unreadable(SecretColumn.ACCESS_TOKEN)
    recorder.flush()
    published = published_series(capsys.readouterr().out)

    alarms = resources_of_type(stack, "AWS::CloudWatch::Alarm")
    rate = alarms["FallbackRateAlarm"]["Properties"]
    queried = {q["Id"]: alarm_series(q["MetricStat"]["Metric"]) for q in rate["Metrics"] if "MetricStat" in q}
    undecryptable = alarm_series(alarms["UndecryptableSecretsAlarm"]["Properties"])
    total = frozenset({("service", STACK_NAME)})  # every reason and column together

    assert queried == {
        "answered": (DEFAULT_METRICS_NAMESPACE, Metric.ANSWERED.value, total),
        "fallbacks": (DEFAULT_METRICS_NAMESPACE, Metric.FALLBACKS.value, total),
    }
    assert undecryptable == (DEFAULT_METRICS_NAMESPACE, Metric.UNDECRYPTABLE_SECRETS.value, total)
    assert {*queried.values(), undecryptable} <= published


def test_the_fallback_rate_is_fallbacks_over_answers_in_percent_within_the_parameters(
    stack: dict[str, Any],
) -> None:
    rate = resources_of_type(stack, "AWS::CloudWatch::Alarm")["FallbackRateAlarm"]["Properties"]
    stats = [
        (q["MetricStat"]["Period"], q["MetricStat"]["Stat"]) for q in rate["Metrics"] if "MetricStat" in q
    ]
    [expression] = [q for q in rate["Metrics"] if "Expression" in q]

    assert stats == [({"Ref": "FallbackRateWindowSeconds"}, "Sum")] * 2
    assert expression["ReturnData"] is True
    assert all(q["ReturnData"] is False for q in rate["Metrics"] if "MetricStat" in q)
    assert expression["Expression"] == {
        "Fn::Sub": "IF(answered >= ${FallbackRateMinimumAnswers}, 100 * FILL(fallbacks, 0) / answered, 0)"
    }
    assert rate["Threshold"] == {"Ref": "FallbackRateThresholdPercent"}
    assert rate["ComparisonOperator"] == "GreaterThanThreshold"
    parameters = stack["Parameters"]
    assert parameters["FallbackRateWindowSeconds"]["Default"] == 900
    assert all(seconds % 60 == 0 for seconds in parameters["FallbackRateWindowSeconds"]["AllowedValues"])


def test_any_undecryptable_secret_alarms_and_silence_is_not_an_alarm(stack: dict[str, Any]) -> None:
    alarm = resources_of_type(stack, "AWS::CloudWatch::Alarm")["UndecryptableSecretsAlarm"]["Properties"]
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "Sum",
        0,
        "GreaterThanThreshold",
    )


@pytest.mark.parametrize("name", ["FallbackRateAlarm", "UndecryptableSecretsAlarm"])
def test_the_application_alarms_notify_the_alarm_topic_and_ignore_missing_data(
    stack: dict[str, Any], name: str
) -> None:
    alarm = resources_of_type(stack, "AWS::CloudWatch::Alarm")[name]["Properties"]
    topic = {"Fn::If": ["HasAlarmEmail", [{"Ref": "AlarmTopic"}], {"Ref": "AWS::NoValue"}]}
    assert alarm["AlarmActions"] == topic and alarm["OKActions"] == topic
    # The handler publishes a metric only when it happens: a quiet night is not breaching.
    assert alarm["TreatMissingData"] == "notBreaching"


def test_the_deployment_guide_lists_every_metric_and_both_alarms() -> None:
    guide = (PROJECT_ROOT / "infra" / "DEPLOY.md").read_text()
    listed = {line.split("|")[1].strip().strip("`") for line in guide.splitlines() if line.startswith("| `")}
    assert {metric.value for metric in Metric} <= listed
    assert "FallbackRateAlarm" in guide and "UndecryptableSecretsAlarm" in guide
