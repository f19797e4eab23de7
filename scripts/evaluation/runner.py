"""Run one call per item on K worker threads: a shared rate limit, retries with backoff, Ctrl-C.

- Rate limit: calls start at most R per second across all workers (a schedule of start
  times, so bursts never exceed it).
- Retries: a call that raises `Retryable` (throttling, 5xx, a dropped connection) is retried
  after `Retry-After` when the server sent one, else after a full-jitter exponential backoff
  (random in [0, min(cap, base * 2^attempt)]), up to `max_attempts`; then it counts as an error.
  `CallFailed` is an error at once (the model failed, the request was refused); `Fatal` stops
  the whole run (bad credentials, no such endpoint): every further call would fail the same way.
- Interrupt: KeyboardInterrupt in the main thread stops the workers from starting new calls;
  calls in flight finish (a second Ctrl-C stops waiting), and the finished results are
  returned with `interrupted=True`, so the caller can write a partial report.
- Latency is the client-side time of the attempt that succeeded, without backoff waits.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
THROTTLE_CODES = {"ThrottlingException", "TooManyRequestsException", "HTTP 429", "ModelNotReadyException"}


class Retryable(Exception):
    """Worth another attempt; `throttled`: the server said it is too busy (counted apart)."""

    def __init__(self, code: str, retry_after: float | None = None, throttled: bool | None = None):
        super().__init__(code)
        self.code = code
        self.retry_after = retry_after
        self.throttled = code in THROTTLE_CODES if throttled is None else throttled


class CallFailed(Exception):
    """This call failed for good (model error, refused request): counted, not retried."""


class Fatal(Exception):
    """Every call would fail like this one: stop the run."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_s: float = 0.1
    cap_s: float = 5.0
    max_retry_after_s: float = 30.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after_s)
        return rng.uniform(0, min(self.cap_s, self.base_s * 2 ** attempt))


class RateLimiter:
    def __init__(self, per_second: float | None):
        self.interval = 1.0 / per_second if per_second else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self, stop: threading.Event) -> bool:
        """Block until this call may start; False if the run was stopped meanwhile."""
        if not self.interval:
            return not stop.is_set()
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        delay = start - now
        return not stop.wait(delay) if delay > 0 else not stop.is_set()


@dataclass
class CallResult(Generic[R]):
    value: R | None = None
    error: str | None = None
    latency_ms: float | None = None
    retries: int = 0
    throttled: int = 0  # retries caused by throttling (429 / ThrottlingException)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class RunResult(Generic[R]):
    results: list[CallResult[R] | None]  # None: not done (interrupted before or during it)
    elapsed_s: float
    interrupted: bool = False
    retries: int = 0
    throttled: int = 0
    done: int = field(default=0)




def run_calls(items: Sequence[T], call: Callable[[T], R], *, concurrency: int, rate_limit: float | None = None,
              retry: RetryPolicy = RetryPolicy(), on_done: Callable[[], None] | None = None,
              seed: int | None = None) -> RunResult[R]:
    results: list[CallResult[R] | None] = [None] * len(items)
    stop = threading.Event()
    limiter = RateLimiter(rate_limit)
    lock = threading.Lock()
    position = iter(range(len(items)))
    fatal: list[Fatal] = []
    rng = random.Random(seed)
    started = time.perf_counter()

    def attempt_all(item: T) -> CallResult[R] | None:
        retries = throttled = 0
        for attempt in range(retry.max_attempts):
            if not limiter.wait(stop):
                return None
            begin = time.perf_counter()
            try:
                value = call(item)
            except Retryable as exc:
                if exc.throttled:
                    throttled += 1
                if attempt == retry.max_attempts - 1:
                    return CallResult(error=f"{exc.code} (gave up after {retry.max_attempts} attempts)",
                                      retries=retries, throttled=throttled)
                retries += 1
                with lock:
                    delay = retry.delay(attempt, exc.retry_after, rng)
                if stop.wait(delay):
                    return None
                continue
            except CallFailed as exc:
                return CallResult(error=str(exc), retries=retries, throttled=throttled)
            return CallResult(value=value, latency_ms=(time.perf_counter() - begin) * 1000, retries=retries,
                              throttled=throttled)
        return None  # unreachable: the last attempt returns

    def worker(finished: threading.Event) -> None:
        try:
            while not stop.is_set():
                with lock:
                    index = next(position, None)
                if index is None:
                    return
                try:
                    outcome = attempt_all(items[index])
                except Fatal as exc:
                    with lock:
                        fatal.append(exc)
                    stop.set()
                    return
                if outcome is None:
                    return
                results[index] = outcome
                if on_done:
                    with lock:
                        on_done()
        finally:
            finished.set()

    # Each worker says it has finished with its own event, not Thread.join: on CPython 3.9-3.12 a
    # KeyboardInterrupt that interrupts join() (or is_alive()) marks a still-running thread as
    # stopped (cpython #90882), so waiting again returned at once and a call in flight went missing
    # from the partial report. Starting the workers is inside the `try` too: Ctrl-C can arrive while
    # start() waits for a thread to run.
    workers: list[tuple[threading.Thread, threading.Event]] = []

    def wait_for_workers() -> None:
        for thread, finished in workers:
            # ident None: start() was interrupted before the thread ran; it will find `stop` set
            while thread.ident is not None and not finished.wait(0.05):
                pass

    interrupted = False
    try:
        for i in range(max(1, min(concurrency, len(items)))):
            finished = threading.Event()
            thread = threading.Thread(target=worker, args=(finished,), name=f"evaluate-{i}", daemon=True)
            workers.append((thread, finished))
            thread.start()
        wait_for_workers()
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
        try:  # let calls in flight finish (they count); a second Ctrl-C stops waiting
            wait_for_workers()
        except KeyboardInterrupt:
            pass
    if fatal:
        raise fatal[0]
    done = [r for r in results if r is not None]
    return RunResult(results, time.perf_counter() - started, interrupted or len(done) < len(items),
                     retries=sum(r.retries for r in done), throttled=sum(r.throttled for r in done), done=len(done))
