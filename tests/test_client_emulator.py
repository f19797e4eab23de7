"""The application client against the AWS emulator: settings from SSM, InvokeEndpoint through the
emulator's endpoint (its `responder` answers, or raises SageMaker runtime's errors), the
OpenAI-compatible fake as the API, metrics through CloudWatch Logs (EMF) into the fallback alarm."""

from __future__ import annotations

import time

import openai
import pytest

from client_helpers import GENEROUS_MS, LABELS, Lines
from emulator_helpers import NO_RETRIES, in_service
from emulator_helpers import emu, sm  # noqa: F401 (fixtures)
from localaws import invoke_faults
from localaws.openai_compatible import FakeOpenAI
from pinned_llama_client import (CallbackSink, CircuitBreaker, Classifier, CloudWatchLogsSink, LlamaUnavailable,
                                 Metrics, ParameterSettings, Reason)
from pinned_llama_client.settings import Mode, Routing, Serving, encode

pytestmark = pytest.mark.slow  # starts the emulator
NAME, PREFIX, LOG_GROUP = "dev-intent-3b", "/llama/dev/intent-3b/", "/llama/dev/intent-3b/client"
ALARM = "dev-intent-3b-fallback-rate"


@pytest.fixture
def world(emu, sm):
    in_service(emu, sm, NAME)
    emu.responder = lambda endpoint, version, payload: {"generated_text": "cancel_order"}
    ssm = emu.test_client("ssm")
    put = (lambda mode, percent=10, timeout_ms=GENEROUS_MS: ssm.put_parameter(
        Name=PREFIX + "routing", Type="String", Overwrite=True,
        Value=encode(Routing(mode, percent, 100, timeout_ms).document())))
    put(Mode.LLAMA)
    ssm.put_parameter(Name=PREFIX + "serving", Type="String",
                      Value=encode(Serving(NAME, "llama-3-2-3b-instruct", "v1", labels=LABELS, max_new_tokens=12)
                                   .document()))
    with FakeOpenAI(answer=lambda model, messages: "refund_request") as api:
        made = []

        def classifier(metrics=None, ttl_s=30.0, **kwargs) -> Classifier:
            c = Classifier(ParameterSettings(PREFIX, ssm, ttl_s=ttl_s),
                           openai.OpenAI(api_key="test-key", base_url=api.url, max_retries=0),
                           metrics=metrics or Metrics(CallbackSink(Lines())),
                           sagemaker_client=lambda timeout: emu.test_client("sagemaker-runtime", config=NO_RETRIES), seed=5, **kwargs)
            made.append(c)
            return c

        yield emu, put, classifier, api
        for c in made:
            c.close()


def test_each_mode_against_the_emulated_endpoint(world):
    emu, put, classifier, api = world
    for mode, served in ((Mode.API, {"api"}), (Mode.LLAMA, {"llama"}), (Mode.LLAMA_ONLY, {"llama"}),
                         (Mode.CANARY, {"api", "llama"}), (Mode.SHADOW, {"api"})):
        put(mode, 50)
        c = classifier()
        got = [c.classify("Please cancel the order") for _ in range(12)]
        assert {a.served_by for a in got} == served, mode
        assert all(a.label == ("cancel_order" if a.served_by == "llama" else "refund_request") for a in got)
    assert {e for e, _, _ in emu.invocations} == {NAME}


def fault(emu, error) -> None:
    def respond(endpoint, version, payload):
        if isinstance(error, Exception):
            raise error
        return error(endpoint)
    emu.responder = respond


@pytest.mark.parametrize("error, reason", [
    (invoke_faults.model_error(NAME, 500, {"code": 500, "type": "EngineException", "message": "CUDA error"}),
     Reason.ENDPOINT_ERROR),
    (invoke_faults.model_error(NAME, 503, {"code": 503, "type": "WlmCapacityException", "message": "queue full"}),
     Reason.THROTTLED),  # LMI's throttle status: retried, then the API
    (invoke_faults.throttling(), Reason.THROTTLED),
    (invoke_faults.not_ready(), Reason.THROTTLED),
    (invoke_faults.no_capacity(), Reason.SCALED_TO_ZERO),
    (lambda endpoint: {"generated_text": "I would say... refunds?"}, Reason.INVALID_LABEL),
    (lambda endpoint: time.sleep(1.5) or {"generated_text": "cancel_order"}, Reason.TIMEOUT),  # 500 ms deadline
])
def test_each_fallback_reason_against_the_emulated_endpoint(world, error, reason):
    emu, put, classifier, _ = world
    if reason is Reason.TIMEOUT:
        put(Mode.LLAMA, timeout_ms=500)  # only here a short deadline: load cannot make the others time out
    fault(emu, error)
    answer = classifier(breaker=CircuitBreaker(failure_threshold=50)).classify("Please cancel the order")
    assert (answer.served_by, answer.label, answer.fallback_reason) == ("api", "refund_request", reason)


def test_the_circuit_opens_on_an_outage_and_closes_when_the_endpoint_recovers(world):
    emu, _, classifier, _ = world
    clock = [0.0]
    c = classifier(breaker=CircuitBreaker(failure_threshold=3, open_seconds=10, clock=lambda: clock[0]))
    fault(emu, invoke_faults.model_error(NAME, 500, "CUDA error"))
    reasons = [c.classify("x").fallback_reason for _ in range(6)]
    assert reasons == [Reason.ENDPOINT_ERROR] * 3 + [Reason.CIRCUIT_OPEN] * 3
    calls = len(emu.invocations)
    emu.responder = lambda endpoint, version, payload: {"generated_text": "cancel_order"}
    assert c.classify("x").fallback_reason is Reason.CIRCUIT_OPEN and len(emu.invocations) == calls
    clock[0] += 10
    assert c.classify("x").served_by == "llama" and c.breaker.state == "closed"


def test_a_route_change_reaches_the_client_after_its_cache_ttl(world):
    emu, put, classifier, _ = world
    c = classifier(ttl_s=0.5)
    assert c.classify("x").served_by == "llama"
    put(Mode.API)
    time.sleep(0.6)
    assert c.classify("x").served_by == "api"


def test_llama_only_has_no_fallback(world):
    emu, put, classifier, api = world
    put(Mode.LLAMA_ONLY)
    fault(emu, invoke_faults.no_capacity())
    with pytest.raises(LlamaUnavailable):
        classifier().classify("x")
    assert api.requests == 0


def test_fallbacks_sent_as_emf_to_cloudwatch_logs_fire_the_alarm_and_it_clears(world):
    emu, _, classifier, _ = world
    logs, cw = emu.test_client("logs"), emu.test_client("cloudwatch")
    logs.create_log_group(logGroupName=LOG_GROUP)
    cw.put_metric_alarm(AlarmName=ALARM, Namespace="PinnedLlama/Client", MetricName="Fallback",
                        Dimensions=[{"Name": "Endpoint", "Value": NAME}], Statistic="Average", Period=60,
                        EvaluationPeriods=2, DatapointsToAlarm=2, Threshold=0.05,
                        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching")
    state = (lambda: cw.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0]["StateValue"])

    def traffic(count: int) -> None:
        sink = CloudWatchLogsSink(emu.test_client("logs"), LOG_GROUP, "app-1", interval_s=0.05)
        c = classifier(metrics=Metrics(sink, flush_interval_s=0.05), breaker=CircuitBreaker(failure_threshold=999))
        for _ in range(count):
            c.classify("x")
        c.close()
        assert sink.sent > 0 and sink.dropped == sink.failed == 0

    fault(emu, invoke_faults.model_error(NAME, 500, "CUDA error"))  # an outage
    for _ in range(2):  # two one-minute periods of fallbacks
        traffic(5)
        emu.advance(60)
    emu.advance(-1)  # still inside the second period
    assert state() == "ALARM"
    emu.responder = lambda endpoint, version, payload: {"generated_text": "cancel_order"}  # recovered
    emu.advance(61)
    traffic(5)
    assert state() == "OK"
