"""A fake OpenAI-compatible chat completions API over loopback HTTP (POST /v1/chat/completions).

`evaluate --baseline openai:<model>` talks to it with OPENAI_BASE_URL=fake.url. It models what
the baseline comparison needs: an `answer(model, messages) -> str` callback, a bearer key
(401 otherwise), latency, and throttling as OpenAI reports it (429 with `retry-after-ms`).
Usage tokens are counted as words, enough to check they are carried through.

Not modelled: streaming, tools, other endpoints, logprobs, the `n` parameter.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from localaws.loopback import LoopbackServer, reply_json

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
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length)
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
        if throttle:
            return _reply(request, 429, _error("Rate limit reached", "requests", "rate_limit_exceeded"),
                          {"retry-after-ms": str(self.retry_after_ms)})
        model = body.get("model")
        if model not in self.models:
            return _reply(request, 404, _error(f"The model `{model}` does not exist", "invalid_request_error",
                                               "model_not_found"))
        if self.latency_s:
            time.sleep(self.latency_s)
        messages = body.get("messages") or []
        content = self.answer(model, messages)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        _reply(request, 200, {
            "id": f"chatcmpl-{self.requests}", "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(content.split()),
                      "total_tokens": prompt_tokens + len(content.split())},
        })


def _error(message: str, kind: str, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


_reply = reply_json
