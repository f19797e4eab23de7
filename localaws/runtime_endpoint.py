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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

Answer = Callable[[str, dict], dict]


def echo_answer(endpoint: str, payload: dict) -> dict:
    return {"generated_text": str(payload.get("inputs", ""))[-64:]}


@dataclass
class FakeRuntimeEndpoint:
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
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------
    def start(self) -> "FakeRuntimeEndpoint":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                fake._handle(self)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval: stop() (shutdown) waits for it, 0.5 s by default.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="fake-runtime", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeRuntimeEndpoint":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

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


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog of 5 resets connections when a client opens
    # dozens at once (an evaluation at --concurrency 32): SageMaker does not.
    request_queue_size = 256


def _reply(request: BaseHTTPRequestHandler, status: int, body: dict, error_type: str | None = None,
           variant: str | None = None) -> None:
    data = json.dumps(body).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(data)))
    if error_type:
        request.send_header("x-amzn-ErrorType", error_type)
    if variant:
        request.send_header("X-Amzn-Invoked-Production-Variant", variant)
    request.end_headers()
    request.wfile.write(data)
