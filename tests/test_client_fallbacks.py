"""Every reason the client falls back to the API, against the loopback SageMaker runtime: what the
application receives, what is recorded, and the circuit breaker opening and closing again."""

from __future__ import annotations

import pytest

from client_helpers import GENEROUS_MS, FakeClock, answers, settings
from client_helpers import api, fake_credentials, make, runtime  # noqa: F401 - fixtures
from pinned_llama_client import CircuitBreaker, Reason
from pinned_llama_client.breaker import CLOSED, HALF_OPEN, OPEN
from pinned_llama_client.settings import Mode


def fallback(make, timeout_ms: int) -> tuple:
    classifier, lines = make(settings(Mode.LLAMA, timeout_ms=timeout_ms), breaker=CircuitBreaker(failure_threshold=100))
    result = classifier.classify("Please cancel my order")
    classifier.metrics.flush()
    return result, lines


@pytest.mark.parametrize("fault, reason", [
    ({"error_rate": 1.0}, Reason.ENDPOINT_ERROR),  # the container failed: ModelError with OriginalStatusCode 500
    ({"latency_s": 1.0}, Reason.TIMEOUT),  # no answer within timeout_ms (300)
    ({"throttle_rate": 1.0}, Reason.THROTTLED),  # SageMaker's ThrottlingException, retried, still throttled
    ({"overload_rate": 1.0}, Reason.THROTTLED),  # LMI's queue full: ModelError 503, its throttle status
    ({"not_ready_rate": 1.0}, Reason.THROTTLED),  # ModelNotReadyException
    ({"no_capacity": True}, Reason.SCALED_TO_ZERO),  # ValidationError "Inference Component has no capacity"
])
def test_each_endpoint_failure_falls_back_with_its_reason(make, runtime, api, fault, reason):
    for name, value in fault.items():
        setattr(runtime, name, value)
    # only the timeout case has a short deadline: a loaded machine cannot turn the others into timeouts
    result, lines = fallback(make, timeout_ms=300 if reason is Reason.TIMEOUT else GENEROUS_MS)
    assert (result.label, result.served_by, result.fallback_reason) == ("refund_request", "api", reason)
    assert lines.values("Fallback") == [1]
    assert lines.values("Fallbacks", Reason=reason.value) == [1]
    assert lines.values("Routed", Route="fallback") == [1]


def test_an_answer_outside_the_label_set_falls_back(make, runtime, api):
    runtime.answer = lambda endpoint, request: "Sure! I can help you cancel that."
    result, lines = fallback(make, timeout_ms=GENEROUS_MS)
    assert (result.label, result.fallback_reason) == ("refund_request", Reason.INVALID_LABEL)
    assert lines.values("Fallbacks", Reason="invalid_label") == [1]


def test_throttling_is_retried_within_the_deadline_before_falling_back(make, runtime, api):
    runtime.throttle_rate = 1.0
    # A deadline no attempt can use up (settings' default): a retry is made only if it can end before
    # the deadline, taking as long as the attempt before it. Under the whole suite on 2 cores a
    # throttled attempt to the loopback fake took up to 0.8 s, and with 2 s a retry was sometimes refused.
    classifier, _ = make(settings(Mode.LLAMA), max_retries=2)
    assert classifier.classify("x").fallback_reason is Reason.THROTTLED
    assert runtime.requests == 3  # the first attempt and two retries


def test_a_container_error_is_not_retried(make, runtime, api):
    runtime.error_rate = 1.0
    classifier, _ = make(settings(Mode.LLAMA))
    classifier.classify("x")
    assert runtime.requests == 1


def test_an_endpoint_that_recovers_from_throttling_answers(make, runtime, api):
    runtime.throttle_rate = 0.5  # seeded: some first attempts throttled, their retries answer
    classifier, _ = make(settings(Mode.LLAMA), max_retries=4)
    results = answers(classifier, 20)
    assert runtime.requests > 20  # retries happened
    assert sum(r.served_by == "llama" for r in results) >= 18


def test_the_circuit_opens_after_consecutive_failures_and_recovers(make, runtime, api):
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, open_seconds=30, clock=clock)
    classifier, lines = make(settings(Mode.LLAMA), breaker=breaker)
    runtime.error_rate = 1.0
    first = answers(classifier, 3)
    assert [r.fallback_reason for r in first] == [Reason.ENDPOINT_ERROR] * 3 and breaker.state == OPEN
    calls = runtime.requests
    opened = answers(classifier, 5)  # open: the endpoint is not asked at all
    assert [r.fallback_reason for r in opened] == [Reason.CIRCUIT_OPEN] * 5 and runtime.requests == calls
    assert all(r.label == "refund_request" for r in opened)
    clock.now += 30
    assert breaker.state == HALF_OPEN
    probe = classifier.classify("x")  # one probe; still failing: open again for 30 s
    assert probe.fallback_reason is Reason.ENDPOINT_ERROR and runtime.requests == calls + 1 and breaker.state == OPEN
    runtime.error_rate = 0.0  # the endpoint recovers
    clock.now += 30
    recovered = classifier.classify("x")
    assert (recovered.served_by, recovered.label, breaker.state) == ("llama", "cancel_order", CLOSED)
    classifier.metrics.flush()
    assert sum(lines.values("Fallbacks", Reason="circuit_open")) == 5


def test_a_success_resets_the_count_of_failures(make, runtime, api):
    breaker = CircuitBreaker(failure_threshold=3)
    classifier, _ = make(settings(Mode.LLAMA), breaker=breaker)
    for error_rate in (1.0, 1.0, 0.0, 1.0, 1.0):
        runtime.error_rate = error_rate
        classifier.classify("x")
    assert breaker.state == CLOSED


def test_when_the_api_fails_too_the_application_gets_the_apis_error(make, runtime, api):
    import openai

    runtime.error_rate = 1.0
    api.throttle_rate = 1.0
    classifier, _ = make(settings(Mode.LLAMA))
    with pytest.raises(openai.RateLimitError):
        classifier.classify("x")


def test_the_generate_route_needs_the_pinned_template(make, runtime, api):
    from pinned_llama_client.wire import Route

    classifier, _ = make(settings(Mode.LLAMA, route=Route.GENERATE))
    assert classifier.classify("x").fallback_reason is Reason.ENDPOINT_ERROR and runtime.requests == 0
    runtime.record_bodies = True
    rendered, _ = make(settings(Mode.LLAMA, route=Route.GENERATE),
                       render_prompt=lambda chat: f"<|user|>{chat[-1]['content']}<|assistant|>")
    assert rendered.classify("x").served_by == "llama"
    assert runtime.bodies[-1]["inputs"] == "<|user|>x<|assistant|>"
    assert runtime.bodies[-1]["parameters"]["return_full_text"] is False
