"""`Classifier`: answer a classification prompt from the pinned Llama endpoint or the hosted API,
as the endpoint's routing mode says (settings.py `Mode`), with fallback, a circuit breaker and
metrics.

- The mode is read at run time (source.py: SSM parameters, cached), so a `route` change reaches
  every process within the cache's TTL without a redeploy of the application.
- A call routed to Llama runs on a bounded pool and is waited for until the deadline
  (`timeout_ms`); past it the application gets the API's answer at once (the late call ends by
  botocore's read timeout, the same length). Throttling is retried within the deadline.
- `shadow` returns the API's answer before Llama is asked: the comparison runs on a bounded
  background pool (`shadow_workers`, `shadow_queue`); a full queue skips the comparison, never
  the answer.
- Every instance owns its breaker, pools, random source and metrics: no global state. Close it
  (or use `with`) to flush the metrics and stop its threads.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from pinned_llama_client.breaker import CircuitBreaker
from pinned_llama_client.llama import LlamaCaller, LlamaFailure, Reason
from pinned_llama_client.metrics import Metrics, ShadowRecord
from pinned_llama_client.settings import Mode, Routing, Settings
from pinned_llama_client.source import ParameterSettings, SettingsSource
from pinned_llama_client.wire import Generation, Message, messages, parse_label

LLAMA, API, FALLBACK = "llama", "api", "fallback"  # who served an answer (the Route dimension)
UNKNOWN_ENDPOINT = "unconfigured"  # the Endpoint dimension before any settings were read


@dataclass(frozen=True)
class Answer:
    label: str | None  # the answer as one of the endpoint's labels; None when it is not one
    text: str  # the raw answer
    served_by: str  # "llama", or "api" (also after a fallback)
    mode: Mode
    fallback_reason: Reason | None  # why Llama's answer was not used (None: no fallback)
    latency_ms: float
    version: str | None = None  # the pinned version that answered (Llama only)


class LlamaUnavailable(Exception):
    """llama-only: the endpoint failed and there is no fallback."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"the endpoint did not answer ({reason.value}{': ' + detail if detail else ''}); "
                         "mode llama-only has no fallback")
        self.reason = reason


class Classifier:
    def __init__(self, settings: SettingsSource, openai_client: Any, *, api_model: str = "gpt-4o-mini",
                 metrics: Metrics | None = None, breaker: CircuitBreaker | None = None,
                 sagemaker_client: Callable[[float], Any] | None = None, region: str | None = None,
                 endpoint_url: str | None = None, render_prompt: Callable[[list[Message]], str] | None = None,
                 llama_workers: int = 16, shadow_workers: int = 2, shadow_queue: int = 64, max_retries: int = 2,
                 record_inputs: bool = False, seed: int | None = None) -> None:
        self._settings, self._openai, self.api_model = settings, openai_client, api_model
        self.metrics = metrics or Metrics()
        self.breaker = breaker or CircuitBreaker()
        factory = sagemaker_client or _runtime_factory(region, endpoint_url, llama_workers)
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._caller = LlamaCaller(factory, max_retries=max_retries, render_prompt=render_prompt,
                                   rng=random.Random(None if seed is None else seed + 1))
        self._llama_pool = ThreadPoolExecutor(llama_workers, thread_name_prefix="llama-call")
        self._shadow_pool = ThreadPoolExecutor(shadow_workers, thread_name_prefix="llama-shadow")
        self._shadow_slots = threading.BoundedSemaphore(shadow_queue)
        self._record_inputs = record_inputs
        self._closed = False

    @classmethod
    def for_endpoint(cls, parameter_prefix: str, openai_client: Any, *, region: str | None = None,
                     endpoint_url: str | None = None, ttl_s: float = 30.0, **kwargs: Any) -> "Classifier":
        """Settings from the endpoint's SSM parameters (`/llama/<env>/<endpoint>/`, the stack's outputs)."""
        import boto3

        ssm = boto3.session.Session().client("ssm", region_name=region, endpoint_url=endpoint_url)
        return cls(ParameterSettings(parameter_prefix, ssm, ttl_s=ttl_s), openai_client, region=region,
                   endpoint_url=endpoint_url, **kwargs)

    # ----- the one call an application makes
    def classify(self, prompt: str | list[Message]) -> Answer:
        started = time.perf_counter()
        chat = messages(prompt) if isinstance(prompt, str) else prompt
        settings = self._settings.get()
        routing = settings.routing if settings else Routing()
        endpoint = settings.serving.endpoint_name if settings else UNKNOWN_ENDPOINT
        mode = routing.mode
        if settings is None or mode is Mode.API or (mode is Mode.CANARY and not self._draw(routing.canary_percent)):
            return self._from_api(chat, settings, mode, started, API, None, endpoint)
        if mode is Mode.SHADOW:
            answer = self._from_api(chat, settings, mode, started, API, None, endpoint)
            if self._draw(routing.shadow_sample_percent):
                self._start_shadow(chat, settings, answer)
            return answer
        try:
            generation, label = self._ask_llama(chat, settings)
        except LlamaFailure as failure:
            if mode is Mode.LLAMA_ONLY:
                self._record(endpoint, mode, LLAMA, started, True, failure.reason)
                raise LlamaUnavailable(failure.reason, failure.detail) from None
            return self._from_api(chat, settings, mode, started, FALLBACK, failure.reason, endpoint)
        answer = Answer(label, generation.text, LLAMA, mode, None, _ms(started), settings.serving.version)
        self._record(endpoint, mode, LLAMA, started, True, None)
        return answer

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._shadow_pool.shutdown(wait=True)
        self._llama_pool.shutdown(wait=True, cancel_futures=True)
        self.metrics.close()

    def __enter__(self) -> "Classifier":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- pieces
    def _draw(self, percent: int) -> bool:
        with self._rng_lock:
            return self._rng.random() * 100 < percent

    def _ask_llama(self, chat: list[Message], settings: Settings) -> tuple[Generation, str]:
        """Llama's answer as a label, or LlamaFailure (the breaker hears of every attempt)."""
        if not self.breaker.allow():
            raise LlamaFailure(Reason.CIRCUIT_OPEN)
        timeout_s = settings.routing.timeout_ms / 1000
        try:
            self._caller.client(timeout_s)  # made once per timeout, before the deadline starts (boto3 takes ~0.1 s)
            deadline = time.monotonic() + timeout_s
            future = self._llama_pool.submit(self._caller.call, settings.serving, chat, timeout_s, deadline)
            try:
                generation = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                future.cancel()
                raise LlamaFailure(Reason.TIMEOUT, f"no answer within {settings.routing.timeout_ms} ms") from None
            label = parse_label(generation.text, settings.serving.labels) if generation.refusal is None else None
            if label is None:
                raise LlamaFailure(Reason.INVALID_LABEL, repr(generation.text[:60]))
        except BaseException:
            self.breaker.failure()
            raise
        self.breaker.success()
        return generation, label

    def _from_api(self, chat: list[Message], settings: Settings | None, mode: Mode, started: float, route: str,
                  reason: Reason | None, endpoint: str) -> Answer:
        completion = self._openai.chat.completions.create(
            model=self.api_model, messages=chat, temperature=0,
            max_tokens=settings.serving.max_new_tokens if settings else 16)
        message = completion.choices[0].message if completion.choices else None
        text = (message.content or "") if message else ""
        refused = bool(message and getattr(message, "refusal", None))
        label = parse_label(text, settings.serving.labels) if settings and not refused else None
        self._record(endpoint, mode, route, started, route == FALLBACK, reason)
        return Answer(label, text, API, mode, reason, _ms(started))

    def _record(self, endpoint: str, mode: Mode, route: str, started: float, llama_attempted: bool,
                reason: Reason | None) -> None:
        self.metrics.request(endpoint, mode.value, route, _ms(started), llama_attempted,
                             reason.value if reason else None)

    def _start_shadow(self, chat: list[Message], settings: Settings, answer: Answer) -> None:
        endpoint = settings.serving.endpoint_name
        if not self._shadow_slots.acquire(blocking=False):
            self.metrics.skipped_shadow(endpoint, "queue_full")
            return
        try:
            self._shadow_pool.submit(self._shadow, chat, settings, answer)
        except RuntimeError:  # closing: no new background work
            self._shadow_slots.release()

    def _shadow(self, chat: list[Message], settings: Settings, answer: Answer) -> None:
        endpoint = settings.serving.endpoint_name
        started = time.perf_counter()
        try:
            if not self.breaker.allow():
                self.metrics.skipped_shadow(endpoint, Reason.CIRCUIT_OPEN.value)
                return
            text, label, reason, latency = None, None, None, None
            try:
                timeout_s = settings.routing.timeout_ms / 1000
                generation = self._caller.call(settings.serving, chat, timeout_s, time.monotonic() + timeout_s)
                text, latency = generation.text, _ms(started)
                label = parse_label(text, settings.serving.labels) if generation.refusal is None else None
                self.breaker.success()
            except LlamaFailure as failure:
                reason = failure.reason.value
                self.breaker.failure()
                self.metrics.skipped_shadow(endpoint, reason)
            self.metrics.shadow(endpoint, ShadowRecord(
                uuid.uuid4().hex, answer.label, label, answer.text, text, settings.serving.version, latency, reason,
                _excerpt(chat) if self._record_inputs else None))
        except Exception:  # noqa: BLE001 - a shadow comparison never reaches the application
            pass
        finally:
            self._shadow_slots.release()


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _excerpt(chat: list[Message]) -> str:
    from pinned_llama_client.wire import request_text

    return request_text({"messages": chat})[-200:]


def _runtime_factory(region: str | None, endpoint_url: str | None, pool: int) -> Callable[[float], Any]:
    def make(timeout_s: float) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(connect_timeout=min(timeout_s, 2.0), read_timeout=timeout_s, max_pool_connections=pool,
                        retries={"total_max_attempts": 1, "mode": "standard"})
        return boto3.session.Session().client("sagemaker-runtime", region_name=region, endpoint_url=endpoint_url,
                                              config=config)
    return make
