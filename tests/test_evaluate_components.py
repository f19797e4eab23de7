"""`evaluate`, the smoke test and `shadow-report` addressing an inference component (InferenceComponentName),
against the fake SageMaker runtime (localaws/runtime_endpoint.py) in front of a fake LMI."""

from __future__ import annotations

import json

import pytest
from evaluation_helpers import env, run_cli, utterance, write_dataset  # noqa: F401
from test_shadow_report import capture  # noqa: F401 (fixture: captured production traffic in moto S3)

from localaws.runtime_endpoint import FakeRuntimeEndpoint
from scripts.evaluation.answers import request_text

pytestmark = pytest.mark.slow  # full tier (make test): a loopback runtime fake and moto S3

ENDPOINT = "dev-intents-lora"
COMPONENTS = {f"{ENDPOINT}-base": None, f"{ENDPOINT}-support": "support-intents", f"{ENDPOINT}-orders": "order-intents"}
ORDERS = [("where is my parcel", "check_order_status"), ("cancel it please", "cancel_order"),
          ("money back", "refund_request"), ("the mug arrived broken", "damaged_or_wrong_item")]
SMOKE = {"Where is my order 4411? It was due on Monday.": "check_order_status",
         "Please cancel the order I placed this morning.": "cancel_order"}  # the orders smoke_test of dev.yaml


def by_component(seen: list):
    """The model: right on the orders adapter, always speak_to_agent elsewhere; records who was asked."""
    def answer(endpoint: str, payload: dict) -> str:
        seen.append(endpoint)
        if endpoint.endswith("-orders"):
            return (dict(ORDERS) | SMOKE)[utterance(request_text(payload))]
        return "speak_to_agent"
    return answer


def evaluate(fake, dataset, *extra):
    return run_cli("evaluate", "--env", "dev", "--endpoint", "intents-lora", "--dataset", str(dataset),
                   "--endpoint-url", fake.url, "--json", *extra)


def test_evaluate_asks_one_adapter_component_and_reports_its_pin(env, tmp_path):
    seen: list[str] = []
    dataset = write_dataset(tmp_path / "orders.jsonl", ORDERS)
    with FakeRuntimeEndpoint(latency_s=0, answer=by_component(seen), components=COMPONENTS) as fake:
        result = evaluate(fake, dataset, "--component", "orders")
    assert result.code == 0, result.err
    assert set(seen) == {f"{ENDPOINT}/{ENDPOINT}-orders"}  # InferenceComponentName on every request
    files = result.result()["files"]
    report = json.loads((env / files["report"]).read_text() if not files["report"].startswith("/")
                        else open(files["report"]).read())
    assert files["report"].startswith("reports/adapters/order-intents/v1/dev-intents-lora-orders-")
    assert report["component"] == {"id": "orders", "name": f"{ENDPOINT}-orders", "adapter": "order-intents",
                                   "adapter_version": "v1", "adapter_manifest_sha256": report["component"][
                                       "adapter_manifest_sha256"], "adapter_version_source": "config"}
    assert len(report["component"]["adapter_manifest_sha256"]) == 64
    assert (report["model"], report["version"], report["metrics"]["accuracy"]) == ("llama-3-2-3b-instruct", "v1", 1.0)
    assert report["prompt"]["labels"][0] == "check_order_status" and len(report["prompt"]["labels"]) == 6


def test_a_component_at_zero_copies_stops_the_run_and_says_why(env, tmp_path):
    dataset = write_dataset(tmp_path / "orders.jsonl", ORDERS)
    with FakeRuntimeEndpoint(latency_s=0, components=COMPONENTS, zero_copies=True) as fake:
        result = evaluate(fake, dataset, "--component", "orders", "--out", str(tmp_path / "out"))
    assert result.code == 3
    assert "no copy is running (scaled to zero)" in result.err and "takes minutes" in result.err


def test_unknown_components_and_versions_are_refused_with_the_known_ones(env, tmp_path):
    dataset = write_dataset(tmp_path / "orders.jsonl", ORDERS)
    with FakeRuntimeEndpoint(latency_s=0, components=COMPONENTS) as fake:
        unknown = evaluate(fake, dataset, "--component", "billing")
        version = evaluate(fake, dataset, "--component", "support", "--version", "v9")
    assert unknown.code == 2 and "use one of: base, support, orders" in unknown.err
    assert version.code == 2 and "no adapter pin support-intents/v9; fix: use one of: v1, v2" in version.err


def test_the_smoke_test_of_a_component_names_it_in_every_request(env):
    from config.project import load_project
    from scripts.promotion.checks import smoke_problems

    project = load_project(env, "dev")
    endpoint = project.environments["dev"].component_endpoints["intents-lora"]
    pin = project.pins[("llama-3-2-3b-instruct", "v1")]
    seen: list[str] = []
    with FakeRuntimeEndpoint(latency_s=0, answer=by_component(seen), components=COMPONENTS) as fake:
        import os

        os.environ["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = fake.url
        try:
            good = smoke_problems(ENDPOINT, endpoint.adapters["orders"], pin, "us-east-1", component=f"{ENDPOINT}-orders")
            bad = smoke_problems(ENDPOINT, endpoint.adapters["support"], pin, "us-east-1",
                                 component=f"{ENDPOINT}-support")
        finally:
            del os.environ["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"]
    assert good == []
    assert bad == ["smoke_test.0: answered speak_to_agent, expected check_order_status",
                   "smoke_test.1: answered speak_to_agent, expected cancel_order",
                   "smoke_test.2: answered speak_to_agent, expected payment_issue"]
    assert set(seen) == {f"{ENDPOINT}/{ENDPOINT}-orders", f"{ENDPOINT}/{ENDPOINT}-support"}


def test_shadow_report_replays_production_traffic_to_a_component(capture, monkeypatch):
    from scripts.lib import aws

    answers = {f"question {n}": ["check_order_status", "cancel_order", "refund_request", "speak_to_agent"][n % 4]
               for n in range(20)} | {"question 3": "cancel_order", "only production": "cancel_order"}
    seen: list[str] = []

    def answer(endpoint: str, payload: dict) -> str:
        seen.append(endpoint)
        return answers[utterance(request_text(payload) + "\n")]

    with FakeRuntimeEndpoint(latency_s=0, answer=answer, components=COMPONENTS) as fake:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", fake.url)
        aws.client.cache_clear()
        result = run_cli("shadow-report", "--env", "dev", "--endpoint", "intent-3b", "--since",
                         "2025-03-01T12:00:00Z", "--component", "intents-lora/support", "--json")
    assert result.code == 0, result.err
    r = result.result()
    assert (r["mode"], r["component"]["name"], r["component"]["adapter_version"]) == \
        ("replay", f"{ENDPOINT}-support", "v1")
    assert r["records"] == {"primary": 21, "component": 21} and r["matched"] == 21
    assert (r["both_valid"], r["agree"], r["disagree"]) == (21, 20, 1)
    assert [d["input"] for d in r["disagreements"]] == ["question 3"]
    assert set(seen) == {f"{ENDPOINT}/{ENDPOINT}-support"}
