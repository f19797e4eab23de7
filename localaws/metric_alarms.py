"""Metrics from Embedded Metric Format log events, and the alarms on them, on the simulated clock.

CloudWatch Logs extracts metrics from a log event in EMF (CloudWatch docs, "Specification:
Embedded metric format"): the root's `_aws.CloudWatchMetrics` is a list of directives, each with a
`Namespace`, `Dimensions` (a list of dimension sets, each a list of root member names whose values
are strings) and `Metrics` (`Name`, optional `Unit`); a metric's value is the root member of that
name, a number or an array of up to 100 numbers (each one a datapoint). A directive whose members
are missing or of the wrong type yields no metric (the event is still stored as a log).
`ingest()` does that for the events PutLogEvents stores (moto_patches/logs.py), stamping each
datapoint with the simulated time it arrived, so alarm periods pass at the clock's speed.

`evaluate()` then does for the alarms on those namespaces what CloudWatch does every minute
("Evaluating an alarm"): the `Statistic` (Average, Sum, SampleCount, Minimum, Maximum) of each of
the last `EvaluationPeriods` periods of `Period` seconds, the current one included; ALARM when
`DatapointsToAlarm` of them breach the threshold, OK when none does; a period without datapoints
follows `TreatMissingData` (missing, notBreaching, breaching, ignore). Not modelled: percentiles,
metric math, anomaly detection, `EvaluateLowSampleCountPercentile`, alarms on metrics nobody
sends here (SageMaker's own keep changing only by SetAlarmState).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

STATISTICS: dict[str, Callable[[list[float]], float]] = {
    "Average": lambda v: sum(v) / len(v), "Sum": sum, "SampleCount": lambda v: float(len(v)),
    "Minimum": min, "Maximum": max}
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": lambda v, t: v > t, "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t, "LessThanOrEqualToThreshold": lambda v, t: v <= t}


@dataclass(frozen=True)
class Datapoint:
    at: float  # simulated seconds
    namespace: str
    name: str
    dimensions: frozenset[tuple[str, str]]
    value: float


class MetricStore:
    def __init__(self, clock_now: Callable[[], float]) -> None:
        self._now = clock_now
        self._points: list[Datapoint] = []
        self._lock = threading.Lock()

    @property
    def namespaces(self) -> set[str]:
        with self._lock:
            return {p.namespace for p in self._points}

    def ingest(self, message: str) -> int:
        """Datapoints extracted from one log event (0 if it is not EMF)."""
        try:
            root = json.loads(message)
            directives = root["_aws"]["CloudWatchMetrics"]
        except (ValueError, KeyError, TypeError):
            return 0
        points = []
        now = self._now()
        for directive in directives if isinstance(directives, list) else []:
            points += _directive_points(root, directive, now)
        with self._lock:
            self._points += points
        return len(points)

    def values(self, namespace: str, name: str, dimensions: dict[str, str], start: float, end: float) -> list[float]:
        """Datapoints of that exact dimension set with start <= at < end."""
        wanted = frozenset(dimensions.items())
        with self._lock:
            return [p.value for p in self._points if p.namespace == namespace and p.name == name
                    and p.dimensions == wanted and start <= p.at < end]


def _directive_points(root: dict[str, Any], directive: Any, now: float) -> list[Datapoint]:
    try:
        namespace, dimension_sets, metrics = directive["Namespace"], directive["Dimensions"], directive["Metrics"]
    except (KeyError, TypeError):
        return []
    points = []
    for keys in dimension_sets:
        if not all(isinstance(root.get(k), str) for k in keys):
            continue
        dims = frozenset((k, root[k]) for k in keys)
        for metric in metrics:
            name = metric.get("Name") if isinstance(metric, dict) else None
            value = root.get(name) if name else None
            values = value if isinstance(value, list) else [value]
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                points += [Datapoint(now, namespace, name, dims, float(v)) for v in values]
    return points


def evaluate(store: MetricStore, alarms: list[Any], set_state: Callable[[str, str, str], None]) -> list[str]:
    """Evaluate the metric alarms (moto `Alarm`s) whose namespace has EMF datapoints; returns the
    names whose state changed."""
    now, namespaces, changed = store._now(), store.namespaces, []
    for alarm in alarms:
        if alarm.namespace not in namespaces or alarm.statistic not in STATISTICS or not alarm.period:
            continue
        state, reason = _state(store, alarm, now)
        if state is not None and state != alarm.state_value:
            set_state(alarm.name, reason, state)
            changed.append(alarm.name)
    return changed


def _state(store: MetricStore, alarm: Any, now: float) -> tuple[str | None, str]:
    period, periods = int(alarm.period), int(alarm.evaluation_periods)
    needed = int(alarm.datapoints_to_alarm or periods)
    dims = {d.name: d.value for d in alarm.dimensions}
    current = int(now // period) * period
    breaching, seen, values = 0, 0, []
    for i in range(periods):
        start = current - i * period
        points = store.values(alarm.namespace, alarm.metric_name, dims, start, start + period)
        if points:
            value = STATISTICS[alarm.statistic](points)
            values.append(round(value, 4))
            seen += 1
            breaching += OPERATORS[alarm.comparison_operator](value, float(alarm.threshold))
        elif alarm.treat_missing_data == "breaching":
            breaching += 1
    if breaching >= needed:
        return "ALARM", f"Threshold Crossed: {breaching} of the last {periods} datapoints {values} breached {alarm.threshold}"
    if seen == 0 and alarm.treat_missing_data in (None, "missing"):
        return "INSUFFICIENT_DATA", "no datapoints"
    if seen == 0 and alarm.treat_missing_data == "ignore":
        return None, ""
    return "OK", f"Threshold not crossed: datapoints {values} within {alarm.threshold}"
