"""A fake SageMaker runtime endpoint: InvokeEndpoint over loopback HTTP.

boto3's `sagemaker-runtime` client talks to it with `endpoint_url=fake.url`.
It models what evaluation and load tests need and nothing more:

- latency: each request holds one of `capacity` slots for `latency_s`; requests
  beyond capacity queue, so throughput saturates at capacity / latency and
  latency rises past that knee, as on a real instance with a fixed batch size;
- faults: a fraction of requests answer 429 ThrottlingException or 424 ModelError;
- answers: `answer(endpoint, payload) -> dict`, by default an LMI-style
  `{"generated_text": ...}` echo.

Not modelled: SigV4 (ignored), streaming responses, async inference, payload
size limits, the 60 s timeout, per-variant routing (one variant, `primary`).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote

from localaws.loopback import LoopbackServer, reply_json

Answer = Callable[[str, dict], dict]


def echo_answer(endpoint: str, payload: dict) -> dict:
    return {"generated_text": str(payload.get("inputs", ""))[-64:]}


@dataclass
class FakeRuntimeEndpoint(LoopbackServer):
    thread_name = "fake-runtime"

    latency_s: float = 0.05
    capacity: int = 1_000_000  # concurrent requests served without queueing
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    answer: Answer = echo_answer
    seed: int = 7
    requests: int = 0
    bodies: list[dict] = field(default_factory=list)
    record_bodies: bool = False
    in_service: int = 0
    max_in_service: int = 0  # highest number of requests served at once (capacity check)

    def __post_init__(self) -> None:
        self._slots = threading.BoundedSemaphore(self.capacity) if self.capacity < 1_000_000 else None
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.base_url

    # -- behaviour -------------------------------------------------------
    def _draw(self) -> float:
        with self._lock:
            self.requests += 1
            return self._random.random()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = request.path.strip("/").split("/")
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length)
        if len(parts) != 3 or parts[0] != "endpoints" or parts[2] != "invocations":
            return _reply(request, 404, {"message": f"unknown path {request.path}"})
        endpoint = unquote(parts[1])
        try:
            payload = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            return _reply(request, 400, {"message": "body is not JSON"}, "ValidationError")
        if self.record_bodies:
            with self._lock:
                self.bodies.append(payload)
        draw = self._draw()
        if draw < self.throttle_rate:
            return _reply(request, 429, {"message": "Rate exceeded"}, "ThrottlingException")
        if self._slots:
            self._slots.acquire()
        try:
            with self._lock:
                self.in_service += 1
                self.max_in_service = max(self.max_in_service, self.in_service)
            time.sleep(self.latency_s)
        finally:
            with self._lock:
                self.in_service -= 1
            if self._slots:
                self._slots.release()
        if draw < self.throttle_rate + self.error_rate:
            return _reply(request, 424, {"ErrorCode": "CLIENT_ERROR_FROM_MODEL", "OriginalStatusCode": 500,
                                         "Message": "Received server error (500) from primary", "OriginalMessage": "boom"},
                          "ModelError")
        _reply(request, 200, self.answer(endpoint, payload), variant="primary")


def _reply(request: BaseHTTPRequestHandler, status: int, body: dict, error_type: str | None = None,
           variant: str | None = None) -> None:
    headers = {"x-amzn-ErrorType": error_type} if error_type else {}
    if variant:
        headers["X-Amzn-Invoked-Production-Variant"] = variant
    reply_json(request, status, body, headers)
