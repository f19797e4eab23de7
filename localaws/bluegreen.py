"""The blue/green deployment model behind the emulator: simulated time and the stages of an update.

`SimClock` is the emulator's clock (SageMaker statuses move on it, not on the wall clock),
`Timings` how long each phase takes on it, and `blue_green_stages()` the stages an
UpdateEndpoint goes through for its DeploymentConfig: the green fleet Creating, then
ActivatingTraffic per ALL_AT_ONCE / CANARY / LINEAR step, Baking for the wait interval,
and Baking for the termination wait. `endpoint_sim.py` walks an endpoint through them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass
class Timings:
    """Simulated seconds each phase takes. `wait_scale` multiplies the DeploymentConfig
    waits (WaitIntervalInSeconds, TerminationWaitInSeconds) so a 300 s bake can last 3 s."""

    create_s: float = 60.0  # Creating -> InService
    provision_s: float = 60.0  # an update's green fleet: Creating
    rollback_s: float = 30.0  # RollingBack -> InService
    wait_scale: float = 1.0


class SimClock:
    """Simulated seconds. speed=0: moves only by advance() (tests); speed>0: also follows
    the wall clock at that rate (the demo: speed=10 runs a 60 s creation in 6 s)."""

    def __init__(self, speed: float = 0.0) -> None:
        self.speed = speed
        self._offset = 0.0
        self._t0 = time.monotonic()
        self._base = datetime.now(UTC)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._offset + (time.monotonic() - self._t0) * self.speed

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def datetime(self, t: float) -> datetime:
        return self._base + timedelta(seconds=t)


@dataclass
class Stage:
    start: float
    end: float
    status: str  # ProductionVariantStatus: Creating | ActivatingTraffic | Baking
    message: str
    green_percent: int


def blue_green_stages(start: float, deployment_config: dict | None, timings: Timings) -> list[Stage]:
    t = start
    stages = [Stage(t, t + timings.provision_s, "Creating", "Creating the new (green) fleet", 0)]
    t += timings.provision_s
    policy = (deployment_config or {}).get("BlueGreenUpdatePolicy")
    if not policy:
        return stages
    routing = policy.get("TrafficRoutingConfiguration", {})
    kind = routing.get("Type", "ALL_AT_ONCE")
    wait = float(routing.get("WaitIntervalInSeconds", 0)) * timings.wait_scale
    steps: list[int] = [100]
    if kind == "CANARY":
        size = routing.get("CanarySize", {"Type": "CAPACITY_PERCENT", "Value": 10})
        steps = [int(size["Value"]) if size["Type"] == "CAPACITY_PERCENT" else 10, 100]
    elif kind == "LINEAR":
        size = routing.get("LinearStepSize", {"Type": "CAPACITY_PERCENT", "Value": 25})
        step = int(size["Value"]) if size["Type"] == "CAPACITY_PERCENT" else 25
        steps = list(range(step, 100, step)) + [100]
    for percent in steps:
        label = f"{kind}: {percent}% of traffic on the new fleet"
        stages.append(Stage(t, t, "ActivatingTraffic", label, percent))
        stages.append(Stage(t, t + wait, "Baking", f"{label}, waiting {wait:g} s", percent))
        t += wait
    termination = float(policy.get("TerminationWaitInSeconds", 0)) * timings.wait_scale
    stages.append(Stage(t, t + termination, "Baking", f"all traffic on the new fleet; old fleet terminates in {termination:g} s", 100))
    return stages


