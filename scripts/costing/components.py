"""Cost of a component endpoint: several adapters sharing one base, and the hours at zero.

Three ways to serve the same N adapters, each a `cost_model.Plan`, so the cost, the break-even and
the chart are computed as for any endpoint (cost_model.py states the model once):

- dedicated: one always-on endpoint per adapter (the adapter merged into its own model), each with
  the component endpoint's instance type: N instances around the clock at least;
- shared, always on: one base on the component endpoint's instances, never below one instance;
- shared, scale to zero (when the endpoint does): one instance while requests come, none otherwise.

Hours at zero: requests arrive during `hours_per_week`, in `periods_per_week` separate windows
(weekday working hours: 55 h in 5 windows). After each window the endpoint stays up for the idle
tail: copies go 15 minutes after the last request, the instance 10 minutes after that
(config/components.py SCALE_IN_IDLE_S, INSTANCE_IDLE_S). At the start of each window the first
requests fail for minutes while it comes back: `periods_per_week` cold starts a week.

Copies per instance: the instance's GPUs / the GPUs a copy takes (the base pin's tensor parallel
degree); the scaling target per copy times that is one instance's capacity. A dedicated fleet of
N endpoints is priced as one fleet of N to N x max instances (at low load each endpoint runs its
minimum; at peak the sum of the endpoints' ceilings is at most N more than the fleet's: ignored).
Promotions: a base promotion rolls one batch of copies at a time (one instance's worth, for
wait_seconds per batch); an adapter promotion swaps the archive in place and costs nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from config.catalog import INSTANCES
from config.components import INSTANCE_IDLE_S, SCALE_IN_IDLE_S, ComponentEndpoint, ComponentMetric
from config.environment import ScalingMetric
from config.pin import Pin
from scripts.costing.cost_model import HOURS_PER_WEEK, Level, Plan

TAIL_HOURS = (SCALE_IN_IDLE_S + INSTANCE_IDLE_S) / 3600


@dataclass(frozen=True)
class Activity:
    hours_per_week: float  # when requests arrive
    periods_per_week: float  # separate windows of requests: each ends with the idle tail

    @property
    def awake_hours(self) -> float:
        return min(HOURS_PER_WEEK, self.hours_per_week + self.periods_per_week * TAIL_HOURS)

    @property
    def zero_hours(self) -> float:
        return HOURS_PER_WEEK - self.awake_hours


@dataclass(frozen=True)
class Options:
    """The ways to serve one component endpoint's adapters, as plans."""

    endpoint: str
    adapters: int
    dedicated: Plan
    shared: Plan
    shared_to_zero: Plan | None  # None: the endpoint does not scale to zero
    activity: Activity

    @property
    def plans(self) -> list[Plan]:
        return [p for p in (self.dedicated, self.shared, self.shared_to_zero) if p is not None]


def options(key: str, endpoint: ComponentEndpoint, base: Pin, hourly: float, activity: Activity) -> Options:
    gpus = INSTANCES[endpoint.instance_type].gpus
    per_instance = max(1, gpus // base.serving.tensor_parallel_degree)
    top = min(endpoint.instances.max, math.ceil(endpoint.base.copies.max / per_instance))
    scaling = endpoint.base.scaling
    metric = (ScalingMetric.CONCURRENT_REQUESTS if scaling.metric is ComponentMetric.CONCURRENT_REQUESTS
              else ScalingMetric.INVOCATIONS_PER_INSTANCE)
    target = scaling.target * per_instance
    copies = endpoint.base.copies.min
    batches = math.ceil(max(1, copies) / endpoint.base.deployment.batch.copies(copies))
    overlap = batches * endpoint.base.deployment.wait_seconds / 3600
    n = max(1, len(endpoint.adapters))
    always = max(1, endpoint.instances.min)

    def plan(name: str, levels: list[Level], low: int, high: int) -> Plan:
        return Plan(name, endpoint.instance_type, hourly, metric, target, low, high, levels, 1, overlap)

    dedicated = plan(f"{key}: {n} dedicated endpoint(s)", [Level("dedicated", n, n * top, HOURS_PER_WEEK)], n, n * top)
    shared = plan(f"{key}: {n} adapter(s) on one base", [Level("instances", always, top, HOURS_PER_WEEK)], always, top)
    to_zero = None
    if endpoint.scales_to_zero:
        to_zero = plan(f"{key}: one base, scale to zero", [Level("awake", 1, top, activity.awake_hours),
                                                             Level("at zero", 0, 0, activity.zero_hours)], 0, top)
    return Options(key, n, dedicated, shared, to_zero, activity)

