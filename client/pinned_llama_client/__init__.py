"""pinned-llama-client: call a pinned Llama 3.2 endpoint on SageMaker, with fallback to an
OpenAI-compatible API, in the routing mode the platform team deployed (api, shadow, canary, llama,
llama-only). See README.md for a ten-line example and docs/applications.md in the repo.

Names are imported on first use (PEP 562), so `pinned_llama_client.wire` and `.settings` (the
format and the routing documents, which the repo's commands and stacks import) do not load the
metrics library (aws-embedded-metrics takes ~0.4 s to import).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_HOMES = {
    "CircuitBreaker": "breaker", "Answer": "classifier", "Classifier": "classifier",
    "LlamaUnavailable": "classifier", "Reason": "llama", "CallbackSink": "metrics", "CloudWatchLogsSink": "metrics",
    "Metrics": "metrics", "StreamSink": "metrics", "Mode": "settings", "Routing": "settings", "Serving": "settings",
    "Settings": "settings", "ParameterSettings": "source", "StaticSettings": "source",
}
__all__ = sorted(_HOMES)

if TYPE_CHECKING:
    from pinned_llama_client.breaker import CircuitBreaker
    from pinned_llama_client.classifier import Answer, Classifier, LlamaUnavailable
    from pinned_llama_client.llama import Reason
    from pinned_llama_client.metrics import CallbackSink, CloudWatchLogsSink, Metrics, StreamSink
    from pinned_llama_client.settings import Mode, Routing, Serving, Settings
    from pinned_llama_client.source import ParameterSettings, StaticSettings


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'pinned_llama_client' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"pinned_llama_client.{_HOMES[name]}"), name)
    globals()[name] = value
    return value
