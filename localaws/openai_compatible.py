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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ChatAnswer = Callable[[str, list[dict]], str]


def echo_chat(model: str, messages: list[dict]) -> str:
    return str(messages[-1].get("content", ""))[-64:] if messages else ""


@dataclass
class FakeOpenAI:
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
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> "FakeOpenAI":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                fake._handle(self)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval: stop() (shutdown) waits for it, 0.5 s by default.
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-openai",
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL, as OPENAI_BASE_URL takes it."""
        assert self._server, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

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


class _Server(ThreadingHTTPServer):
    request_queue_size = 256


def _error(message: str, kind: str, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _reply(request: BaseHTTPRequestHandler, status: int, body: dict, headers: dict | None = None) -> None:
    data = json.dumps(body).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        request.send_header(name, value)
    request.end_headers()
    request.wfile.write(data)
