"""Monthly cost of an endpoint against a per-token API, and the break-even volume.

The model, stated once (docs/cost.md explains it with a worked example):

- A month is 730 hours (AWS's billing convention, 8760 / 12); a week is 168 hours,
  so weekly figures scale by 730 / 168.
- Base fleet: the minimum instance count in force runs around the clock. Without
  schedules that is `instances.min` all week; with schedules, each schedule's min
  for the hours it is in force (a schedule holds from its cron until the next one
  fires, in its own time zone; the week is placed on 6-12 January 2025, which has no
  DST change).
- Scale-out: peak load = average load x `peak_factor`, where the average spreads the
  month's calls over 730 hours. In the scaling metric's unit:
  invocations-per-instance -> peak calls per minute;
  concurrent-requests -> peak calls per second x latency (Little's law).
  Instances needed = ceil(peak load / autoscaling target), the target taken as one
  instance's capacity. During `busy_hours_per_week` the fleet runs
  clamp(needed, min, max) of the schedule in force; busy hours are placed in the
  schedules with the highest max first (the operator sized those for the traffic).
  Outside busy hours the load is assumed to fit the minimum.
- Promotions: during blue/green both fleets are billed. Per promotion the new fleet
  (`instances.min` instances) overlaps the old for the wait interval(s) plus the
  baking period: canary and all-at-once one wait, linear one wait per step.
  Provisioning time before traffic shifts is not counted.
- API: calls x (input tokens x input price + output tokens x output price) / 1M.
- Not modelled: shadow variants (the `cost` command warns when one is configured), data capture storage,
  CloudWatch, S3, KMS, data transfer, Savings Plans, the team's time.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from config.environment import Deployment, Endpoint, ScalingMetric, Strategy
from config.schedule import ScalingSchedule, is_weekly, weekly_firings

HOURS_PER_MONTH = 730.0
HOURS_PER_WEEK = 168.0
WEEKS_PER_MONTH = HOURS_PER_MONTH / HOURS_PER_WEEK
MINUTES_PER_WEEK = 7 * 24 * 60
REFERENCE_MONDAY = date(2025, 1, 6)  # no DST change that week, north or south


class NotWeekly(ValueError):
    def __init__(self, index: int, schedule: ScalingSchedule):
        super().__init__(f"schedule '{schedule.name}' ({schedule.cron}) does not repeat weekly")
        self.index, self.schedule = index, schedule


@dataclass(frozen=True)
class Level:
    """Bounds in force for part of the week."""

    name: str  # schedule name, or "instances" without schedules
    min: int
    max: int
    hours_per_week: float


def weekly_levels(min_instances: int, max_instances: int, schedules: list[ScalingSchedule]) -> list[Level]:
    """Hours per week each schedule (or the plain instances bounds) is in force.

    Steady state of a weekly cycle: before a week's first firing, the previous
    week's last schedule is in force. Schedules firing at the same minute: the
    later one in the list wins, as it would be applied last.
    """
    if not schedules:
        return [Level("instances", min_instances, max_instances, HOURS_PER_WEEK)]
    week_start = datetime.combine(REFERENCE_MONDAY, time(0), tzinfo=timezone.utc)
    events: list[tuple[int, int]] = []
    for index, schedule in enumerate(schedules):
        if not is_weekly(schedule.cron):
            raise NotWeekly(index, schedule)
        zone = ZoneInfo(schedule.timezone)
        for weekday, hour, minute in weekly_firings(schedule.cron):
            local = datetime.combine(REFERENCE_MONDAY + timedelta(days=weekday), time(hour, minute), tzinfo=zone)
            offset = int((local - week_start).total_seconds() // 60) % MINUTES_PER_WEEK
            events.append((offset, index))
    events.sort()
    minutes: dict[int, int] = defaultdict(int)
    current, previous = events[-1][1], 0
    for offset, index in events:
        minutes[current] += offset - previous
        current, previous = index, offset
    minutes[current] += MINUTES_PER_WEEK - previous
    return [Level(s.name, s.min, s.max, minutes[i] / 60) for i, s in enumerate(schedules)]


@dataclass(frozen=True)
class Workload:
    calls_per_month: float
    input_tokens: float
    output_tokens: float
    peak_factor: float = 3.0
    busy_hours_per_week: float = 55.0  # 08:00-19:00 on weekdays
    latency_seconds: float = 0.5  # per request; only the concurrent-requests metric needs it

    def with_calls(self, calls: float) -> "Workload":
        return Workload(calls, self.input_tokens, self.output_tokens, self.peak_factor,
                        self.busy_hours_per_week, self.latency_seconds)


def peak_load(workload: Workload, metric: ScalingMetric) -> float:
    """Peak load in the scaling metric's unit (per endpoint, before dividing by instances)."""
    peak_per_second = workload.calls_per_month / (HOURS_PER_MONTH * 3600) * workload.peak_factor
    if metric is ScalingMetric.CONCURRENT_REQUESTS:
        return peak_per_second * workload.latency_seconds
    return peak_per_second * 60


def overlap_hours(deployment: Deployment, fleet: int) -> float:
    """Hours both fleets run during one promotion: wait interval(s) + baking."""
    waits = 1
    step = deployment.linear_step
    if deployment.strategy is Strategy.LINEAR and step is not None:
        waits = (math.ceil(100 / step.value) if step.type == "capacity-percent"
                 else math.ceil(fleet / step.value))
    return (waits * deployment.wait_seconds + deployment.baking_seconds) / 3600


@dataclass(frozen=True)
class Plan:
    """What the cost of one endpoint depends on, taken from its config and the price book."""

    name: str
    instance_type: str
    hourly: float
    metric: ScalingMetric
    target: float
    min_instances: int
    max_instances: int
    levels: list[Level]
    promotion_fleet: int
    promotion_overlap_hours: float

    @classmethod
    def of(cls, name: str, endpoint: Endpoint, hourly: float) -> "Plan":
        levels = weekly_levels(endpoint.instances.min, endpoint.instances.max, endpoint.autoscaling.schedules)
        fleet = endpoint.instances.min
        return cls(name, endpoint.instance_type, hourly, endpoint.autoscaling.metric, endpoint.autoscaling.target,
                   endpoint.instances.min, endpoint.instances.max, levels, fleet,
                   overlap_hours(endpoint.deployment, fleet))

    @property
    def top_max(self) -> int:
        return max(level.max for level in self.levels)


@dataclass(frozen=True)
class Cost:
    plan: Plan
    calls_per_month: float
    instances_needed: int
    base_instance_hours: float  # per month
    scale_out_instance_hours: float  # per month
    promotion_instance_hours: float  # per month
    capacity_exceeded: bool  # peak needs more than the max in force during busy hours
    busy_hours_placed: dict[str, float] = field(default_factory=dict)  # per week, by level

    @property
    def instance_hours(self) -> float:
        return self.base_instance_hours + self.scale_out_instance_hours + self.promotion_instance_hours

    @property
    def monthly(self) -> float:
        return self.instance_hours * self.plan.hourly

    @property
    def base_monthly(self) -> float:
        return self.base_instance_hours * self.plan.hourly

    @property
    def scale_out_monthly(self) -> float:
        return self.scale_out_instance_hours * self.plan.hourly

    @property
    def promotion_monthly(self) -> float:
        return self.promotion_instance_hours * self.plan.hourly


def busy_levels(plan: Plan, busy_hours_per_week: float) -> list[tuple[Level, float]]:
    """(level, busy hours per week in it): the busy hours go to the highest max first."""
    placed, remaining = [], busy_hours_per_week
    for level in sorted(plan.levels, key=lambda lv: (-lv.max, -lv.min)):
        hours = min(remaining, level.hours_per_week)
        if hours > 0:
            placed.append((level, hours))
            remaining -= hours
    return placed


def endpoint_cost(plan: Plan, workload: Workload, promotions_per_month: float) -> Cost:
    load = peak_load(workload, plan.metric)
    needed = math.ceil(load / plan.target - 1e-9) if load > 0 else 0
    base_week = sum(level.min * level.hours_per_week for level in plan.levels)
    extra_week = 0.0
    exceeded = False
    placed: dict[str, float] = {}
    for level, hours in busy_levels(plan, workload.busy_hours_per_week):
        placed[level.name] = hours
        fleet = min(max(needed, level.min), level.max)
        exceeded = exceeded or needed > level.max
        extra_week += (fleet - level.min) * hours
    return Cost(plan, workload.calls_per_month, needed, base_week * WEEKS_PER_MONTH, extra_week * WEEKS_PER_MONTH,
                promotions_per_month * plan.promotion_fleet * plan.promotion_overlap_hours, exceeded, placed)


def capacity_calls_per_month(plan: Plan, workload: Workload) -> float:
    """Calls per month the fleet can serve at peak, by the target: the lowest max among the
    schedules the busy hours fall into (the top max without schedules)."""
    per_call = peak_load(workload.with_calls(1), plan.metric)
    placed = busy_levels(plan, workload.busy_hours_per_week)
    fleet = min((level.max for level, _ in placed), default=plan.top_max)
    return fleet * plan.target / per_call if per_call > 0 else math.inf


@dataclass(frozen=True)
class BreakEven:
    """Where the API line meets the endpoint's step curve.

    `calls_per_month`: the first volume at which the API costs as much as the
    endpoint. Each added instance raises the endpoint's cost by a step, which can
    put the API back below it for a while; `for_good_calls` is the volume from
    which the endpoint stays cheaper (equal to the first when there is no re-crossing).
    None: the API costs nothing for this workload, so there is no break-even.
    """

    calls_per_month: float | None
    hosted_monthly: float  # the endpoint's monthly cost at the first break-even
    beyond_capacity: bool  # at the first break-even the peak needs more than the max instances
    for_good_calls: float | None = None
    for_good_monthly: float = 0.0
    for_good_beyond_capacity: bool = False


def cost_steps(plan: Plan, workload: Workload, promotions_per_month: float) -> list[tuple[float, float, float]]:
    """(from calls, to calls, monthly cost) for each fleet size k = 1 .. top max, then beyond capacity.

    Step k holds while ceil(peak load / target) = k: calls in (from, to].
    """
    per_call_load = peak_load(workload.with_calls(1), plan.metric)
    steps, low = [], 0.0
    for k in range(1, plan.top_max + 1):
        high = k * plan.target / per_call_load
        steps.append((low, high, endpoint_cost(plan, workload.with_calls((low + high) / 2), promotions_per_month).monthly))
        low = high
    steps.append((low, math.inf, endpoint_cost(plan, workload.with_calls(low * 2 + 1), promotions_per_month).monthly))
    return steps


def break_even(plan: Plan, workload: Workload, api_per_call: float, promotions_per_month: float) -> BreakEven:
    """Volumes at which the API (a line through zero) meets the endpoint's cost (a step function)."""
    steps = cost_steps(plan, workload, promotions_per_month)
    if api_per_call <= 0:
        return BreakEven(None, steps[0][2], False, None, steps[0][2], False)
    capacity = capacity_calls_per_month(plan, workload)
    first = None
    for low, high, hosted in steps:
        crossing = hosted / api_per_call
        if crossing <= high:
            first = (max(crossing, low), hosted)
            break
    assert first is not None  # the last step is unbounded
    # The API is cheaper on (low, min(crossing, high)) of every step whose crossing lies above its start.
    good = max(((min(hosted / api_per_call, high), hosted) for low, high, hosted in steps if hosted / api_per_call > low),
               default=first)
    return BreakEven(first[0], first[1], first[0] > capacity, good[0], good[1], good[0] > capacity)
