"""The emulator's EMF extraction and the evaluation of alarms on those metrics (localaws/metric_alarms.py),
on hand-made events as the EMF specification writes them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from localaws.metric_alarms import MetricStore, evaluate

NS = "PinnedLlama/Client"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def event(dimensions: list[list[str]], metrics: list[str], **members) -> str:
    return json.dumps({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [
        {"Namespace": NS, "Dimensions": dimensions, "Metrics": [{"Name": m, "Unit": "None"} for m in metrics]}]},
        **members})


def test_each_value_of_an_array_is_a_datapoint_in_every_dimension_set():
    store = MetricStore(Clock())
    n = store.ingest(event([["Endpoint"], ["Endpoint", "Route"]], ["Fallback"], Endpoint="e", Route="llama",
                           Fallback=[0, 1, 1]))
    assert n == 6
    assert store.values(NS, "Fallback", {"Endpoint": "e"}, 0, 60) == [0, 1, 1]
    assert store.values(NS, "Fallback", {"Endpoint": "e", "Route": "llama"}, 0, 60) == [0, 1, 1]


@pytest.mark.parametrize("message", [
    "not json", json.dumps({"no": "directive"}),
    event([["Endpoint"]], ["Fallback"], Fallback=[1]),  # the dimension's member is missing
    event([["Endpoint"]], ["Fallback"], Endpoint="e", Fallback="high"),  # not a number
    event([["Endpoint"]], ["Fallback"], Endpoint="e", Fallback=True),  # a boolean is not a number
])
def test_what_is_not_valid_emf_yields_no_metric(message):
    assert MetricStore(Clock()).ingest(message) == 0


@dataclass
class Alarm:
    name: str = "e-fallback-rate"
    namespace: str = NS
    metric_name: str = "Fallback"
    statistic: str = "Average"
    period: int = 60
    evaluation_periods: int = 2
    datapoints_to_alarm: int = 2
    threshold: float = 0.05
    comparison_operator: str = "GreaterThanThreshold"
    treat_missing_data: str = "notBreaching"
    state_value: str = "OK"
    dimensions: list = field(default_factory=lambda: [type("D", (), {"name": "Endpoint", "value": "e"})()])


def run(store: MetricStore, alarm: Alarm) -> list[str]:
    def set_state(name, reason, state):
        alarm.state_value = state
    return evaluate(store, [alarm], set_state)


def test_the_alarm_fires_when_every_period_breaches_and_clears_after():
    clock = Clock()
    store, alarm = MetricStore(clock), Alarm()
    store.ingest(event([["Endpoint"]], ["Fallback"], Endpoint="e", Fallback=[1, 1, 0]))
    assert run(store, alarm) == [] and alarm.state_value == "OK"  # one period of two
    clock.now = 60
    store.ingest(event([["Endpoint"]], ["Fallback"], Endpoint="e", Fallback=[1]))
    assert run(store, alarm) == ["e-fallback-rate"] and alarm.state_value == "ALARM"
    clock.now = 120
    store.ingest(event([["Endpoint"]], ["Fallback"], Endpoint="e", Fallback=[0, 0]))
    assert run(store, alarm) == ["e-fallback-rate"] and alarm.state_value == "OK"


def test_missing_data_follows_treat_missing_data():
    clock = Clock()
    store = MetricStore(clock)
    store.ingest(event([["Other"]], ["Fallback"], Other="x", Fallback=[1]))  # the namespace has data, not this one
    breaching = Alarm(treat_missing_data="breaching")
    run(store, breaching)
    assert breaching.state_value == "ALARM"
    missing = Alarm(treat_missing_data="missing")
    run(store, missing)
    assert missing.state_value == "INSUFFICIENT_DATA"
    ignored = Alarm(treat_missing_data="ignore")
    assert run(store, ignored) == [] and ignored.state_value == "OK"


def test_alarms_on_metrics_nobody_sends_here_are_left_alone():
    store = MetricStore(Clock())
    store.ingest(event([["Endpoint"]], ["Fallback"], Endpoint="e", Fallback=[1]))
    sagemaker = Alarm(name="e-5xx", namespace="AWS/SageMaker", state_value="ALARM")
    assert run(store, sagemaker) == [] and sagemaker.state_value == "ALARM"
