"""The client's metrics in CloudWatch's Embedded Metric Format (EMF): JSON log lines from which
CloudWatch Logs extracts metrics, with no agent of ours (Lambda and ECS/EKS log drivers ship
stdout to CloudWatch Logs; elsewhere `CloudWatchLogsSink` calls PutLogEvents, where the
`x-amzn-logs-format: json/emf` header is optional: CloudWatch docs, "Using the PutLogEvents API
to send manually-created embedded metric format logs").

Lines are made by aws-embedded-metrics (`MetricsContext`, `LogSerializer`: the spec's directive,
at most 100 metrics per event and 100 values per metric), without its environment detection
(which probes the EC2 metadata service) and without its module-level logger: each `Metrics` has
its own contexts, lock and flush thread.

Namespace `PinnedLlama/Client`, dimension `Endpoint` (the endpoint name) on every metric:

| metric | extra dimension | unit | one value per |
| --- | --- | --- | --- |
| Requests | Mode | Count (1) | classify() call |
| Routed, Latency | Route = llama, api or fallback (API after a failed Llama call) | Count (1), Milliseconds | answered call |
| Fallback | - | 0 or 1 | call routed to Llama: the Average is the fallback rate |
| Fallbacks | Reason | Count (1) | fallback (or refusal in llama-only) |
| ShadowAgreement | - | 0 or 1 | shadow comparison where both answers are labels: Average = agreement |
| ShadowInvalid, ShadowLatency | - | 0 or 1, Milliseconds | shadow call that Llama answered |
| ShadowSkipped | Reason | Count (1) | shadow call not made (circuit open, queue full) or failed |

Request metrics are aggregated per dimension set (values arrays) and flushed every
`flush_interval_s` or at 100 values; each shadow comparison is one event, carrying the
comparison as properties (`Record: "shadow"`): `shadow-report --source client` reads those.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TextIO

if TYPE_CHECKING:
    from aws_embedded_metrics.logger.metrics_context import MetricsContext

# aws-embedded-metrics is imported when a Metrics is made, not with this module: it pulls in
# aiohttp (~0.3 s), and the CDK stacks import this module for NAMESPACE and ENDPOINT on every synth.

NAMESPACE = "PinnedLlama/Client"
ENDPOINT = "Endpoint"
SHADOW_RECORD = "shadow"
MAX_VALUES = 100  # EMF: at most 100 values per metric in one event
log = logging.getLogger(__name__)


class Sink(Protocol):
    def write(self, lines: list[str]) -> None: ...

    def close(self) -> None: ...


class StreamSink:
    """One EMF line per event on a stream (stdout: Lambda, ECS awslogs / FireLens, EKS Fluent Bit)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout
        self._lock = threading.Lock()

    def write(self, lines: list[str]) -> None:
        with self._lock:
            self._stream.write("".join(line + "\n" for line in lines))
            self._stream.flush()

    def close(self) -> None:
        pass


class CallbackSink:
    """Hands each batch of lines to a function (tests; an application's own log shipper)."""

    def __init__(self, callback: Callable[[list[str]], None]) -> None:
        self._callback = callback

    def write(self, lines: list[str]) -> None:
        self._callback(lines)

    def close(self) -> None:
        pass


class CloudWatchLogsSink:
    """PutLogEvents from a background thread: batches of at most 10,000 events and 1 MiB, in time
    order (PutLogEvents API reference); `max_queue` lines wait at most, newer ones are dropped and
    counted (`dropped`) rather than blocking the application."""

    MAX_BATCH_EVENTS = 10_000
    MAX_BATCH_BYTES = 1_048_576
    EVENT_OVERHEAD = 26  # bytes PutLogEvents counts per event on top of the message

    def __init__(self, logs: Any, log_group: str, log_stream: str, max_queue: int = 10_000,
                 interval_s: float = 1.0) -> None:
        self._logs, self.log_group, self.log_stream = logs, log_group, log_stream
        self._queue: queue.Queue[tuple[int, str]] = queue.Queue(max_queue)
        self._interval, self._stop = interval_s, threading.Event()
        self.dropped = self.sent = self.failed = 0
        self._stream_ready = False
        self._thread = threading.Thread(target=self._run, name="emf-logs-sink", daemon=True)
        self._thread.start()

    def write(self, lines: list[str]) -> None:
        stamp = int(time.time() * 1000)
        for line in lines:
            try:
                self._queue.put_nowait((stamp, line))
            except queue.Full:
                self.dropped += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._send_all()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._send_all()

    def _send_all(self) -> None:
        while not self._queue.empty():
            batch: list[tuple[int, str]] = []
            size = 0
            while len(batch) < self.MAX_BATCH_EVENTS:
                try:
                    stamp, line = self._queue.get_nowait()
                except queue.Empty:
                    break
                size += len(line.encode()) + self.EVENT_OVERHEAD
                batch.append((stamp, line))
                if size > self.MAX_BATCH_BYTES - 300_000:
                    break
            if batch:
                self._put(sorted(batch))

    def _put(self, batch: list[tuple[int, str]]) -> None:
        try:
            if not self._stream_ready:
                try:
                    self._logs.create_log_stream(logGroupName=self.log_group, logStreamName=self.log_stream)
                except self._logs.exceptions.ResourceAlreadyExistsException:
                    pass
                self._stream_ready = True
            self._logs.put_log_events(logGroupName=self.log_group, logStreamName=self.log_stream,
                                      logEvents=[{"timestamp": t, "message": m} for t, m in batch])
            self.sent += len(batch)
        except Exception as exc:  # noqa: BLE001 - metrics never break the application
            self.failed += len(batch)
            log.warning("PutLogEvents to %s failed: %s", self.log_group, exc)


@dataclass(frozen=True)
class ShadowRecord:
    """One shadow comparison (the API answered the application; Llama was asked in the background)."""

    request_id: str
    api_label: str | None
    llama_label: str | None
    api_text: str
    llama_text: str | None  # None: Llama did not answer (see reason)
    llama_version: str
    latency_ms: float | None
    reason: str | None = None  # why Llama did not answer
    input_excerpt: str | None = None  # only with record_inputs=True

    @property
    def agree(self) -> bool | None:
        if self.api_label is None or self.llama_label is None:
            return None
        return self.api_label == self.llama_label


class Metrics:
    """Thread-safe EMF recorder. `close()` flushes and stops the flush thread."""

    def __init__(self, sink: Sink | None = None, namespace: str = NAMESPACE, flush_interval_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        from aws_embedded_metrics.logger.metrics_context import MetricsContext
        from aws_embedded_metrics.serializers.log_serializer import LogSerializer

        self._new_context, self._serialize = MetricsContext, LogSerializer.serialize
        self.sink: Sink = sink or StreamSink()
        self.namespace, self._interval, self._clock = namespace, flush_interval_s, clock
        self._lock = threading.Lock()
        self._open: dict[tuple[tuple[str, str], ...], tuple[MetricsContext, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="emf-flush", daemon=True)
        self._thread.start()

    # ----- what the classifier records
    def request(self, endpoint: str, mode: str, route: str, latency_ms: float, llama_attempted: bool,
                fallback_reason: str | None) -> None:
        self.add({ENDPOINT: endpoint, "Mode": mode}, [("Requests", 1, "Count")])
        self.add({ENDPOINT: endpoint, "Route": route}, [("Routed", 1, "Count"), ("Latency", latency_ms, "Milliseconds")])
        if llama_attempted:
            self.add({ENDPOINT: endpoint}, [("Fallback", 1 if fallback_reason else 0, "None")])
        if fallback_reason:
            self.add({ENDPOINT: endpoint, "Reason": fallback_reason}, [("Fallbacks", 1, "Count")])

    def skipped_shadow(self, endpoint: str, reason: str) -> None:
        self.add({ENDPOINT: endpoint, "Reason": reason}, [("ShadowSkipped", 1, "Count")])

    def shadow(self, endpoint: str, record: ShadowRecord) -> None:
        """One event per comparison: the metrics and the record shadow-report reads."""
        context = self._new_context(namespace=self.namespace, dimensions=[{ENDPOINT: endpoint}])
        if record.agree is not None:
            context.put_metric("ShadowAgreement", 1 if record.agree else 0, "None")
        if record.llama_text is not None:
            context.put_metric("ShadowInvalid", 0 if record.llama_label else 1, "None")
            context.put_metric("ShadowLatency", record.latency_ms or 0.0, "Milliseconds")
        properties: dict[str, Any] = {
            "Record": SHADOW_RECORD, "RequestId": record.request_id, "Time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "ApiLabel": record.api_label, "LlamaLabel": record.llama_label, "ApiAnswer": record.api_text[:200],
            "LlamaAnswer": None if record.llama_text is None else record.llama_text[:200],
            "LlamaVersion": record.llama_version, "Reason": record.reason}
        if record.input_excerpt is not None:
            properties["Input"] = record.input_excerpt
        for key, value in properties.items():
            context.set_property(key, value)
        self._emit([context])

    # ----- aggregation
    def add(self, dimensions: dict[str, str], values: list[tuple[str, float, str]]) -> None:
        key = tuple(sorted(dimensions.items()))
        full = None
        with self._lock:
            context, _ = self._open.get(key) or (None, 0.0)
            if context is None:
                context = self._new_context(namespace=self.namespace, dimensions=[dict(dimensions)])
                self._open[key] = (context, self._clock())
            for name, value, unit in values:
                context.put_metric(name, value, unit)
            if any(len(m.values) >= MAX_VALUES for m in context.metrics.values()):
                full = self._open.pop(key)[0]
        if full is not None:
            self._emit([full])

    def flush(self, older_than_s: float = 0.0) -> None:
        now = self._clock()
        with self._lock:
            due = [k for k, (_, born) in self._open.items() if now - born >= older_than_s]
            contexts = [self._open.pop(k)[0] for k in due]
        if contexts:
            self._emit(contexts)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.flush()
        self.sink.close()

    def _run(self) -> None:
        while not self._stop.wait(min(1.0, self._interval)):
            self.flush(older_than_s=self._interval)

    def _emit(self, contexts: list[MetricsContext]) -> None:
        lines = [line for c in contexts for line in self._serialize(c)]
        try:
            self.sink.write(lines)
        except Exception as exc:  # noqa: BLE001 - metrics never break the application
            log.warning("EMF sink failed: %s", exc)
