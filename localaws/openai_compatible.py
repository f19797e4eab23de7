"""A fake OpenAI-compatible chat completions API over loopback HTTP (POST /v1/chat/completions).

`evaluate --baseline openai:<model>` talks to it with OPENAI_BASE_URL=fake.url, through the
official `openai` client. Shapes follow OpenAI's API reference (Chat Completions: the
chat.completion object; Rate limits; Error codes):

- 200: `chat.completion` with `message.{role, content, refusal, annotations}`, `logprobs`,
  `finish_reason`, `usage` with `prompt_tokens_details` / `completion_tokens_details`,
  `service_tier`, `system_fingerprint`. A refusal (`answer` returns `Refusal(text)`) has
  `content: null` and the text in `refusal`.
- Every answer carries `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` (resets as
  durations such as "120ms", "6m0s") and `x-request-id`.
- 429 `rate_limit_exceeded` (type `requests`): `retry_after` picks the hint: "ms"
  (`retry-after-ms`), "seconds" (`retry-after: 1`), "date" (`retry-after` as an HTTP date) or
  "none" (only the x-ratelimit headers, remaining 0 and the reset).
- 401 `invalid_api_key` without the bearer key; 404 `model_not_found`.

Usage tokens are counted as words, enough to check they are carried through.
Not modelled: streaming, tools, other endpoints, logprobs, the `n` parameter.
"""

from __future__ import annotations

import email.utils
import json
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from localaws.loopback import LoopbackServer, reply_json


class Refusal(str):
    """An answer the model refuses to give (sent as `message.refusal`)."""


ChatAnswer = Callable[[str, list[dict]], str]


def echo_chat(model: str, messages: list[dict]) -> str:
    return str(messages[-1].get("content", ""))[-64:] if messages else ""


@dataclass
class FakeOpenAI(LoopbackServer):
    thread_name = "fake-openai"

    answer: ChatAnswer = echo_chat
    api_key: str = "test-key"
    latency_s: float = 0.0
    throttle_rate: float = 0.0
    retry_after: str = "ms"  # "ms" | "seconds" | "date" | "none"
    retry_after_ms: int = 5
    models: tuple[str, ...] = ("gpt-4o-mini",)
    seed: int = 11
    requests: int = 0
    throttled: int = 0
    bodies: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The base URL, as OPENAI_BASE_URL takes it."""
        return f"{self.base_url}/v1"

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        raw = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        if request.path.rstrip("/") != "/v1/chat/completions":
            return _reply(request, 404, _error(f"unknown path {request.path}", "invalid_request_error"))
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _reply(request, 401, _error("Incorrect API key provided", "invalid_request_error",
                                               "invalid_api_key"))
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            return _reply(request, 400, _error("body is not JSON", "invalid_request_error"))
        with self._lock:
            self.requests += 1
            self.bodies.append(body)
            throttle = self._random.random() < self.throttle_rate
            if throttle:
                self.throttled += 1
        model = body.get("model")
        if throttle:
            return self._throttle(request, model)
        if model not in self.models:
            return _reply(request, 404, _error(f"The model `{model}` does not exist or you do not have access to it.",
                                               "invalid_request_error", "model_not_found"))
        if self.latency_s:
            time.sleep(self.latency_s)
        messages = body.get("messages") or []
        content = self.answer(model, messages)
        refusal = isinstance(content, Refusal)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        completion_tokens = len(content.split())
        _reply(request, 200, {
            "id": f"chatcmpl-{self.requests}", "object": "chat.completion", "created": int(time.time()),
            "model": f"{model}-2024-07-18",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": None if refusal else str(content),
                                                 "refusal": str(content) if refusal else None, "annotations": []},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens,
                      "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                    "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
            "service_tier": "default", "system_fingerprint": "fp_0000000000",
        }, _limits(remaining=499))

    def _throttle(self, request: BaseHTTPRequestHandler, model: str) -> None:
        wait_s = self.retry_after_ms / 1000
        headers = _limits(remaining=0, reset=f"{self.retry_after_ms}ms")
        if self.retry_after == "ms":
            headers["retry-after-ms"] = str(self.retry_after_ms)
        elif self.retry_after == "seconds":
            headers["retry-after"] = str(max(1, round(wait_s)))
        elif self.retry_after == "date":
            # An HTTP-date has one-second resolution (RFC 9110 section 5.6.7); rounding it up keeps the
            # hint no earlier than the wait meant (truncating could ask a client to retry 1 s early).
            headers["retry-after"] = email.utils.formatdate(math.ceil(time.time() + max(1.0, wait_s)), usegmt=True)
        _reply(request, 429, _error(
            f"Rate limit reached for {model} in organization org-test on requests per min (RPM): Limit 500, Used "
            f"500, Requested 1. Please try again in {self.retry_after_ms}ms. Visit "
            "https://platform.openai.com/account/rate-limits to learn more.", "requests", "rate_limit_exceeded"),
               headers)


def _limits(remaining: int, reset: str = "120ms") -> dict:
    return {"x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-requests": str(remaining),
            "x-ratelimit-reset-requests": reset, "x-ratelimit-limit-tokens": "200000",
            "x-ratelimit-remaining-tokens": "199950", "x-ratelimit-reset-tokens": "15ms",
            "x-request-id": f"req_{random.getrandbits(64):016x}"}


def _error(message: str, kind: str, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


_reply = reply_json
