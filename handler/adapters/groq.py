"""Groq with each tenant's own key, through the official SDK: chat completions (text, or an image
part for a model that sees) and speech to text."""

from __future__ import annotations

import hashlib
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

import groq
import httpx

from handler.adapters.metrics import NO_METRICS, MetricsRecorder
from handler.errors import GroqError, GroqRejected, GroqUnavailable
from handler.model import GroqConfig
from providers.groq_models import Reasoning, reasoning_of
from shared.logs import ms_since
from shared.text import storable_text

_MAX_CACHED_CLIENTS = 256
# Reasoning tokens count against it too; a WhatsApp answer is far shorter (replies split at 4,096).
MAX_COMPLETION_TOKENS = 2048
_THINKING = re.compile(r"<think>.*?(</think>|$)", re.DOTALL)


def _key_fingerprint(api_key: str) -> str:
    # The cache is keyed by a digest so that no dictionary holds keys in plain text by name.
    return hashlib.sha256(api_key.encode()).hexdigest()


class GroqReplies:
    """One SDK client per tenant key, all sharing the container's HTTP connection pool."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        timeout: float,
        base_url: str | None = None,
        metrics: MetricsRecorder = NO_METRICS,
    ) -> None:
        self._http = http
        self._timeout = timeout
        self._base_url = base_url  # None: the SDK's own (api.groq.com)
        self._metrics = metrics  # each answered completion's latency
        self._clients: OrderedDict[str, groq.AsyncGroq] = OrderedDict()

    def _client(self, api_key: str) -> groq.AsyncGroq:
        fingerprint = _key_fingerprint(api_key)
        client = self._clients.get(fingerprint)
        if client is None:
            # Retries are ours (handler.adapters.retry), so the SDK must not add its own on top.
            client = groq.AsyncGroq(
                api_key=api_key,
                base_url=self._base_url,
                http_client=self._http,
                max_retries=0,
                timeout=self._timeout,
            )
            self._clients[fingerprint] = client
            if len(self._clients) > _MAX_CACHED_CLIENTS:
                self._clients.popitem(last=False)
        else:
            self._clients.move_to_end(fingerprint)
        return client

    async def complete(
        self,
        config: GroqConfig,
        messages: list[dict[str, Any]],
        *,
        model: str | None = None,
        time_left: float | None = None,
    ) -> str:
        """One attempt with `model` (the tenant's by default), never longer than `time_left`;
        raises GroqUnavailable (worth retrying) or GroqRejected (not)."""
        model = model or config.model
        timeout = self._timeout if time_left is None else max(min(self._timeout, time_left), 0.05)
        reasoning = reasoning_parameters(model)
        started = time.perf_counter()
        try:
            completion = await self._client(config.api_key).chat.completions.create(
                model=model,
                temperature=config.temperature,
                messages=messages,  # type: ignore[arg-type]
                max_completion_tokens=MAX_COMPLETION_TOKENS,
                include_reasoning=reasoning.include_reasoning,
                reasoning_format=reasoning.reasoning_format,
                reasoning_effort=reasoning.reasoning_effort,
                timeout=timeout,
            )
        except groq.APIStatusError as error:
            raise _status_error(error) from None
        except groq.APITimeoutError:
            raise GroqUnavailable("timeout") from None
        except groq.APIConnectionError:
            raise GroqUnavailable("connection failed") from None
        content = _answer_text(completion)
        if content is None:
            raise GroqUnavailable("empty completion")
        self._metrics.groq_completed(ms_since(started))
        return content

    async def transcribe(
        self,
        config: GroqConfig,
        audio: bytes,
        *,
        file_name: str,
        mime_type: str,
        model: str,
        language: str | None = None,
        time_left: float | None = None,
    ) -> str:
        """The words of a recording (`/openai/v1/audio/transcriptions`, multipart), one attempt;
        `file_name`'s extension is what Groq reads the format from. May be empty (no speech)."""
        timeout = self._timeout if time_left is None else max(min(self._timeout, time_left), 0.05)
        try:
            transcription = await self._client(config.api_key).audio.transcriptions.create(
                file=(file_name, audio, mime_type),
                model=model,
                language=language if language else groq.omit,
                response_format="json",
                temperature=0.0,
                timeout=timeout,
            )
        except groq.APIStatusError as error:
            raise _status_error(error) from None
        except groq.APITimeoutError:
            raise GroqUnavailable("timeout") from None
        except groq.APIConnectionError:
            raise GroqUnavailable("connection failed") from None
        text = getattr(transcription, "text", None)
        return storable_text(text).strip() if isinstance(text, str) else ""


def _answer_text(completion: object) -> str | None:
    """The answer's text, or None when Groq's 200 carries none (no choices, a null message, only
    whitespace): the SDK does not validate responses, so nothing here assumes the shape. Reasoning
    is never part of it: Groq's `reasoning` field is not read, and a `<think>` block a model puts in
    its content anyway is cut out."""
    choices = getattr(completion, "choices", None)
    if not isinstance(choices, list) or not choices:
        return None
    message = getattr(choices[0], "message", None)
    content = getattr(message, "content", None)
    if not isinstance(content, str):
        return None
    cleaned = _THINKING.sub("", storable_text(content)).strip()
    return cleaned or None


@dataclass(frozen=True, slots=True)
class ReasoningParameters:
    include_reasoning: bool | groq.Omit = groq.omit
    reasoning_format: Literal["hidden", "raw", "parsed"] | groq.Omit = groq.omit
    reasoning_effort: Literal["none", "default", "low", "medium", "high"] | groq.Omit = groq.omit


def reasoning_parameters(model: str) -> ReasoningParameters:
    """Groq's own parameters that keep a reasoning model's thinking out of the answer, with the
    least thinking that still answers well (latency): gpt-oss takes `include_reasoning` and effort
    low/medium/high; Qwen 3 takes `reasoning_format` (not both: Groq answers 400); other models
    take neither."""
    match reasoning_of(model):
        case Reasoning.GPT_OSS:
            return ReasoningParameters(include_reasoning=False, reasoning_effort="low")
        case Reasoning.QWEN:
            return ReasoningParameters(reasoning_format="hidden", reasoning_effort="none")
        case Reasoning.NONE:
            return ReasoningParameters()


def _status_error(error: groq.APIStatusError) -> GroqError:
    status = error.status_code
    code = _error_code(error.body)
    reason = f"http {status}" + (f" {code}" if code else "")
    if status == 429:
        return GroqUnavailable(reason, status=status, code=code, retry_after=_retry_after(error.response))
    if status >= 500 or status == 498:  # 498: flex tier capacity, passes with time
        return GroqUnavailable(reason, status=status, code=code)
    return GroqRejected(reason, status=status, code=code)


def _error_code(body: object) -> str:
    """Groq's machine-readable code (e.g. `invalid_api_key`, `model_decommissioned`), never its message."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("code"), str):
            return str(inner["code"])[:64]
    return ""


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def is_retryable(error: BaseException) -> bool:
    return isinstance(error, GroqUnavailable)


def retry_after(error: BaseException) -> float | None:
    return error.retry_after if isinstance(error, GroqError) else None
