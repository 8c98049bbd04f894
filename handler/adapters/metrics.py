"""Application metrics as CloudWatch embedded-metric-format (EMF) lines, made by Powertools' metrics
utility: recorded while an invocation runs, written to stdout by `flush` when it ends, and turned
into metrics of the namespace by CloudWatch Logs (any other place the lines go just keeps them).

Dimensions are few and fixed (`Outcome`, `Reason`, `Column`, `Kind`, each a short list), so the
metrics stay cheap and can be added up; who the tenant or the customer is never becomes a dimension
or a value: that detail stays in the log lines. A count with dimensions is published twice from the
same line, with them and without the first one (for one dimension: `service` alone, the totals the
alarms read).

| metric | unit | dimensions besides `service` | one per |
| --- | --- | --- | --- |
| `Messages` | Count | `Outcome` (handler.model.Outcome) | customer message handled, by how it ended |
| `Answered` | Count | | reply made for the AI's turn: its answer or the fallback text |
| `Fallbacks` | Count | `Reason` (handler.model.FallbackKind) | of those, the tenant's fallback text |
| `GroqLatency` | Milliseconds | | completion Groq answered |
| `GraphSendLatency` | Milliseconds | | message the Graph API accepted |
| `ModelSubstitutions` | Count | | answer made with the default model in place of a refused one |
| `Refusals` | Count | `Reason` (`Refusal`) | request, message or status refused as not proven |
| `UndecryptableSecrets` | Count | `Column` (tenant_secrets SecretColumn) | stored tenant secret that cannot be decrypted |
| `Media` | Count | `Kind` (audio, image, sticker), `Outcome` (handler.model.MediaOutcome) | voice note or image, by what became of it |
"""

from __future__ import annotations

from enum import StrEnum

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from handler.model import BatchSummary, FallbackKind, MediaOutcome, Outcome
from tenant_secrets.secrets_crypto import SecretColumn


class Metric(StrEnum):
    MESSAGES = "Messages"
    ANSWERED = "Answered"
    FALLBACKS = "Fallbacks"
    GROQ_LATENCY = "GroqLatency"
    GRAPH_SEND_LATENCY = "GraphSendLatency"
    MODEL_SUBSTITUTIONS = "ModelSubstitutions"
    REFUSALS = "Refusals"
    UNDECRYPTABLE_SECRETS = "UndecryptableSecrets"
    MEDIA = "Media"


class Refusal(StrEnum):
    """What was refused, as `Refusals`' `Reason`."""

    SIGNATURE = "signature"  # a body not signed with META_APP_SECRET or FORWARDER_HANDLER_SECRET
    SEED_ROUTE_KEY = "seed_route_key"  # the seed route without SEED_ROUTE_KEY as its bearer key
    WEB_CHAT_KEY = "web_chat_key"  # a web chat request without its tenant's key
    TENANT_PROOF = "tenant_proof"  # a message not proven to come from its tenant's own Meta app
    STATUS_PROOF = "status_proof"  # a delivery status not proven to come from its tenant's own Meta app


# The dimensions (name, value) of a line besides `service`, the one that refines first; () for none.
Dimensions = tuple[tuple[str, str], ...]


class MetricsRecorder:
    """The metrics of one container (or local server), kept until `flush`: one EMF line per
    dimension value recorded since the last flush. Used from one event loop, as the runtime is;
    a local server's concurrent requests share it, and each flush writes what all of them added."""

    def __init__(self, *, namespace: str, service: str, enabled: bool = True) -> None:
        self._namespace = namespace
        self._service = service
        self._enabled = enabled
        self._pending: dict[Dimensions, AmazonCloudWatchEMFProvider] = {}

    @classmethod
    def disabled(cls) -> MetricsRecorder:
        """Records nothing (POWERTOOLS_METRICS_DISABLED, or no recorder given)."""
        return cls(namespace="", service="", enabled=False)

    @property
    def enabled(self) -> bool:
        return self._enabled

    def message(self, outcome: Outcome) -> None:
        self._add(Metric.MESSAGES, MetricUnit.Count, 1, (("Outcome", outcome.value),))

    def messages(self, summary: BatchSummary) -> None:
        """Every message of a payload, by outcome."""
        for outcome, count in summary.outcomes.items():
            self._add(Metric.MESSAGES, MetricUnit.Count, count, (("Outcome", outcome),))

    def answered(self, *, fallback: FallbackKind | None = None) -> None:
        """A reply was made for the AI's turn: its answer (`fallback` None), or the fallback text."""
        self._add(Metric.ANSWERED, MetricUnit.Count, 1)
        if fallback is not None:
            self._add(Metric.FALLBACKS, MetricUnit.Count, 1, (("Reason", fallback.value),))

    def groq_completed(self, milliseconds: float) -> None:
        self._add(Metric.GROQ_LATENCY, MetricUnit.Milliseconds, milliseconds)

    def graph_sent(self, milliseconds: float) -> None:
        self._add(Metric.GRAPH_SEND_LATENCY, MetricUnit.Milliseconds, milliseconds)

    def model_substituted(self) -> None:
        self._add(Metric.MODEL_SUBSTITUTIONS, MetricUnit.Count, 1)

    def refused(self, refusal: Refusal) -> None:
        self._add(Metric.REFUSALS, MetricUnit.Count, 1, (("Reason", refusal.value),))

    def secret_unreadable(self, column: SecretColumn) -> None:
        self._add(Metric.UNDECRYPTABLE_SECRETS, MetricUnit.Count, 1, (("Column", column.value),))

    def media(self, kind: str, outcome: MediaOutcome) -> None:
        """A voice note or image (`kind`: the message type, audio, image or sticker) understood or not."""
        self._add(Metric.MEDIA, MetricUnit.Count, 1, (("Kind", kind), ("Outcome", outcome.value)))

    def flush(self) -> None:
        """Write what was recorded since the last flush (nothing when nothing was), and forget it."""
        pending, self._pending = self._pending, {}
        for provider in pending.values():
            if provider.metric_set:  # (empty after Powertools wrote it at 100 values)
                provider.flush_metrics()

    def _add(self, metric: Metric, unit: MetricUnit, value: float, dimensions: Dimensions = ()) -> None:
        if not self._enabled:
            return
        provider = self._pending.get(dimensions)
        if provider is None:
            provider = self._pending[dimensions] = self._provider(dimensions)
        # Powertools writes a line by itself when one metric reaches 100 values (its EMF limit).
        provider.add_metric(name=metric.value, unit=unit, value=value)

    def _provider(self, dimensions: Dimensions) -> AmazonCloudWatchEMFProvider:
        # A provider of our own (not `Metrics`, whose state every instance in the process shares):
        # each container's thread records apart, and a line carries one value per dimension.
        provider = AmazonCloudWatchEMFProvider(namespace=self._namespace, service=self._service)
        for name, value in dimensions:
            provider.add_dimension(name=name, value=value)
        if dimensions:  # the same values again, without the first dimension: the total over it
            provider.add_dimensions(**dict(dimensions[1:]), service=self._service)
        return provider


NO_METRICS = MetricsRecorder.disabled()
