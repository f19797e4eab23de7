"""Fixtures for the application client's tests: the loopback fakes (SageMaker runtime in front of a
fake LMI, an OpenAI-compatible API), settings, and the EMF lines a classifier writes."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import openai
import pytest

from localaws.openai_compatible import FakeOpenAI
from localaws.runtime_endpoint import FakeRuntimeEndpoint
from pinned_llama_client import CallbackSink, CircuitBreaker, Classifier, Metrics, StaticSettings
from pinned_llama_client.settings import Mode, Routing, Serving, Settings
from pinned_llama_client.wire import Route

LABELS = ("cancel_order", "refund_request", "check_order_status")
ENDPOINT = "dev-intent-3b"


# A deadline no loopback call reaches even on a loaded 2-core machine (calls there took up to 2.5 s):
# a test of timeouts sets its own, shorter than the latency it injects.
GENEROUS_MS = 30_000


def settings(mode: Mode = Mode.LLAMA, canary_percent: int = 10, sample: int = 100, timeout_ms: int = GENEROUS_MS,
             route: Route = Route.CHAT) -> Settings:
    return Settings(Routing(mode, canary_percent, sample, timeout_ms),
                    Serving(ENDPOINT, "llama-3-2-3b-instruct", "v1", route, frozenset({503}), LABELS, 12))


class Lines:
    """The EMF lines a Metrics wrote, parsed."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self._lock = threading.Lock()

    def __call__(self, lines: list[str]) -> None:
        with self._lock:
            self.events += [json.loads(line) for line in lines]

    def values(self, metric: str, **dims: str) -> list[float]:
        found = []
        for event in self.events:
            if metric in event and all(event.get(k) == v for k, v in dims.items()):
                value = event[metric]
                found += value if isinstance(value, list) else [value]
        return found

    def shadow_records(self) -> list[dict]:
        return [e for e in self.events if e.get("Record") == "shadow"]


@pytest.fixture
def runtime():
    with FakeRuntimeEndpoint(latency_s=0.0, answer=lambda endpoint, request: "cancel_order") as fake:
        yield fake


@pytest.fixture
def api():
    with FakeOpenAI(answer=lambda model, messages: "refund_request") as fake:
        yield fake


@pytest.fixture
def make(runtime, api):
    """make(settings, **kwargs) -> (Classifier, Lines); every classifier is closed after the test."""
    made = []

    def build(chosen: Settings, breaker: CircuitBreaker | None = None, **kwargs) -> tuple[Classifier, Lines]:
        lines = Lines()
        openai_client = openai.OpenAI(api_key="test-key", base_url=api.url, max_retries=0)
        classifier = Classifier(StaticSettings(chosen), openai_client, metrics=Metrics(CallbackSink(lines)),
                                breaker=breaker, region="us-east-1", endpoint_url=runtime.url, seed=3, **kwargs)
        made.append(classifier)
        return classifier, lines

    yield build
    for classifier in made:
        classifier.close()


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch):
    """boto3 signs requests to the loopback fake; no real credentials are read."""
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_SESSION_TOKEN", "testing")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def answers(classifier: Classifier, count: int, prompt: str = "Please cancel my order") -> list:
    return [classifier.classify(prompt) for _ in range(count)]


Answerer = Callable[[str, dict], str]
