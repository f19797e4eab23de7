"""The application client in each routing mode, against the loopback SageMaker runtime (a fake LMI)
and the OpenAI-compatible fake: who answers, what the application receives, what is recorded."""

from __future__ import annotations

import threading

import pytest

from client_helpers import ENDPOINT, answers, settings
from client_helpers import api, fake_credentials, make, runtime  # noqa: F401 - fixtures
from pinned_llama_client import LlamaUnavailable, Reason
from pinned_llama_client.settings import Mode


def test_api_mode_never_calls_the_endpoint(make, runtime, api):
    classifier, lines = make(settings(Mode.API))
    result = classifier.classify("Please cancel my order")
    assert (result.label, result.served_by, result.fallback_reason) == ("refund_request", "api", None)
    assert runtime.requests == 0 and api.requests == 1
    classifier.metrics.flush()
    assert lines.values("Routed", Endpoint=ENDPOINT, Route="api") == [1]
    assert lines.values("Fallback") == []  # nothing was routed to Llama


def test_llama_mode_answers_from_the_endpoint_in_the_chat_format(make, runtime, api):
    runtime.record_bodies = True
    classifier, lines = make(settings(Mode.LLAMA))
    result = classifier.classify("Please cancel my order")
    assert (result.label, result.served_by, result.version, result.fallback_reason) == \
        ("cancel_order", "llama", "v1", None)
    assert api.requests == 0
    assert runtime.bodies == [{"messages": [{"role": "user", "content": "Please cancel my order"}],
                               "max_tokens": 12, "temperature": 0}]
    classifier.metrics.flush()
    assert lines.values("Fallback", Endpoint=ENDPOINT) == [0]
    assert lines.values("Routed", Route="llama") == [1]
    assert lines.values("Requests", Mode="llama") == [1]


def test_canary_sends_about_its_share_to_llama(make, runtime, api):
    classifier, _ = make(settings(Mode.CANARY, canary_percent=25))
    served = [a.served_by for a in answers(classifier, 400)]
    share = served.count("llama") / len(served)
    assert 0.18 < share < 0.32, share  # 25% +- 7 points (seeded draws)
    assert runtime.requests == served.count("llama") and api.requests == served.count("api")


def test_canary_falls_back_on_a_failing_endpoint(make, runtime, api):
    runtime.error_rate = 1.0
    classifier, _ = make(settings(Mode.CANARY, canary_percent=99))
    results = answers(classifier, 5)
    assert all(r.label == "refund_request" and r.served_by == "api" for r in results)
    assert {r.fallback_reason for r in results} <= {Reason.ENDPOINT_ERROR, None}


def test_shadow_returns_the_apis_answer_and_records_agreement(make, runtime, api):
    classifier, lines = make(settings(Mode.SHADOW))
    result = classifier.classify("Please cancel my order")
    assert (result.label, result.served_by) == ("refund_request", "api")
    classifier.close()  # waits for the background comparison
    (record,) = lines.shadow_records()
    assert (record["ApiLabel"], record["LlamaLabel"], record["LlamaVersion"]) == \
        ("refund_request", "cancel_order", "v1")
    assert record["ShadowAgreement"] == 0 and record["ShadowInvalid"] == 0
    assert "Input" not in record  # the text of a request is recorded only with record_inputs=True


@pytest.mark.parametrize("fault", ["disagrees", "fails", "slow", "invalid"])
def test_shadow_never_changes_the_answer_the_application_receives(make, runtime, api, fault):
    """Whatever Llama does in the background, the application gets exactly the API's answer, and
    does not wait for Llama: with "slow", Llama answers only after every answer was returned."""
    release = threading.Event()

    def slow(endpoint: str, request: dict) -> str:
        release.wait(20)
        return "cancel_order"

    if fault == "fails":
        runtime.error_rate = 1.0
    elif fault == "slow":
        runtime.answer = slow
    elif fault == "invalid":
        runtime.answer = lambda endpoint, request: "I am not sure, maybe cancel?"
    baseline, _ = make(settings(Mode.API))
    expected = [(a.label, a.text, a.served_by, a.fallback_reason) for a in answers(baseline, 5)]
    shadowing, lines = make(settings(Mode.SHADOW, timeout_ms=30000))
    got = [(a.label, a.text, a.served_by, a.fallback_reason) for a in answers(shadowing, 5)]
    if fault == "slow":
        assert lines.shadow_records() == []  # no comparison has ended: the answers did not wait for one
    release.set()
    assert got == expected
    shadowing.close()
    records = lines.shadow_records()
    assert len(records) == 5 and all(r["ApiLabel"] == "refund_request" for r in records)


def test_shadow_samples_and_bounds_its_background_work(make, runtime, api):
    release = threading.Event()

    def blocked(endpoint: str, request: dict) -> str:
        release.wait(20)
        return "cancel_order"

    runtime.answer = blocked
    classifier, lines = make(settings(Mode.SHADOW, sample=100), shadow_workers=1, shadow_queue=2)
    answers(classifier, 10)  # Llama does not answer yet: 2 comparisons wait, the other 8 are skipped
    release.set()
    classifier.close()
    assert len(lines.shadow_records()) == 2
    assert sum(lines.values("ShadowSkipped", Reason="queue_full")) == 8


def test_shadow_sample_percent_limits_the_calls_to_llama(make, runtime, api):
    classifier, lines = make(settings(Mode.SHADOW, sample=20))
    answers(classifier, 200)
    classifier.close()
    assert 20 <= runtime.requests <= 60, runtime.requests  # 20% of 200 +- 20 (seeded)
    assert len(lines.shadow_records()) == runtime.requests


def test_llama_only_raises_instead_of_falling_back(make, runtime, api):
    runtime.error_rate = 1.0
    classifier, lines = make(settings(Mode.LLAMA_ONLY))
    with pytest.raises(LlamaUnavailable) as failure:
        classifier.classify("Please cancel my order")
    assert failure.value.reason is Reason.ENDPOINT_ERROR and api.requests == 0
    classifier.metrics.flush()
    assert lines.values("Fallbacks", Reason="endpoint_error") == [1]


def test_one_classifier_serves_many_threads(make, runtime, api):
    runtime.latency_s = 0.01
    classifier, lines = make(settings(Mode.CANARY, canary_percent=50))
    results, errors = [], []

    def work() -> None:
        try:
            results.extend(answers(classifier, 20))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 160
    assert {r.label for r in results} == {"cancel_order", "refund_request"}
    classifier.close()
    assert sum(lines.values("Requests", Mode="canary")) == 160
    assert runtime.requests + api.requests == 160
