"""pinned-llama-client: call a pinned Llama 3.2 endpoint on SageMaker, with fallback to an
OpenAI-compatible API, in the routing mode the platform team deployed (api, shadow, canary, llama,
llama-only). See README.md for a ten-line example and docs/applications.md in the repo."""

from pinned_llama_client.breaker import CircuitBreaker
from pinned_llama_client.classifier import Answer, Classifier, LlamaUnavailable
from pinned_llama_client.llama import Reason
from pinned_llama_client.metrics import CallbackSink, CloudWatchLogsSink, Metrics, StreamSink
from pinned_llama_client.settings import Mode, Routing, Serving, Settings
from pinned_llama_client.source import ParameterSettings, StaticSettings

__all__ = ["Answer", "CallbackSink", "CircuitBreaker", "Classifier", "CloudWatchLogsSink", "LlamaUnavailable",
           "Metrics", "Mode", "ParameterSettings", "Reason", "Routing", "Serving", "Settings", "StaticSettings",
           "StreamSink"]
