"""The client's parts on their own: settings documents, the cached SSM reader, the breaker, the EMF lines,
and that the package stands alone (no import of this repo's code)."""

from __future__ import annotations

import ast
import json
import threading

import pytest

from client_helpers import FakeClock
from conftest import ROOT
from pinned_llama_client import CallbackSink, CircuitBreaker, Metrics, ParameterSettings
from pinned_llama_client.breaker import CLOSED, HALF_OPEN, OPEN
from pinned_llama_client.metrics import ShadowRecord
from pinned_llama_client.settings import Mode, Routing, Serving, SettingsError, encode

CLIENT = ROOT / "client"


def test_the_package_imports_nothing_of_this_repo():
    repo_packages = {"config", "stacks", "scripts", "localaws"}
    found = set()
    for path in (CLIENT / "pinned_llama_client").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found |= {f"{path.name}: {n}" for n in names if n.split(".")[0] in repo_packages}
    assert found == set()


def test_the_package_depends_on_boto3_openai_and_the_emf_library_only():
    import tomllib

    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    names = sorted(d.split(">")[0].split("=")[0].split("<")[0] for d in project["dependencies"])
    assert names == ["aws-embedded-metrics", "boto3", "openai"]


def test_routing_and_serving_documents_round_trip():
    routing = Routing(Mode.CANARY, 25, 50, 1500)
    assert Routing.from_document(json.loads(encode(routing.document()))) == routing
    serving = Serving("dev-intent-3b", "m", "v2", labels=("a_b", "c"), max_new_tokens=8)
    assert Serving.from_document(serving.document()) == serving
    assert routing.describe() == "canary 25%"


@pytest.mark.parametrize("document, problem", [
    ({"schema": 2, "mode": "api"}, "schema 2"),
    ({"schema": 1, "mode": "sometimes"}, "unknown mode"),
    ({"schema": 1, "mode": "canary", "canary_percent": 150, "shadow_sample_percent": 1, "timeout_ms": 10},
     "canary_percent"),
    ({"schema": 1, "mode": "api", "canary_percent": True, "shadow_sample_percent": 1, "timeout_ms": 10},
     "canary_percent"),
    ([], "not a JSON object"),
])
def test_a_routing_document_the_client_cannot_read_is_refused(document, problem):
    with pytest.raises(SettingsError, match=problem):
        Routing.from_document(document)


class StubSsm:
    def __init__(self, values: dict[str, str]) -> None:
        self.values, self.calls, self.fail = values, 0, False
        self.gate = threading.Event()
        self.gate.set()

    def get_parameters(self, Names):  # noqa: N803 - boto3's parameter name
        self.calls += 1
        self.gate.wait(5)
        if self.fail:
            raise ConnectionError("SSM unreachable")
        return {"Parameters": [{"Name": n, "Value": self.values[n]} for n in Names if n in self.values],
                "InvalidParameters": [n for n in Names if n not in self.values]}


def documents(mode: Mode = Mode.SHADOW) -> dict[str, str]:
    return {"/llama/dev/e/routing": encode(Routing(mode).document()),
            "/llama/dev/e/serving": encode(Serving("dev-e", labels=("a", "b")).document())}


def test_settings_are_cached_for_their_ttl_and_then_read_again():
    clock, ssm = FakeClock(), StubSsm(documents())
    source = ParameterSettings("/llama/dev/e/", ssm, ttl_s=30, clock=clock)
    assert source.get().routing.mode is Mode.SHADOW
    for _ in range(100):
        source.get()
    assert ssm.calls == 1
    ssm.values = documents(Mode.LLAMA)
    clock.now += 31
    assert source.get().routing.mode is Mode.LLAMA and ssm.calls == 2


def test_a_failed_read_keeps_the_last_good_settings():
    clock, ssm = FakeClock(), StubSsm(documents())
    errors = []
    source = ParameterSettings("/llama/dev/e/", ssm, ttl_s=30, retry_s=5, clock=clock, on_error=errors.append)
    assert source.get().routing.mode is Mode.SHADOW
    ssm.fail = True
    clock.now += 31
    assert source.get().routing.mode is Mode.SHADOW and len(errors) == 1
    assert source.get() is not None and ssm.calls == 2  # retried only after retry_s
    clock.now += 5
    source.get()
    assert ssm.calls == 3


def test_without_parameters_there_are_no_settings():
    source = ParameterSettings("/llama/dev/none/", StubSsm({}))
    assert source.get() is None and "not found" in str(source.last_error)


def test_one_thread_reads_while_the_others_wait_for_the_first_settings():
    ssm = StubSsm(documents())
    ssm.gate.clear()
    source = ParameterSettings("/llama/dev/e/", ssm)
    got = []
    threads = [threading.Thread(target=lambda: got.append(source.get())) for _ in range(8)]
    for t in threads:
        t.start()
    ssm.gate.set()
    for t in threads:
        t.join()
    assert ssm.calls == 1 and len(got) == 8 and all(s is not None for s in got)


def test_the_breaker_lets_one_probe_through_when_half_open():
    clock, changes = FakeClock(), []
    breaker = CircuitBreaker(failure_threshold=2, open_seconds=10, clock=clock,
                             on_change=lambda old, new: changes.append(new))
    breaker.failure()
    assert breaker.allow() and breaker.state == CLOSED
    breaker.failure()
    assert breaker.state == OPEN and not breaker.allow()
    clock.now += 10
    assert breaker.state == HALF_OPEN
    assert breaker.allow() and not breaker.allow()  # one probe at a time
    breaker.success()
    assert breaker.state == CLOSED and breaker.allow()
    assert changes == [OPEN, HALF_OPEN, CLOSED]


def test_request_metrics_are_aggregated_into_emf_events_of_at_most_100_values():
    lines = []
    metrics = Metrics(CallbackSink(lines.extend), flush_interval_s=3600)
    for _ in range(150):
        metrics.request("dev-e", "llama", "llama", 12.5, True, None)
    metrics.close()
    events = [json.loads(line) for line in lines]
    fallback = [e for e in events if "Fallback" in e]
    assert [len(e["Fallback"]) for e in fallback] == [100, 50]
    directive = fallback[0]["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "PinnedLlama/Client" and directive["Dimensions"] == [["Endpoint"]]
    assert fallback[0]["Endpoint"] == "dev-e" and isinstance(fallback[0]["_aws"]["Timestamp"], int)


def test_a_shadow_comparison_is_one_event_with_its_record():
    lines = []
    metrics = Metrics(CallbackSink(lines.extend))
    metrics.shadow("dev-e", ShadowRecord("r1", "a", "a", "a", "a\n", "v2", 40.0))
    metrics.shadow("dev-e", ShadowRecord("r2", "a", None, "a", None, "v2", None, reason="timeout"))
    metrics.close()
    agree, failed = [json.loads(line) for line in lines]
    assert (agree["ShadowAgreement"], agree["ShadowInvalid"], agree["Record"], agree["LlamaVersion"]) == \
        (1, 0, "shadow", "v2")
    assert "ShadowAgreement" not in failed and failed["Reason"] == "timeout"


def test_metrics_are_flushed_by_time_without_new_calls():
    lines, clock = [], FakeClock()
    metrics = Metrics(CallbackSink(lines.extend), flush_interval_s=10, clock=clock)
    metrics.request("dev-e", "api", "api", 1.0, False, None)
    metrics.flush(older_than_s=10)
    assert lines == []
    clock.now += 10
    metrics.flush(older_than_s=10)
    assert len(lines) == 2
    metrics.close()


def test_the_readme_example_is_short():
    readme = (CLIENT / "README.md").read_text()
    example = readme.split("```python", 1)[1].split("```", 1)[0].strip().splitlines()
    assert 5 <= len(example) <= 10


