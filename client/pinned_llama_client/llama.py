"""InvokeEndpoint on the pinned endpoint, in its container's format, and why a call failed.

Each failure has one reason, the same the metrics and the fallback report
(botocore's sagemaker-runtime service model, InvokeEndpoint, and the SageMaker developer guide):

- `throttled`: SageMaker's `ThrottlingException` (400), `ModelNotReadyException` (429), or a
  `ModelError` (424) whose `OriginalStatusCode` is the container's own "too busy" status
  (serving document's `throttle_statuses`: TGI 429, LMI 503 by default). Retried after a
  full-jitter backoff, while the deadline allows: the endpoint asked for less traffic.
- `scaled_to_zero`: an endpoint whose inference components have no copy answers
  `ValidationError` (400) "Inference Component has no capacity to process this request.
  ApplicationAutoScaling may be in-progress (if configured) or try to increase the capacity by
  invoking UpdateInferenceComponentRuntimeConfig API." (AWS ML blog, "Unlock cost savings with
  the new scale down to zero feature in SageMaker Inference", 2024). Scaling out takes minutes
  ("Scale an endpoint to zero instances"): not retried; that failed call is what emits
  NoCapacityInvocationFailures, the metric that scales it out again.
- `timeout`: no answer within the deadline (botocore's read or connect timeout).
- `endpoint_error`: any other ModelError (the container failed), 5xx, an unreachable endpoint,
  access denied, or a 200 whose body is not an answer.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from enum import Enum
from typing import Any

from pinned_llama_client.settings import Serving
from pinned_llama_client.wire import Generation, Message, Route, UnreadableAnswer, chat_body, generate_body, read_body

NO_CAPACITY = "no capacity"


class Reason(str, Enum):
    ENDPOINT_ERROR = "endpoint_error"
    TIMEOUT = "timeout"
    THROTTLED = "throttled"
    INVALID_LABEL = "invalid_label"
    SCALED_TO_ZERO = "scaled_to_zero"
    CIRCUIT_OPEN = "circuit_open"


class LlamaFailure(Exception):
    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason, self.detail = reason, detail


class _Throttled(Exception):
    pass


class LlamaCaller:
    """Thread-safe: one boto3 client per timeout (botocore clients are thread-safe), no botocore retries."""

    def __init__(self, client_factory: Callable[[float], Any], max_retries: int = 2, backoff_base_s: float = 0.025,
                 backoff_cap_s: float = 0.4, render_prompt: Callable[[list[Message]], str] | None = None,
                 rng: random.Random | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self._factory, self.max_retries = client_factory, max_retries
        self._base, self._cap, self._render, self._sleep = backoff_base_s, backoff_cap_s, render_prompt, sleep
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self._clients: dict[float, Any] = {}
        self._clients_lock = threading.Lock()

    def client(self, timeout_s: float) -> Any:
        with self._clients_lock:
            if timeout_s not in self._clients:
                self._clients[timeout_s] = self._factory(timeout_s)
            return self._clients[timeout_s]

    def body(self, serving: Serving, chat: list[Message]) -> dict[str, Any]:
        if serving.route is Route.CHAT:
            return chat_body(chat, serving.max_new_tokens)
        if self._render is None:
            raise LlamaFailure(Reason.ENDPOINT_ERROR, f"{serving.endpoint_name} serves the generate route only: "
                                                      "give the Classifier render_prompt (the pinned chat template)")
        return generate_body(self._render(chat), serving.max_new_tokens)

    def call(self, serving: Serving, chat: list[Message], timeout_s: float, deadline: float) -> Generation:
        """The answer, or LlamaFailure. `deadline` (time.monotonic()) bounds the retries."""
        sent = self.body(serving, chat)
        payload = json.dumps(sent)
        for attempt in range(self.max_retries + 1):
            started = time.monotonic()
            try:
                return self._invoke(serving, payload, sent, timeout_s)
            except _Throttled as throttled:
                with self._rng_lock:
                    delay = self._rng.uniform(0, min(self._cap, self._base * 2 ** attempt))
                # another attempt only if it can end before the deadline (taking as long as this one did)
                took = time.monotonic() - started
                if attempt == self.max_retries or time.monotonic() + delay + took >= deadline:
                    raise LlamaFailure(Reason.THROTTLED, str(throttled)) from None
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _invoke(self, serving: Serving, payload: str, sent: dict[str, Any], timeout_s: float) -> Generation:
        from botocore.exceptions import (BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError)

        try:
            response = self.client(timeout_s).invoke_endpoint(
                EndpointName=serving.endpoint_name, Body=payload, ContentType="application/json",
                Accept="application/json")
            raw = response["Body"].read()
        except ClientError as exc:
            raise _classify(exc, serving) from None
        except (ReadTimeoutError, ConnectTimeoutError) as exc:
            raise LlamaFailure(Reason.TIMEOUT, type(exc).__name__) from None
        except BotoCoreError as exc:
            raise LlamaFailure(Reason.ENDPOINT_ERROR, type(exc).__name__) from None
        try:
            return read_body(raw, sent)
        except UnreadableAnswer as exc:
            raise LlamaFailure(Reason.ENDPOINT_ERROR, f"unreadable answer: {exc}") from None


def _classify(exc: Any, serving: Serving) -> Exception:
    error = exc.response.get("Error", {})
    code, message = error.get("Code", "?"), str(error.get("Message", ""))
    if code == "ModelError":
        original = exc.response.get("OriginalStatusCode")
        if original in serving.throttle_statuses:
            return _Throttled(f"ModelError {original} (the container is overloaded)")
        return LlamaFailure(Reason.ENDPOINT_ERROR, f"ModelError: the container answered {original}")
    if code in ("ThrottlingException", "ModelNotReadyException"):
        return _Throttled(code)
    if code == "ValidationError" and NO_CAPACITY in message.lower():
        return LlamaFailure(Reason.SCALED_TO_ZERO, message[:160])
    return LlamaFailure(Reason.ENDPOINT_ERROR, f"{code}: {message}"[:200])
