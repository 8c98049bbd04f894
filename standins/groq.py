"""A local server speaking Groq's OpenAI-compatible protocol, as strict as Groq, with scriptable faults.

Point the official SDK at it with `AsyncGroq(base_url=standin.base_url, ...)` or `GROQ_BASE_URL`.
By default it answers with a deterministic reply that says plainly it is an offline stand-in.

Like Groq (December 2026, `providers.groq_models`): a key that is not `gsk_…` is 401
`invalid_api_key`; only current models answer (a model retired before 2026 is 400
`model_decommissioned`, one retired since, or unknown, is 404 `model_not_found`); reasoning
parameters are checked per model, and reasoning models return their reasoning where Groq does
(gpt-oss in `message.reasoning` unless `include_reasoning: false`; Qwen 3 inside `<think>` in the
content unless `reasoning_format` says otherwise). Speech to text and image parts are checked as
Groq checks them (`standins.groq_media`): transcriptions answer with `transcribe(request)`.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from providers.groq_models import CURRENT_MODELS, Kind, Reasoning, current_model, reasoning_of, retired_model
from standins.groq_media import (
    ImagePart,
    Refusal,
    TranscriptionRequest,
    image_refusal,
    message_parts,
    parse_multipart,
    transcription_refusal,
    transcription_request,
)
from standins.scripting import FaultScript, Recorder
from standins.server import BackgroundServer, serve_forever, standalone_arguments

CHAT_COMPLETIONS_PATH = "/openai/v1/chat/completions"
TRANSCRIPTIONS_PATH = "/openai/v1/audio/transcriptions"
DEFAULT_MODELS = tuple(model.id for model in CURRENT_MODELS)
OFFLINE_LABEL = "[offline Groq stand-in]"
KEY_PREFIX = "gsk_"
# What the stand-in "thinks" before answering, so tests can prove it never reaches a customer.
REASONING_TEXT = "The user wrote something; I should answer briefly and politely."


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatMessage:
    role: str
    content: str  # the text (of its text parts, for a message with an image)
    images: tuple[ImagePart, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class GroqRequest:
    """One chat-completions call as the stand-in received it, and the HTTP status it answered."""

    api_key: str  # from `Authorization: Bearer …`; "" when absent
    model: str
    temperature: float | None
    max_tokens: int | None
    messages: tuple[ChatMessage, ...]
    include_reasoning: bool | None = None
    reasoning_format: str | None = None
    reasoning_effort: str | None = None
    status: int = 200
    body: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def last_user_message(self) -> str:
        return next((m.content for m in reversed(self.messages) if m.role == "user"), "")

    @property
    def history(self) -> tuple[ChatMessage, ...]:
        """The conversation before the newest message, without the system prompt."""
        turns = tuple(m for m in self.messages if m.role != "system")
        return turns[:-1] if turns and turns[-1].role == "user" else turns

    @property
    def system_prompt(self) -> str | None:
        return next((m.content for m in self.messages if m.role == "system"), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class GroqFault:
    """What to do to a request instead of (or before) answering it."""

    status: int | None = None  # None: answer normally, after `delay`
    delay: float = 0.0
    retry_after: float | None = None  # seconds, sent as `retry-after` (429 and 503)
    code: str | None = None  # overrides the error code chosen from the status
    message: str | None = None
    body: Mapping[str, Any] | None = None  # with no `status`: answer 200 with exactly this JSON


ReplyFunction = Callable[[GroqRequest], str]
TranscribeFunction = Callable[[TranscriptionRequest], str]

_ERRORS: dict[int, tuple[str, str | None, str]] = {
    # status: (type, code, message)
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Invalid API Key"),
    403: ("permission_denied", "permission_denied", "Permission denied."),
    404: (
        "invalid_request_error",
        "model_not_found",
        "The model does not exist or you do not have access to it.",
    ),
    413: ("invalid_request_error", "request_too_large", "Request Entity Too Large"),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached on requests per minute (RPM)."),
    498: ("internal_server_error", "capacity_exceeded", "Flex tier capacity exceeded."),
    500: ("internal_server_error", None, "Internal Server Error"),
    502: ("internal_server_error", "bad_gateway", "Bad Gateway"),
    503: ("internal_server_error", "service_unavailable", "Service Unavailable"),
}


def offline_reply(request: GroqRequest) -> str:
    """The default answer: labelled offline, echoing the model, the history size and the message
    (and the images it saw)."""
    earlier = len(request.history)
    context = f"{earlier} earlier message{'s' if earlier != 1 else ''} in context"
    reply = f"{OFFLINE_LABEL} ({request.model}, {context}) You wrote: {request.last_user_message}"
    images = request.messages[-1].images if request.messages else ()
    if images:
        seen = ", ".join(f"{image.mime_type or 'linked'} of {image.size} bytes" for image in images)
        reply += f" (I see {len(images)} image{'s' if len(images) != 1 else ''}: {seen})"
    return reply


def offline_transcript(request: TranscriptionRequest) -> str:
    """The default transcript: labelled offline, naming the file it was given."""
    return f"{OFFLINE_LABEL} transcript of {request.file_name} ({len(request.data)} bytes)"


def groq_error(status: int, *, code: str | None = None, message: str | None = None) -> JSONResponse:
    """An error response in Groq's shape: `{"error": {"message", "type", "code"}}`."""
    error_type, default_code, default_message = _ERRORS.get(status, _ERRORS[500])
    error: dict[str, Any] = {"message": message or default_message, "type": error_type}
    if code or default_code:
        error["code"] = code or default_code
    return JSONResponse({"error": error}, status_code=status)


def model_refusal(model: str, *, served: set[str], decommissioned: Iterable[str] = ()) -> JSONResponse | None:
    """Groq's answer to a model it does not serve: 400 `model_decommissioned` for one retired
    before 2026, 404 `model_not_found` for one retired since, or unknown (as Groq answers now)."""
    if model in served:
        return None
    retired = retired_model(model)
    if model in decommissioned or (retired is not None and not retired.refused_as_not_found):
        message = (
            f"The model `{model}` has been decommissioned and is no longer supported. Please refer to"
            " https://console.groq.com/docs/deprecations for a recommendation on which model to use instead."
        )
        return groq_error(400, code="model_decommissioned", message=message)
    return groq_error(404, message=f"The model `{model}` does not exist or you do not have access to it.")


_EFFORTS = {
    Reasoning.GPT_OSS: ("low", "medium", "high"),
    Reasoning.QWEN: ("none", "default", "low", "medium", "high"),
    Reasoning.NONE: (),
}


def reasoning_refusal(request: GroqRequest) -> JSONResponse | None:
    """The 400 Groq gives for reasoning parameters the model does not take (docs/reasoning)."""
    style = reasoning_of(request.model)
    if request.include_reasoning is not None and request.reasoning_format is not None:
        return groq_error(400, message="`include_reasoning` and `reasoning_format` are mutually exclusive.")
    if request.reasoning_format is not None and style is not Reasoning.QWEN:
        return groq_error(400, message="reasoning_format is not supported with this model")
    if request.reasoning_format is not None and request.reasoning_format not in ("hidden", "raw", "parsed"):
        return groq_error(400, message="`reasoning_format` must be one of `hidden`, `raw` or `parsed`")
    if request.include_reasoning is not None and style is Reasoning.NONE:
        return groq_error(400, message="include_reasoning is not supported with this model")
    if request.reasoning_effort is not None and request.reasoning_effort not in _EFFORTS[style]:
        if style is Reasoning.NONE:
            return groq_error(400, message="reasoning_effort is not supported with this model")
        allowed = ", ".join(f"`{effort}`" for effort in _EFFORTS[style])
        return groq_error(400, message=f"reasoning_effort must be one of {allowed}")
    return None


def _answer_message(request: GroqRequest, text: str) -> dict[str, Any]:
    """The assistant message, with the reasoning where Groq puts it for this model and request."""
    style = reasoning_of(request.model)
    if style is Reasoning.GPT_OSS and request.include_reasoning is not False:
        return {"role": "assistant", "content": text, "reasoning": REASONING_TEXT}
    if style is Reasoning.QWEN and request.reasoning_effort != "none":
        if request.reasoning_format == "parsed":
            return {"role": "assistant", "content": text, "reasoning": REASONING_TEXT}
        if request.reasoning_format != "hidden":  # raw, Qwen's default
            return {"role": "assistant", "content": f"<think>{REASONING_TEXT}</think>{text}"}
    return {"role": "assistant", "content": text}


def completion_body(request: GroqRequest, text: str) -> dict[str, Any]:
    """The JSON Groq returns for a finished, non-streamed completion."""
    prompt_tokens = _tokens(" ".join(m.content for m in request.messages))
    completion_tokens = _tokens(text)
    return {
        "id": f"chatcmpl-{uuid.uuid4()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "choices": [
            {
                "index": 0,
                "message": _answer_message(request, text),
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "queue_time": 0.0,
            "prompt_tokens": prompt_tokens,
            "prompt_time": 0.0,
            "completion_tokens": completion_tokens,
            "completion_time": 0.0,
            "total_tokens": prompt_tokens + completion_tokens,
            "total_time": 0.0,
        },
        "system_fingerprint": "fp_offline_standin",
        "x_groq": {"id": f"req_{uuid.uuid4().hex}"},
    }


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


class GroqStandIn(BackgroundServer):
    """Groq's chat-completions endpoint on 127.0.0.1, recording every call.

    `api_keys`: when given, only these keys are accepted (others get 401 `invalid_api_key`).
    `models`: when given, other models get 404 `model_not_found`; `decommissioned_models` get
    Groq's 400 `model_decommissioned`. `reply` computes the answer text from the request.
    """

    def __init__(
        self,
        *,
        api_keys: Iterable[str] | None = None,
        models: Iterable[str] | None = None,
        decommissioned_models: Iterable[str] = (),
        reply: ReplyFunction = offline_reply,
        transcribe: TranscribeFunction = offline_transcript,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.api_keys: set[str] | None = set(api_keys) if api_keys is not None else None
        self.models: set[str] | None = set(models) if models is not None else None
        self.decommissioned_models = set(decommissioned_models)
        self.reply = reply
        self._default_reply = reply
        self.transcribe = transcribe
        self._default_transcribe = transcribe
        self.recorder: Recorder[GroqRequest] = Recorder()
        self.transcription_recorder: Recorder[TranscriptionRequest] = Recorder()
        self.transcription_faults: FaultScript[TranscriptionRequest, GroqFault] = FaultScript()
        self.model_list_keys: list[str] = []  # the key of every `GET /openai/v1/models`
        self.faults: FaultScript[GroqRequest, GroqFault] = FaultScript()
        super().__init__(self._build_app(), host=host, port=port)

    @property
    def requests(self) -> list[GroqRequest]:
        """Every call received so far, in order (failed ones included, with their status)."""
        return self.recorder.snapshot()

    @property
    def transcriptions(self) -> list[TranscriptionRequest]:
        """Every speech-to-text call received so far, in order (with the status it got)."""
        return self.transcription_recorder.snapshot()

    def fail_transcriptions(
        self, n: int | None = 1, *, status: int = 503, retry_after: float | None = None, delay: float = 0.0
    ) -> None:
        """Answer the next `n` transcription calls (every one when `n` is None) with an HTTP error."""
        self.transcription_faults.add(GroqFault(status=status, retry_after=retry_after, delay=delay), times=n)

    def accept_key(self, api_key: str) -> None:
        """Accept `api_key` from now on (turns key checking on if it was off)."""
        if self.api_keys is None:
            self.api_keys = set()
        self.api_keys.add(api_key)

    def fail_next(
        self,
        n: int | None = 1,
        *,
        status: int = 429,
        retry_after: float | None = 1.0,
        code: str | None = None,
        delay: float = 0.0,
        api_key: str | None = None,
        model: str | None = None,
    ) -> None:
        """Answer the next `n` matching calls (every one when `n` is None) with an HTTP error."""
        fault = GroqFault(status=status, retry_after=retry_after, code=code, delay=delay)
        self.faults.add(fault, times=n, when=_matcher(api_key, model))

    def answer_with_body(
        self,
        body: Mapping[str, Any],
        n: int | None = 1,
        *,
        api_key: str | None = None,
        model: str | None = None,
    ) -> None:
        """Answer the next `n` matching calls 200 with `body` as it is (e.g. no `choices`): what a
        client must survive when Groq's answer is not the shape it expects."""
        self.faults.add(GroqFault(body=body), times=n, when=_matcher(api_key, model))

    def slow(
        self, seconds: float, *, n: int | None = None, api_key: str | None = None, model: str | None = None
    ) -> None:
        """Wait `seconds` before answering the next `n` matching calls (every one when `n` is None)."""
        self.faults.add(GroqFault(delay=seconds), times=n, when=_matcher(api_key, model))

    def reset(self) -> None:
        """Forget recorded calls and scripted faults, and restore the reply (keys and models stay)."""
        self.reply = self._default_reply
        self.transcribe = self._default_transcribe
        self.recorder.clear()
        self.transcription_recorder.clear()
        self.transcription_faults.clear()
        self.model_list_keys.clear()
        self.faults.clear()

    def _build_app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(CHAT_COMPLETIONS_PATH, self._chat_completions, methods=["POST"]),
                Route(TRANSCRIPTIONS_PATH, self._transcriptions, methods=["POST"]),
                Route("/openai/v1/models", self._list_models, methods=["GET"]),
                Route("/openai/v1/models/{model:path}", self._get_model, methods=["GET"]),
                Route("/{path:path}", _unknown_url, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            ]
        )

    async def _chat_completions(self, http_request: Request) -> JSONResponse:
        epoch = self.recorder.epoch
        request, problem = await _parse_request(http_request)
        fault = self.faults.take(request)
        if fault is not None and fault.delay > 0:
            await self.pause(fault.delay)
        if fault is not None and fault.status is not None:
            response = groq_error(fault.status, code=fault.code, message=fault.message)
            if fault.retry_after is not None and fault.status in (429, 503):
                response.headers["retry-after"] = f"{fault.retry_after:g}"
        elif fault is not None and fault.body is not None:
            response = JSONResponse(dict(fault.body))
        else:
            body_size = len(await http_request.body())
            images = [(message.role, message.images) for message in request.messages]
            response = (
                self._check_key(request)
                or problem
                or self._check_model(request)
                or _refusal_response(image_refusal(request.model, images, body_size))
                or reasoning_refusal(request)
                or self._answer(request)
            )
        self.recorder.append(replace(request, status=response.status_code), epoch=epoch)
        return response

    async def _transcriptions(self, http_request: Request) -> Response:
        """`POST /openai/v1/audio/transcriptions`: multipart, checked as Groq checks it."""
        api_key = _bearer(http_request)
        body = await http_request.body()
        parts = parse_multipart(http_request.headers.get("content-type", ""), body)
        request = transcription_request(api_key, parts or {})
        fault = self.transcription_faults.take(request)
        if fault is not None and fault.delay > 0:
            await self.pause(fault.delay)
        if fault is not None and fault.status is not None:
            response: Response = groq_error(fault.status, code=fault.code, message=fault.message)
            if fault.retry_after is not None and fault.status in (429, 503):
                response.headers["retry-after"] = f"{fault.retry_after:g}"
        else:
            response = self._check_key(
                GroqRequest(api_key=api_key, model="", temperature=None, max_tokens=None, messages=())
            ) or self._transcribe(request, parts, len(body))
        self.transcription_recorder.append(replace(request, status=response.status_code))
        return response

    def _transcribe(self, request: TranscriptionRequest, parts: object, body_size: int) -> Response:
        if body_size > TRANSCRIPTION_BODY_LIMIT_BYTES:
            return groq_error(413)  # refused before it is read
        if not isinstance(parts, dict):
            return groq_error(400, message="the request must be multipart/form-data")
        if not request.model:
            return groq_error(400, message="'model' : property 'model' is missing")
        served = self.models if self.models is not None else set(DEFAULT_MODELS)
        refusal = model_refusal(request.model, served=served, decommissioned=self.decommissioned_models)
        if refusal is not None:
            return refusal
        problem = _refusal_response(transcription_refusal(request, has_url="url" in parts))
        if problem is not None:
            return problem
        text = self.transcribe(request)
        if request.response_format == "text":
            return PlainTextResponse(text)
        body: dict[str, Any] = {"text": text, "x_groq": {"id": f"req_{uuid.uuid4().hex}"}}
        if request.response_format == "verbose_json":
            body |= {"task": "transcribe", "language": request.language or "fr", "segments": []}
        return JSONResponse(body)

    def _check_key(self, request: GroqRequest) -> JSONResponse | None:
        if not request.api_key.startswith(KEY_PREFIX):
            return groq_error(401)
        if self.api_keys is not None and request.api_key not in self.api_keys:
            return groq_error(401)
        return None

    def _check_model(self, request: GroqRequest) -> JSONResponse | None:
        return model_refusal(
            request.model,
            served=self.models if self.models is not None else set(DEFAULT_MODELS),
            decommissioned=self.decommissioned_models,
        )

    def _answer(self, request: GroqRequest) -> JSONResponse:
        headers = {"x-request-id": f"req_{uuid.uuid4().hex}", "x-ratelimit-remaining-requests": "14399"}
        return JSONResponse(completion_body(request, self.reply(request)), headers=headers)

    async def _list_models(self, http_request: Request) -> JSONResponse:
        """`GET /openai/v1/models`: the models this key may use (Groq lists active models only)."""
        api_key = _bearer(http_request)
        self.model_list_keys.append(api_key)
        refusal = self._check_key(
            GroqRequest(api_key=api_key, model="", temperature=None, max_tokens=None, messages=())
        )
        if refusal is not None:
            return refusal
        models = sorted(self.models if self.models is not None else DEFAULT_MODELS)
        return JSONResponse({"object": "list", "data": [_model_object(m) for m in models]})

    async def _get_model(self, http_request: Request) -> JSONResponse:
        model = http_request.path_params["model"]
        api_key = _bearer(http_request)
        refusal = self._check_key(
            GroqRequest(api_key=api_key, model=model, temperature=None, max_tokens=None, messages=())
        )
        if refusal is not None:
            return refusal
        served = self.models if self.models is not None else set(DEFAULT_MODELS)
        if model not in served:
            return groq_error(
                404, message=f"The model `{model}` does not exist or you do not have access to it."
            )
        return JSONResponse(_model_object(model))


# Past Groq's 25 MB upload limit and the form's own fields: refused before the form is read.
TRANSCRIPTION_BODY_LIMIT_BYTES = 26 * 1000 * 1000


def _refusal_response(refusal: Refusal | None) -> JSONResponse | None:
    if refusal is None:
        return None
    return groq_error(refusal.status, code=refusal.code, message=refusal.message)


def _model_object(model: str) -> dict[str, Any]:
    known = current_model(model)
    speech = known is not None and known.kind is Kind.SPEECH_TO_TEXT
    return {
        "id": model,
        "object": "model",
        "created": 1754408224,
        "owned_by": "offline",
        "active": True,
        "context_window": 448 if speech else 131072,
        "input_modalities": ["audio"]
        if speech
        else ["text", "image"]
        if known and known.vision
        else ["text"],
        "output_modalities": ["transcription"] if speech else ["text"],
    }


def _bearer(http_request: Request) -> str:
    authorization = http_request.headers.get("authorization", "")
    return authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""


def _matcher(api_key: str | None, model: str | None) -> Callable[[GroqRequest], bool]:
    def matches(request: GroqRequest) -> bool:
        return (api_key is None or request.api_key == api_key) and (model is None or request.model == model)

    return matches


async def _parse_request(http_request: Request) -> tuple[GroqRequest, JSONResponse | None]:
    """The request as far as it can be read, and the 400 Groq would give if it is invalid."""
    api_key = _bearer(http_request)
    try:
        body = await http_request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        empty = GroqRequest(api_key=api_key, model="", temperature=None, max_tokens=None, messages=())
        return empty, groq_error(400, message="The request body must be a JSON object.")
    raw_messages = body.get("messages")
    messages_list: list[ChatMessage] = []
    part_problem: str | None = None
    for m in raw_messages if isinstance(raw_messages, list) else []:
        if not isinstance(m, dict):
            continue
        text, images, problem = message_parts(m.get("content"))
        part_problem = part_problem or problem
        messages_list.append(ChatMessage(role=str(m.get("role", "")), content=text, images=images))
    messages = tuple(messages_list)
    temperature = body.get("temperature")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    include_reasoning = body.get("include_reasoning")
    reasoning_format, reasoning_effort = body.get("reasoning_format"), body.get("reasoning_effort")
    request = GroqRequest(
        api_key=api_key,
        model=model if isinstance(model := body.get("model"), str) else "",
        temperature=float(temperature) if isinstance(temperature, int | float) else None,
        max_tokens=max_tokens if isinstance(max_tokens, int) else None,
        messages=messages,
        include_reasoning=include_reasoning if isinstance(include_reasoning, bool) else None,
        reasoning_format=str(reasoning_format) if reasoning_format is not None else None,
        reasoning_effort=str(reasoning_effort) if reasoning_effort is not None else None,
        body=body,
    )
    if not request.model:
        return request, groq_error(400, message="'model' : property 'model' is missing")
    if not messages:
        return request, groq_error(400, message="'messages' : minimum number of items is 1")
    if body.get("stream") is True:
        return request, groq_error(400, message="This offline stand-in does not support `stream: true`.")
    if part_problem is not None:
        return request, groq_error(400, message=part_problem)
    return request, None


async def _unknown_url(http_request: Request) -> JSONResponse:
    message = (
        f"Unknown request URL: {http_request.method} {http_request.url.path}. Please check the URL for typos."
    )
    return groq_error(404, code="unknown_url", message=message)


def main(argv: list[str] | None = None) -> int:
    """`python -m standins.groq --port N [--api-key KEY ...]`: serve until interrupted."""
    parser = standalone_arguments("Offline stand-in for Groq's chat-completions API.")
    parser.add_argument("--api-key", action="append", help="accept only these keys (repeatable)")
    args = parser.parse_args(argv)
    standin = GroqStandIn(api_keys=args.api_key)
    return serve_forever("groq", standin.app, args.host, args.port)


if __name__ == "__main__":
    raise SystemExit(main())
