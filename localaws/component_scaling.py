"""Copies and instances of endpoints that host inference components, to zero and back, on the clock.

What the emulator models, from the developer guide ("Scale an endpoint to zero instances") and the
AWS ML blog on scaling down to zero:

- copies: UpdateInferenceComponentRuntimeConfig, or a scalable target on `inference-component/<name>`
  (registered from CloudFormation, `cfn_resources.py`). New copies need instances first (the
  variant's ManagedInstanceScaling adds them up to MaxInstanceCount, `instance_s` each time), then
  the model load (`load_s`); removing copies is immediate;
- to zero: with a target-tracking policy on a target whose MinCapacity is 0, copies go to 0 after
  `idle_to_zero_s` without a request to any component of the endpoint (target tracking's scale-in
  alarm: 15 minutes of low load); the instances follow `instance_idle_s` later when the variant's
  MinInstanceCount is 0;
- back from zero: a request that finds no copy fails (ValidationError) and counts one
  NoCapacityInvocationFailures for the component asked. An alarm whose metrics (or metric math)
  read that metric for that component goes to ALARM `alarm_s` later (one 1-minute datapoint), and
  its actions run: a step scaling policy's ChangeInCapacity adjustment (capped at the target's
  MaxCapacity) adds copies, which come up as above. The alarm returns to OK with the first minute
  without a failure after the one that had it (here: two minutes after the last failure). This is the
  only alarm the emulator evaluates from a metric; every other alarm changes only by SetAlarmState.

Not modelled: cooldowns, scale-out by target tracking (load is not simulated), per-copy placement
across instances beyond GPU counts.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from config.catalog import INSTANCES
from localaws.moto_backends import autoscaling_backend, cloudwatch_backend

if TYPE_CHECKING:
    from localaws.inference_components import Component, ComponentSimulator

NO_CAPACITY = "NoCapacityInvocationFailures"
DIMENSION = "sagemaker:inference-component:DesiredCopyCount"


class ComponentScaler:
    def __init__(self, sim: ComponentSimulator) -> None:
        self.sim = sim
        self.instances: dict[str, int] = {}  # endpoint -> instances of its variant now
        self.zero_since: dict[str, float] = {}  # endpoint -> when its last copy went
        self.last_request: dict[str, float] = {}  # endpoint -> last InvokeEndpoint
        self.failures: dict[str, float] = {}  # component -> last request that found no capacity
        self.waking: dict[str, float] = {}  # alarm name -> when it goes to ALARM

    # ----- instances of a variant
    def _gpus(self, endpoint: str) -> int:
        instance = INSTANCES.get(self.sim.variant(endpoint).get("InstanceType", ""))
        return instance.gpus if instance else 1

    def _bounds(self, endpoint: str) -> tuple[int, int]:
        variant = self.sim.variant(endpoint)
        managed = variant.get("ManagedInstanceScaling") or {}
        initial = int(variant.get("InitialInstanceCount", 1))
        if managed.get("Status") == "ENABLED":
            return int(managed.get("MinInstanceCount", initial)), int(managed.get("MaxInstanceCount", initial))
        return initial, initial

    def current_instances(self, endpoint: str) -> int:
        if endpoint not in self.instances:
            self.instances[endpoint] = int(self.sim.variant(endpoint).get("InitialInstanceCount", 1))
        return self.instances[endpoint]

    def _needed(self, endpoint: str, copies_by_component: dict[str, int]) -> int:
        accelerators = sum(int(((self.sim.components[name].spec.get("ComputeResourceRequirements") or {})
                                .get("NumberOfAcceleratorDevicesRequired") or 1)) * copies
                           for name, copies in copies_by_component.items())
        return math.ceil(accelerators / self._gpus(endpoint))

    def _copies_with(self, component: Component, copies: int) -> dict[str, int]:
        found = {c.name: c.desired for c in self.sim.on_endpoint(component.endpoint) if not c.is_adapter}
        found[component.name] = copies
        return found

    def placement_problem(self, component: Component, copies: int) -> str | None:
        """The copies do not fit the variant's maximum instances (GPUs per instance x MaxInstanceCount)."""
        needed = self._needed(component.endpoint, self._copies_with(component, copies))
        _, most = self._bounds(component.endpoint)
        if needed > most:
            return (f"Insufficient capacity: {copies} copies need {needed} instance(s), the variant holds at most "
                    f"{most} (ManagedInstanceScaling.MaxInstanceCount)")
        return None

    def start_delay(self, component: Component, copies: int) -> float:
        """Instances first, if the variant needs more for these copies, then the model load."""
        needed = self._needed(component.endpoint, self._copies_with(component, copies))
        have = self.current_instances(component.endpoint)
        if needed > have:
            self.instances[component.endpoint] = needed
            return self.sim.timings.instance_s + self.sim.timings.load_s
        return self.sim.timings.load_s

    # ----- copies
    def set_copies(self, component: Component, copies: int, now: float) -> None:
        if copies < 0:
            from localaws.moto_backends import validation_error

            raise validation_error(f"CopyCount {copies} must be at least 0.")
        problem = self.placement_problem(component, copies)
        if problem:
            from localaws.moto_backends import validation_error

            raise validation_error(problem)
        component.desired = copies
        if copies <= component.current:
            component.current, component.ready_at = copies, None
        else:
            component.ready_at = now + self.start_delay(component, copies)
        if component.status == "InService" and component.ready_at is not None:
            self.sim._set(component, "Updating")
        self._note_zero(component.endpoint, now)

    def settle(self, component: Component, now: float) -> None:
        """Copies asked for are up once their instances and model load are done."""
        if component.ready_at is not None and now >= component.ready_at and component.rolling is None:
            component.current, component.ready_at = component.desired, None
            self.zero_since.pop(component.endpoint, None)
            if component.status == "Updating":
                self.sim._set(component, "InService")

    def _note_zero(self, endpoint: str, now: float) -> None:
        bases = [c for c in self.sim.on_endpoint(endpoint) if not c.is_adapter]
        if bases and all(c.desired == 0 for c in bases):
            self.zero_since.setdefault(endpoint, now)
        else:
            self.zero_since.pop(endpoint, None)

    # ----- requests
    def invoked(self, endpoint: str, now: float) -> None:
        self.last_request[endpoint] = now

    def no_capacity(self, component: Component, now: float) -> None:
        """One NoCapacityInvocationFailures datapoint for `component`: the alarms reading it go to ALARM
        `alarm_s` later (unless they are already in ALARM or on their way)."""
        self.failures[component.name] = now
        for alarm in cloudwatch_backend(self.sim.account_id, self.sim.region).alarms.values():
            if component.name in _watched_components(alarm) and alarm.state_value != "ALARM":
                self.waking.setdefault(alarm.name, now + self.sim.timings.alarm_s)

    # ----- over time
    def tick(self, now: float) -> None:
        self._alarms(now)
        self._idle(now)

    def _alarms(self, now: float) -> None:
        alarms = cloudwatch_backend(self.sim.account_id, self.sim.region).alarms
        for name, due in list(self.waking.items()):
            if now >= due:
                del self.waking[name]
                alarm = alarms.get(name)
                if alarm is not None:
                    alarm.update_state(f"{NO_CAPACITY} >= 1 (emulator)", "{}", "ALARM")
                    self._run_actions(alarm, now)
        for alarm in alarms.values():
            watched = _watched_components(alarm)
            if watched and alarm.state_value == "ALARM" and alarm.name not in self.waking and \
                    all(now - self.failures.get(c, -math.inf) >= 2 * self.sim.timings.alarm_s for c in watched):
                # the next minute's datapoint, without a failure, brings it back
                alarm.update_state("no request found no capacity in the last minute (emulator)", "{}", "OK")

    def _run_actions(self, alarm, now: float) -> None:
        backend = autoscaling_backend(self.sim.account_id, self.sim.region)
        for arn in alarm.alarm_actions or []:
            policy = next((p for p in backend.policies.values() if p.policy_arn == arn), None)
            config = policy.step_scaling_policy_configuration if policy is not None else None
            name = policy.resource_id.removeprefix("inference-component/") if policy is not None else ""
            component = self.sim.components.get(name)
            if not config or component is None or config.get("AdjustmentType") != "ChangeInCapacity":
                continue
            step = sum(int(s.get("ScalingAdjustment", 0)) for s in config.get("StepAdjustments", [])
                       if float(s.get("MetricIntervalLowerBound", -math.inf)) <= 0)
            target = backend.targets.get(DIMENSION, {}).get(policy.resource_id)
            most = target.max_capacity if target is not None and target.max_capacity is not None else component.desired
            wanted = min(int(most), component.desired + step)
            if wanted > component.desired and component.status == "InService":
                self.set_copies(component, wanted, now)

    def _idle(self, now: float) -> None:
        targets = autoscaling_backend(self.sim.account_id, self.sim.region).targets.get(DIMENSION, {})
        policies = autoscaling_backend(self.sim.account_id, self.sim.region).policies.values()
        for component in list(self.sim.components.values()):
            target = targets.get(f"inference-component/{component.name}")
            tracked = any(p.resource_id == f"inference-component/{component.name}" and
                          p.target_tracking_scaling_policy_configuration for p in policies)
            if component.is_adapter or target is None or not tracked or component.status != "InService":
                continue
            lowest = int(target.min_capacity or 0)
            quiet = now - self.last_request.get(component.endpoint, component.modified)
            if component.desired > lowest and quiet >= self.sim.timings.idle_to_zero_s:
                self.set_copies(component, lowest, now)
        for endpoint, since in list(self.zero_since.items()):
            low, _ = self._bounds(endpoint)
            if low == 0 and now - since >= self.sim.timings.instance_idle_s:
                self.instances[endpoint] = 0


def _watched_components(alarm) -> set[str]:
    """Components whose NoCapacityInvocationFailures the alarm reads (directly or in metric math)."""
    found = set()
    if alarm.metric_name == NO_CAPACITY:
        found |= {d.value for d in alarm.dimensions if d.name == "InferenceComponentName"}
    for query in alarm.metric_data_queries or []:
        stat = getattr(query, "metric_stat", None)
        metric = getattr(stat, "metric", None)
        if metric is not None and metric.metric_name == NO_CAPACITY:
            found |= {d.value for d in metric.dimensions if d.name == "InferenceComponentName"}
    return found
