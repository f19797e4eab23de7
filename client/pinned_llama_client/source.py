"""Where a `Classifier` gets its `Settings`: SSM parameters read with a cache, or fixed ones.

`ParameterSettings` reads both parameters in one GetParameters call and keeps them `ttl_s`
seconds. One thread refreshes at a time; the others keep answering with what is cached (and,
before the first read, wait for it). A failed read keeps the last good settings and is retried
after `retry_s`; with none yet, `get()` returns None and the classifier answers from the API
(`api`, the mode before any cutover). SSM's standard throughput is 40 GetParameters calls a second
per account and region (shared with everything else there): a fleet of N processes makes N / ttl_s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from pinned_llama_client.settings import ROUTING_PARAMETER, SERVING_PARAMETER, Settings, SettingsError


class SettingsSource(Protocol):
    def get(self) -> Settings | None: ...


class StaticSettings:
    """Fixed settings (tests, or an application that pins its own mode)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def get(self) -> Settings:
        return self._settings


class ParameterSettings:
    def __init__(self, prefix: str, ssm: Any, ttl_s: float = 30.0, retry_s: float = 5.0, wait_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic,
                 on_error: Callable[[Exception], None] | None = None) -> None:
        self.names = (prefix + ROUTING_PARAMETER, prefix + SERVING_PARAMETER)
        self._ssm, self._ttl, self._retry, self._wait, self._clock = ssm, ttl_s, retry_s, wait_s, clock
        self._on_error = on_error
        self._cached: Settings | None = None
        self._expires = float("-inf")
        self._refreshing = False
        self._changed = threading.Condition()
        self.reads = 0  # GetParameters calls made (the cache's effect, for tests and benchmarks)
        self.last_error: Exception | None = None

    def get(self) -> Settings | None:
        with self._changed:
            if self._clock() < self._expires:
                return self._cached
            if self._refreshing:
                if self._cached is None:  # nothing to answer with yet: wait for the first read
                    self._changed.wait_for(lambda: not self._refreshing, timeout=self._wait)
                return self._cached
            self._refreshing = True
        fetched, error = None, None
        try:
            fetched = self._read()
        except Exception as exc:  # noqa: BLE001 - any failure keeps the last good settings
            error = exc
        with self._changed:
            self._refreshing = False
            if fetched is not None:
                self._cached, self._expires = fetched, self._clock() + self._ttl
            else:
                self._expires = self._clock() + self._retry
                self.last_error = error
            self._changed.notify_all()
            cached = self._cached
        if error is not None and self._on_error is not None:
            self._on_error(error)
        return cached

    def _read(self) -> Settings:
        self.reads += 1
        response = self._ssm.get_parameters(Names=list(self.names))
        values = {p["Name"]: p["Value"] for p in response.get("Parameters", [])}
        missing = [n for n in self.names if n not in values]
        if missing:
            raise SettingsError(f"SSM parameter(s) not found: {', '.join(missing)} (is the routing stack deployed?)")
        return Settings.from_parameters(values[self.names[0]], values[self.names[1]], ", ".join(self.names))
