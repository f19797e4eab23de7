"""Ramp concurrency against an endpoint, find the knee, derive the autoscaling target.

A step at concurrency c runs c closed-loop workers (each sends the next request
when the previous one answered) for `duration` seconds or `max_requests`
requests, whichever comes first.

Finding the knee, in two parts:

1. Saturation: a step whose throughput grows by less than KNEE_EFFICIENCY of the
   concurrency increase (doubling: less than +25%) while its p95 latency rises by
   more than KNEE_LATENCY_RISE. Without one, there is no knee within the ramp.
2. Where: the classic bound of a closed system, N* = X_max x R_min (the highest
   throughput times the unloaded response time, the mean at the lowest
   concurrency): the concurrency the endpoint can absorb without queueing. The
   knee is the largest tested step up to N* (+ KNEE_TOLERANCE for measurement
   noise), below the saturated step: rounding down is the safe side for a target.

Why not "the last step before throughput stalls" alone: the client's own time per
request (signing, parsing, network; and with many client threads, contention)
lets throughput creep up past the server's saturation. Against a 4-slot server
with 20 ms of service time, 4 -> 8 concurrent still gained 19-42% in our runs,
so a growth threshold alone named 8. N* = capacity x (service + client time) /
service lies between 4 and 8 there (4.7 idle, 6.3 with a busy CPU), so rounding
down lands on 4 as long as the client's time stays below the service time.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

KNEE_EFFICIENCY = 0.25  # throughput growth below this share of the concurrency growth: stalled
KNEE_LATENCY_RISE = 0.10  # p95 must rise by more than this to count as rising
KNEE_TOLERANCE = 0.10  # N* measured a little low still rounds down to the step it means


def ramp(max_concurrency: int) -> list[int]:
    """1, 2, 4, ... up to max_concurrency (included even when not a power of two)."""
    levels, c = [], 1
    while c < max_concurrency:
        levels.append(c)
        c *= 2
    return levels + [max_concurrency]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0-100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Step:
    concurrency: int
    requests: int
    ok: int
    errors: dict[str, int]
    seconds: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    mean_ms: float | None = None

    @property
    def throughput(self) -> float:
        """Successful requests per second."""
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return {"concurrency": self.concurrency, "requests": self.requests, "ok": self.ok, "errors": self.errors,
                "seconds": round(self.seconds, 3), "throughput_rps": round(self.throughput, 2),
                "p50_ms": _round(self.p50_ms), "p95_ms": _round(self.p95_ms), "p99_ms": _round(self.p99_ms),
                "mean_ms": _round(self.mean_ms)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


@dataclass
class _Counters:
    issued: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def run_step(invoke: Callable[[], None], concurrency: int, duration: float, max_requests: int,
             error_code: Callable[[Exception], str], on_tick: Callable[[int, float], None] | None = None) -> Step:
    """One step: `concurrency` workers calling `invoke` until the time or request budget is spent."""
    counters = _Counters()
    start = time.monotonic()
    deadline = start + duration

    def worker() -> None:
        while True:
            with counters.lock:
                if counters.issued >= max_requests or time.monotonic() >= deadline:
                    return
                counters.issued += 1
            began = time.perf_counter()
            try:
                invoke()
            except Exception as exc:  # noqa: BLE001 - every failure is counted, by code
                with counters.lock:
                    counters.errors[error_code(exc)] += 1
                continue
            elapsed = time.perf_counter() - began
            with counters.lock:
                counters.latencies.append(elapsed)

    threads = [threading.Thread(target=worker, name=f"loadtest-{concurrency}-{i}", daemon=True)
               for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=0.25)
            if on_tick:
                with counters.lock:
                    done = len(counters.latencies) + sum(counters.errors.values())
                on_tick(done, time.monotonic() - start)
    seconds = time.monotonic() - start
    latencies = [x * 1000 for x in counters.latencies]
    pick = (lambda p: percentile(latencies, p)) if latencies else (lambda p: None)
    return Step(concurrency, counters.issued, len(latencies), dict(counters.errors), seconds,
                pick(50), pick(95), pick(99), sum(latencies) / len(latencies) if latencies else None)


def saturated_step(steps: list[Step]) -> Step | None:
    """The first step whose throughput stalled while its p95 rose, compared with the step before."""
    measured = [s for s in steps if s.ok and s.p95_ms is not None]
    for current, following in zip(measured, measured[1:]):
        wanted = following.concurrency / current.concurrency - 1
        stalled = following.throughput < current.throughput * (1 + KNEE_EFFICIENCY * wanted)
        rising = following.p95_ms > current.p95_ms * (1 + KNEE_LATENCY_RISE)
        if stalled and rising:
            return following
    return None


def knee_estimate(steps: list[Step]) -> float:
    """N* = X_max (requests per second) x R_min (seconds): concurrency absorbed without queueing."""
    measured = [s for s in steps if s.ok and s.mean_ms is not None]
    lowest = min(measured, key=lambda s: s.concurrency)
    return max(s.throughput for s in measured) * lowest.mean_ms / 1000


def find_knee(steps: list[Step]) -> Step | None:
    """The largest tested step up to N* below the saturated step; None if the ramp never saturated."""
    saturated = saturated_step(steps)
    if saturated is None:
        return None
    estimate = knee_estimate(steps) * (1 + KNEE_TOLERANCE)
    below = [s for s in steps if s.ok and s.concurrency < saturated.concurrency]
    within = [s for s in below if s.concurrency <= estimate]
    return within[-1] if within else below[0]


@dataclass(frozen=True)
class Recommendation:
    metric: str  # the endpoint's configured metric
    target: float  # for that metric, per instance
    concurrent_requests_target: float
    invocations_per_instance_target: float
    instances: int
    safety_factor: float


def recommend(knee: Step, instances: int, safety_factor: float, metric: str) -> Recommendation:
    """Per-instance targets from the knee: concurrency x safety, or throughput x 60 x safety per minute."""
    concurrent = round(knee.concurrency / instances * safety_factor, 2)
    per_minute = round(knee.throughput / instances * 60 * safety_factor, 1)
    target = concurrent if metric == "concurrent-requests" else per_minute
    return Recommendation(metric, target, concurrent, per_minute, instances, safety_factor)
