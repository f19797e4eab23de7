"""Environment config: one AWS account/region and its endpoints (`environments/<name>.yaml`).

Ranges below are SageMaker's own (see ../shared/SAGEMAKER_NOTES.md and the
API reference); a value outside them would pass `cdk synth` and fail in
CloudFormation an hour later, so they are refused here.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import TYPE_CHECKING, Literal

from pydantic import EmailStr, Field, PositiveInt, model_validator

from config import naming
from config.errors import Invalid, raise_all
from config.evaluation import Evaluation
from config.fields import BUCKET_NAME, INSTANCE_TYPE, REGION, ResourceName, Strict, Version
from config.routing import Routing, routing_problems, stack_name_problems
from config.schedule import ScalingSchedule

if TYPE_CHECKING:  # config/components.py imports this module; it completes Environment when imported
    from config.components import ComponentEndpoint

# One variant name for every version: deployment guardrails need the same
# variant name in the old and the new endpoint config.
VARIANT_NAME = "primary"
# The optional shadow variant (ShadowProductionVariants): gets a copy of every request, answers nobody.
SHADOW_VARIANT_NAME = "shadow"


class ScalingMetric(str, Enum):
    """Application Auto Scaling predefined metrics for SageMaker variants."""

    CONCURRENT_REQUESTS = "concurrent-requests"  # ...PerModelHighResolution: 10 s, best for LLMs
    INVOCATIONS_PER_INSTANCE = "invocations-per-instance"

    @property
    def predefined_metric(self) -> str:
        return {
            ScalingMetric.CONCURRENT_REQUESTS: "SageMakerVariantConcurrentRequestsPerModelHighResolution",
            ScalingMetric.INVOCATIONS_PER_INSTANCE: "SageMakerVariantInvocationsPerInstance",
        }[self]

    @property
    def cdk_name(self) -> str:
        """The member name in aws_cdk.aws_applicationautoscaling.PredefinedMetric."""
        return {
            ScalingMetric.CONCURRENT_REQUESTS: "SAGEMAKER_VARIANT_CONCURRENT_REQUESTS_PER_MODEL_HIGH_RESOLUTION",
            ScalingMetric.INVOCATIONS_PER_INSTANCE: "SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE",
        }[self]


class Strategy(str, Enum):
    CANARY = "canary"
    LINEAR = "linear"
    ALL_AT_ONCE = "all-at-once"

    @property
    def traffic_routing_type(self) -> str:
        return self.value.upper().replace("-", "_")


class Instances(Strict):
    initial: PositiveInt
    min: PositiveInt
    max: PositiveInt = Field(le=100)

    @model_validator(mode="after")
    def _ordered(self) -> "Instances":
        if not self.min <= self.initial <= self.max:
            raise Invalid(f"need min <= initial <= max, got {self.min} / {self.initial} / {self.max}",
                          "set instances so that min <= initial <= max")
        return self


class Autoscaling(Strict):
    metric: ScalingMetric = ScalingMetric.CONCURRENT_REQUESTS
    target: float = Field(gt=0, description="per-instance concurrent requests or invocations per minute")
    scale_out_cooldown_seconds: int = Field(default=60, ge=0, le=3600)
    scale_in_cooldown_seconds: int = Field(default=600, ge=0, le=3600)
    # Scheduled actions (e.g. scale down outside working hours); checked against
    # the endpoint's instances in Endpoint._schedules_fit_fleet.
    schedules: list[ScalingSchedule] = Field(default_factory=list, max_length=20)


class TrafficSize(Strict):
    type: Literal["instance-count", "capacity-percent"]
    value: PositiveInt

    @property
    def cfn_type(self) -> str:
        return self.type.upper().replace("-", "_")


class Deployment(Strict):
    """Blue/green deployment guardrails (UpdateEndpoint DeploymentConfig)."""

    strategy: Strategy = Strategy.CANARY
    canary_size: TrafficSize | None = None
    linear_step: TrafficSize | None = None
    wait_seconds: int = Field(default=600, ge=0, le=3600, description="WaitIntervalInSeconds")
    baking_seconds: int = Field(default=600, ge=0, le=3600, description="TerminationWaitInSeconds")
    # 7200: the default timeouts (1800 s download + 1800 s start-up) plus the default waits fit in it.
    max_execution_seconds: int = Field(default=7200, ge=600, le=28800,
                                       description="MaximumExecutionTimeoutInSeconds")

    @model_validator(mode="after")
    def _sizes(self) -> "Deployment":
        problems = []
        wanted = {Strategy.CANARY: "canary_size", Strategy.LINEAR: "linear_step"}.get(self.strategy)
        for name in ("canary_size", "linear_step"):
            if name != wanted and getattr(self, name) is not None:
                problems.append(Invalid(f"{name} is set but strategy is {self.strategy.value}",
                                        f"remove {name} or change strategy", name))
        if wanted and getattr(self, wanted) is None:
            problems.append(Invalid(f"strategy {self.strategy.value} needs {wanted}",
                                    f"add {wanted}: {{type: capacity-percent, value: 25}}", wanted))
        size = getattr(self, wanted) if wanted else None
        if size and size.type == "capacity-percent":
            low = 10 if self.strategy is Strategy.LINEAR else 1
            if not low <= size.value <= 50:
                problems.append(Invalid(f"{wanted} {size.value}% is outside SageMaker's {low}-50%",
                                        f"use a capacity-percent between {low} and 50", f"{wanted}.value"))
        raise_all(problems)
        return self

    def wait_intervals(self, max_instances: int) -> int:
        """How many WaitIntervalInSeconds a deployment waits: one per traffic step (canary: the canary;
        linear: every step, up to a fleet of `max_instances`; all-at-once: the one shift)."""
        step = self.linear_step
        if self.strategy is not Strategy.LINEAR or step is None:
            return 1
        if step.type == "capacity-percent":
            return math.ceil(100 / step.value)
        return math.ceil(max_instances / step.value)

    def with_strategy(self, strategy: Strategy) -> dict:
        """This deployment with another traffic-routing strategy (promote --strategy, rollback), as data
        to validate with its endpoint: sizes the config leaves out take the smallest safe value."""
        data = self.model_dump(exclude={"canary_size", "linear_step"})
        data["strategy"] = strategy
        if strategy is Strategy.CANARY:
            data["canary_size"] = self.canary_size or {"type": "instance-count", "value": 1}
        elif strategy is Strategy.LINEAR:
            data["linear_step"] = self.linear_step or {"type": "capacity-percent", "value": 25}
        return data


class Timeouts(Strict):
    # LMI's default model loading timeout is 1800 s; SageMaker accepts 60-3600.
    container_startup_seconds: int = Field(default=1800, ge=60, le=3600)
    model_download_seconds: int = Field(default=1800, ge=60, le=3600)


# CloudWatch evaluates an alarm once a period, after the period has ended, from SageMaker's one-minute
# metrics, which arrive late: a breach reaches the alarm up to about two minutes after it happened.
CLOUDWATCH_DELAY_MARGIN_SECONDS = 120


class Alarms(Strict):
    evaluation_minutes: int = Field(default=3, ge=1, le=60)
    errors_5xx_per_minute: PositiveInt = 5
    errors_4xx_percent: float = Field(default=5.0, gt=0, le=100)
    latency_p99_ms: PositiveInt = Field(default=5000, le=60000, description="InvokeEndpoint answers within 60 s")
    gpu_memory_percent: float = Field(default=95.0, gt=0, le=100, description="per GPU")
    disk_percent: float = Field(default=90.0, gt=0, le=100)
    no_traffic_minutes: PositiveInt | None = Field(default=None, le=1440)

    @property
    def rollback_window_seconds(self) -> int:
        """The shortest time a rollback alarm needs to fire: evaluation_minutes breaching one-minute
        periods plus CloudWatch's delay."""
        return self.evaluation_minutes * 60 + CLOUDWATCH_DELAY_MARGIN_SECONDS


class Network(Strict):
    subnet_ids: list[str] = Field(default_factory=list)
    security_group_ids: list[str] = Field(default_factory=list)
    network_isolation: bool = True

    @model_validator(mode="after")
    def _vpc_pairs(self) -> "Network":
        problems = []
        if bool(self.subnet_ids) != bool(self.security_group_ids):
            problems.append(Invalid("a VPC needs both subnet_ids and security_group_ids",
                                    "give both, or neither to run outside a VPC",
                                    "security_group_ids" if self.subnet_ids else "subnet_ids"))
        problems += [Invalid(f"'{value}' is not a subnet id", "use subnet-... ids", f"subnet_ids.{i}")
                     for i, value in enumerate(self.subnet_ids) if not value.startswith("subnet-")]
        problems += [Invalid(f"'{value}' is not a security group id", "use sg-... ids", f"security_group_ids.{i}")
                     for i, value in enumerate(self.security_group_ids) if not value.startswith("sg-")]
        raise_all(problems)
        return self


class SmokeCase(Strict):
    """One invocation `promote` sends after a deployment: the answer must be one of the
    evaluation labels, and `expect` when given."""

    text: str = Field(min_length=1, max_length=2000)
    expect: str | None = None


class Endpoint(Strict):
    model: ResourceName
    version: Version
    instance_type: str = Field(pattern=INSTANCE_TYPE.pattern)
    allow_non_g5_instance: bool = False
    instances: Instances
    autoscaling: Autoscaling
    # Required: the default strategy (canary) needs a canary_size, so a default Deployment()
    # would fail outside the document and hide every other error of the file.
    deployment: Deployment
    timeouts: Timeouts = Field(default_factory=Timeouts)
    alarms: Alarms = Field(default_factory=Alarms)
    data_capture_percent: int = Field(default=0, ge=0, le=100)
    network: Network = Field(default_factory=Network)
    notify: list[EmailStr] = Field(default_factory=list, description="in addition to the environment's")
    # A second version of the same model behind the endpoint as a shadow variant (see docs/evaluation.md).
    shadow_version: Version | None = None
    shadow_instance_type: str | None = Field(default=None, pattern=INSTANCE_TYPE.pattern,
                                             description="default: instance_type")
    evaluation: Evaluation | None = None
    # Sent by `promote` once the new version is live; a wrong answer rolls it back.
    smoke_test: list[SmokeCase] = Field(default_factory=list, max_length=20)
    # Who answers the applications using the client: api, shadow, canary, llama, llama-only (config/routing.py).
    routing: Routing = Field(default_factory=Routing)

    @model_validator(mode="after")
    def _checks(self) -> "Endpoint":
        # One validator, every check: pydantic stops at the first model validator that raises.
        raise_all([*self._smoke_test_problems(), *self._shadow_problems(), *self._guardrail_problems(),
                   *self._schedule_problems(),
                   *routing_problems(self.routing, self.evaluation.labels if self.evaluation else None)])
        return self

    def _smoke_test_problems(self) -> list[Invalid]:
        if self.smoke_test and self.evaluation is None:
            return [Invalid("smoke_test needs the evaluation block: its prompt_template formats the request and "
                            "its labels judge the answer", "add an evaluation block or remove smoke_test",
                            "smoke_test")]
        labels = self.evaluation.labels if self.evaluation else []
        return [Invalid(f"expect '{case.expect}' is not one of the evaluation labels",
                        f"use one of: {', '.join(labels[:6])}...", f"smoke_test.{i}.expect")
                for i, case in enumerate(self.smoke_test) if case.expect is not None and case.expect not in labels]

    def _shadow_problems(self) -> list[Invalid]:
        if self.shadow_version is None:
            if self.shadow_instance_type is not None:
                return [Invalid("shadow_instance_type is set without shadow_version",
                                "add shadow_version or remove shadow_instance_type", "shadow_instance_type")]
            return []
        problems = []
        if self.shadow_version == self.version:
            problems.append(Invalid(f"shadow_version {self.shadow_version} is the live version",
                                    "shadow another pinned version, or remove shadow_version", "shadow_version"))
        # SageMaker documents canary/linear traffic shifting for the production variant's fleet
        # only; a shadow variant's traffic is copied, not shifted. All-at-once blue/green keeps
        # the new fleet, the baking period and the alarm rollback (docs/evaluation.md).
        if self.deployment.strategy is not Strategy.ALL_AT_ONCE:
            problems.append(Invalid("shadow_version needs deployment.strategy all-at-once, not "
                                    f"{self.deployment.strategy.value}",
                                    "set deployment.strategy: all-at-once while the shadow runs (blue/green with "
                                    "baking and alarm rollback stays), or remove shadow_version", "shadow_version"))
        if self.data_capture_percent == 0:
            problems.append(Invalid("shadow_version without data capture: the shadow's answers would be lost",
                                    "set data_capture_percent (100 for a shadow test)", "data_capture_percent"))
        return problems

    def _guardrail_problems(self) -> list[Invalid]:
        problems = []
        size = self.deployment.canary_size or self.deployment.linear_step
        where = "deployment." + ("canary_size" if self.deployment.canary_size else "linear_step")
        if size and size.type == "instance-count" and size.value * 2 > self.instances.min:
            problems.append(Invalid(f"{size.value} instance(s) is more than half of instances.min "
                                    f"({self.instances.min})",
                                    "use a smaller size, a capacity-percent, or strategy all-at-once", where))
        problems += self._execution_time_problems()
        # LinearStepSize must be 10-50% of the fleet, which may have scaled out to instances.max.
        step = self.deployment.linear_step
        if step and step.type == "instance-count" and step.value * 10 < self.instances.max:
            problems.append(Invalid(f"a linear step of {step.value} instance(s) is less than SageMaker's 10% of "
                                    f"instances.max ({self.instances.max})",
                                    "use a capacity-percent linear_step between 10 and 50", where))
        return problems

    def _execution_time_problems(self) -> list[Invalid]:
        """MaximumExecutionTimeoutInSeconds covers the whole deployment: the new fleet downloads the
        weights and starts (each up to its timeout), then waits once per traffic step, then bakes.
        A shorter limit makes SageMaker give up on a deployment that is going well."""
        d, t = self.deployment, self.timeouts
        steps = d.wait_intervals(self.instances.max)
        needed = t.model_download_seconds + t.container_startup_seconds + steps * d.wait_seconds + d.baking_seconds
        if d.max_execution_seconds > needed:
            return []
        return [Invalid(f"max_execution_seconds {d.max_execution_seconds} must exceed what a deployment may take: "
                        f"{t.model_download_seconds} s download + {t.container_startup_seconds} s start-up "
                        f"(timeouts) + {steps} x {d.wait_seconds} s wait + {d.baking_seconds} s baking = {needed} s",
                        f"raise max_execution_seconds above {needed} (at most 28800), or shorten the timeouts "
                        "or waits", "deployment.max_execution_seconds")]

    def rollback_window_problems(self) -> list[Invalid]:
        """Rollback alarms act only while SageMaker watches them: during the baking period of an
        all-at-once deployment, and during each wait interval of a canary or linear one. A watch
        shorter than the alarms' window plus CloudWatch's delay can never roll anything back.
        Not checked for a deployment without auto-rollback (`rollback`'s)."""
        d, needed = self.deployment, self.alarms.rollback_window_seconds
        field, watched = (("baking_seconds", d.baking_seconds) if d.strategy is Strategy.ALL_AT_ONCE
                          else ("wait_seconds", d.wait_seconds))
        if watched >= needed:
            return []
        label = "baking period" if d.strategy is Strategy.ALL_AT_ONCE else f"{d.strategy.value} wait"
        return [Invalid(f"{field} {watched} is shorter than the rollback alarms can fire: the {label} must last "
                        f"at least {self.alarms.evaluation_minutes} x 60 s (alarms.evaluation_minutes) + "
                        f"{CLOUDWATCH_DELAY_MARGIN_SECONDS} s CloudWatch delay = {needed} s",
                        f"set deployment.{field} to {needed} or more, or lower alarms.evaluation_minutes",
                        f"deployment.{field}")]

    def _schedule_problems(self) -> list[Invalid]:
        schedules = self.autoscaling.schedules
        size = self.deployment.canary_size or self.deployment.linear_step
        problems = []
        for i, schedule in enumerate(schedules):
            where = f"autoscaling.schedules.{i}"
            if schedule.name in [s.name for s in schedules[i + 1:]]:  # reported once, where first used
                problems.append(Invalid(f"schedule name '{schedule.name}' is used twice",
                                        "give each schedule its own name", f"{where}.name"))
            if schedule.max > self.instances.max:
                problems.append(Invalid(f"max {schedule.max} is above instances.max ({self.instances.max})",
                                        "lower the schedule's max, or raise instances.max (the endpoint's ceiling)",
                                        f"{where}.max"))
            if size and size.type == "instance-count" and size.value * 2 > schedule.min:
                problems.append(Invalid(f"a canary/step of {size.value} instance(s) is more than half of this "
                                        f"schedule's min ({schedule.min}): a deployment while it is in force "
                                        "would fail",
                                        "raise the schedule's min, use a capacity-percent size, or strategy "
                                        "all-at-once", f"{where}.min"))
        if schedules and not any((s.min, s.max) == (self.instances.min, self.instances.max) for s in schedules):
            problems.append(Invalid("no schedule restores instances.min/max: after the first one fires the endpoint "
                                    "keeps the last schedule's bounds for good",
                                    f"add a schedule with min: {self.instances.min}, max: {self.instances.max} "
                                    "(e.g. weekday mornings)", "autoscaling.schedules"))
        return problems


class Environment(Strict):
    schema_version: Literal[1] = 1
    name: ResourceName
    account: str = Field(pattern=r"^[0-9]{12}$")
    region: str = Field(pattern=REGION.pattern)
    production: bool = False
    require_approved_versions: bool = True
    promote_after: ResourceName | None = Field(default=None, description="environment to promote through first")
    weights_bucket: str | None = Field(default=None, pattern=BUCKET_NAME.pattern)
    object_lock_days: PositiveInt = Field(default=365, le=36500)
    # COMPLIANCE: no one, root included, can delete a weight version or shorten its retention
    # before object_lock_days have passed; GOVERNANCE can be bypassed with s3:BypassGovernanceRetention.
    object_lock_mode: Literal["governance", "compliance"] = "governance"
    notify: list[EmailStr] = Field(default_factory=list)
    # Per model: the newest pinned versions that stay registered and exported (config/registry_retention.py).
    keep_versions: PositiveInt = Field(default=10, le=190)
    endpoints: dict[ResourceName, Endpoint] = Field(default_factory=dict)
    # Endpoints hosting inference components: a base model and LoRA adapters (config/components.py).
    component_endpoints: dict[ResourceName, ComponentEndpoint] = Field(default_factory=dict)
    # May component endpoints scale to zero instances? Default: yes except in production.
    allow_scale_to_zero: bool | None = None

    @model_validator(mode="after")
    def _some_endpoint(self) -> "Environment":
        if not self.endpoints and not self.component_endpoints:
            raise Invalid("no endpoint: endpoints and component_endpoints are both empty",
                          "add an endpoint under endpoints: (or component_endpoints:)", "endpoints")
        return self

    @model_validator(mode="after")
    def _production_rules(self) -> "Environment":
        problems = stack_name_problems(list(self.endpoints))  # every environment's, in the same pass
        if not self.production:
            if self.object_lock_mode == "compliance":
                problems.append(Invalid("object_lock_mode compliance is for production environments: every weight "
                                        f"version would be undeletable by anyone, root included, for "
                                        f"{self.object_lock_days} days",
                                        "remove object_lock_mode (governance), or set production: true",
                                        "object_lock_mode"))
            raise_all(problems)
            return self
        if not self.require_approved_versions:
            problems.append(Invalid("production environments must serve approved versions only",
                                    "remove require_approved_versions: false", "require_approved_versions"))
        problems += [Invalid(f"endpoint {name} has no alarms.no_traffic_minutes",
                             "production endpoints need a no-traffic alarm: set alarms.no_traffic_minutes",
                             f"endpoints.{name}.alarms.no_traffic_minutes")
                     for name, endpoint in self.endpoints.items() if endpoint.alarms.no_traffic_minutes is None]
        raise_all(problems)
        return self

    @property
    def weights_bucket_name(self) -> str:
        return self.weights_bucket or naming.weights_bucket(self.name, self.account, self.region)

    @property
    def capture_bucket_name(self) -> str:
        return naming.capture_bucket(self.name, self.account, self.region)

    def endpoint_name(self, endpoint_id: str) -> str:
        return naming.endpoint(self.name, endpoint_id)

    def package_group(self, model: str) -> str:
        return naming.package_group(self.name, model)
