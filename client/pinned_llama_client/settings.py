"""What the client reads at run time: the endpoint's routing mode and how to talk to its live version.

Two SSM parameters per endpoint, written by the stacks from environments/<env>.yaml and never by hand:

- `<prefix>routing`, in the routing stack (`llama-<env>-<endpoint>-routing`), changed by the
  repo's `route` command: `{"schema": 1, "mode", "canary_percent", "shadow_sample_percent",
  "timeout_ms"}`;
- `<prefix>serving`, in the endpoint stack, changed with the live version by `promote`:
  `{"schema": 1, "endpoint_name", "model", "version", "route", "throttle_statuses", "labels",
  "max_new_tokens"}`.

What a version needs (its container's route, its label set) changes with the version; what a
cutover changes lives apart, so neither command deploys the other's stack. The builders below are
used by the stacks and by `route`'s live check, and the reader by the client: one definition.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from pinned_llama_client.wire import Route

SCHEMA = 1
ROUTING_PARAMETER = "routing"
SERVING_PARAMETER = "serving"
MAX_TIMEOUT_MS = 60_000  # InvokeEndpoint answers within 60 s (SageMaker runtime)


class Mode(str, Enum):
    """Who answers the application, phase by phase of the migration (the seed's test, shadow, cutover, pinned)."""

    API = "api"  # the hosted API only (before cutover)
    SHADOW = "shadow"  # the API answers; a sample is also asked of Llama in the background and compared
    CANARY = "canary"  # canary_percent of calls answered by Llama (API on failure), the rest by the API
    LLAMA = "llama"  # Llama answers; the API when Llama fails
    LLAMA_ONLY = "llama-only"  # Llama only: no fallback

    @property
    def exposure(self) -> int:
        """How much of the application's answers depend on Llama (a route to a higher one is gated)."""
        return list(Mode).index(self)


class SettingsError(ValueError):
    """A parameter's document is not one this client reads."""


@dataclass(frozen=True)
class Routing:
    mode: Mode = Mode.API
    canary_percent: int = 10
    shadow_sample_percent: int = 100
    timeout_ms: int = 2000

    def describe(self) -> str:
        if self.mode is Mode.CANARY:
            return f"canary {self.canary_percent}%"
        if self.mode is Mode.SHADOW:
            return f"shadow (sample {self.shadow_sample_percent}%)"
        return self.mode.value

    def document(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "mode": self.mode.value, "canary_percent": self.canary_percent,
                "shadow_sample_percent": self.shadow_sample_percent, "timeout_ms": self.timeout_ms}

    @classmethod
    def from_document(cls, data: Any) -> "Routing":
        data = _object(data, ROUTING_PARAMETER)
        try:
            mode = Mode(data.get("mode"))
        except ValueError:
            raise SettingsError(f"routing: unknown mode {data.get('mode')!r}") from None
        routing = cls(mode, _int(data, "canary_percent", 0, 100), _int(data, "shadow_sample_percent", 0, 100),
                      _int(data, "timeout_ms", 1, MAX_TIMEOUT_MS))
        return routing


@dataclass(frozen=True)
class Serving:
    endpoint_name: str
    model: str = ""
    version: str = ""
    route: Route = Route.CHAT
    throttle_statuses: frozenset[int] = frozenset({503})
    labels: tuple[str, ...] = ()
    max_new_tokens: int = 16

    def document(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "endpoint_name": self.endpoint_name, "model": self.model, "version": self.version,
                "route": self.route.value, "throttle_statuses": sorted(self.throttle_statuses),
                "labels": list(self.labels), "max_new_tokens": self.max_new_tokens}

    @classmethod
    def from_document(cls, data: Any) -> "Serving":
        data = _object(data, SERVING_PARAMETER)
        name, labels, statuses = data.get("endpoint_name"), data.get("labels"), data.get("throttle_statuses")
        if not isinstance(name, str) or not name:
            raise SettingsError("serving: no endpoint_name")
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise SettingsError("serving: labels is not a list of strings")
        if not isinstance(statuses, list) or not all(isinstance(x, int) for x in statuses):
            raise SettingsError("serving: throttle_statuses is not a list of integers")
        try:
            route = Route(data.get("route"))
        except ValueError:
            raise SettingsError(f"serving: unknown route {data.get('route')!r}") from None
        return cls(name, str(data.get("model", "")), str(data.get("version", "")), route, frozenset(statuses),
                   tuple(labels), _int(data, "max_new_tokens", 1, 4096))


@dataclass(frozen=True)
class Settings:
    routing: Routing
    serving: Serving
    source: str = field(default="static", compare=False)  # where they were read (parameter names)

    @classmethod
    def from_parameters(cls, routing_text: str, serving_text: str, source: str) -> "Settings":
        return cls(Routing.from_document(_json(routing_text, ROUTING_PARAMETER)),
                   Serving.from_document(_json(serving_text, SERVING_PARAMETER)), source)


def encode(document: dict[str, Any]) -> str:
    """A parameter's value: compact, keys sorted, so equal settings are equal strings."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, json.JSONDecodeError):
        raise SettingsError(f"{what}: not JSON") from None


def _object(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise SettingsError(f"{what}: not a JSON object")
    if data.get("schema") != SCHEMA:
        raise SettingsError(f"{what}: schema {data.get('schema')!r}, this client reads {SCHEMA} (upgrade it)")
    return data


def _int(data: dict[str, Any], key: str, low: int, high: int) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SettingsError(f"{key}: {value!r} is not a whole number in {low}-{high}")
    return value
