"""A circuit breaker, so a failing endpoint is not asked again and again while the API answers.

closed: every call goes to the endpoint; `failure_threshold` failures in a row open it.
open: no call goes to the endpoint for `open_seconds` (every request falls back, reason
`circuit_open`). Then half-open: one call at a time probes the endpoint; a success closes the
circuit, a failure opens it for another `open_seconds`. A probe always ends in `success()` or
`failure()` (the classifier reports both from a finally path), so half-open never sticks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class CircuitBreaker:
    def __init__(self, failure_threshold: int = 5, open_seconds: float = 30.0,
                 clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[str, str], None] | None = None) -> None:
        if failure_threshold < 1 or open_seconds <= 0:
            raise ValueError("failure_threshold must be >= 1 and open_seconds > 0")
        self.failure_threshold, self.open_seconds = failure_threshold, open_seconds
        self._clock, self._on_change = clock, on_change
        self._lock = threading.Lock()
        self._state, self._failures, self._opened_at, self._probing = CLOSED, 0, 0.0, False

    @property
    def state(self) -> str:
        with self._lock:
            if self._state == OPEN and self._clock() >= self._opened_at + self.open_seconds:
                return HALF_OPEN
            return self._state

    def allow(self) -> bool:
        """May this call go to the endpoint? (In half-open, True for one probe at a time.)"""
        changed = None
        with self._lock:
            if self._state == CLOSED:
                return True
            if self._state == OPEN:
                if self._clock() < self._opened_at + self.open_seconds:
                    return False
                changed, self._state = (OPEN, HALF_OPEN), HALF_OPEN
            if self._probing:
                allowed = False
            else:
                allowed = self._probing = True
        if changed:
            self._notify(*changed)
        return allowed

    def success(self) -> None:
        with self._lock:
            previous = self._state
            self._state, self._failures, self._probing = CLOSED, 0, False
        if previous != CLOSED:
            self._notify(previous, CLOSED)

    def failure(self) -> None:
        with self._lock:
            previous = self._state
            self._failures += 1
            self._probing = False
            if previous == HALF_OPEN or (previous == CLOSED and self._failures >= self.failure_threshold):
                self._state, self._opened_at = OPEN, self._clock()
            opened = previous != self._state
        if opened:
            self._notify(previous, OPEN)

    def _notify(self, old: str, new: str) -> None:
        if self._on_change is not None:
            self._on_change(old, new)
