"""Endpoints with inference components (`component_endpoints:` in environments/<env>.yaml).

One base component serves a pinned model with LMI's LoRA support on; each adapter component
loads one pinned LoRA adapter on it (`Specification.BaseInferenceComponentName` + `Container.
ArtifactUrl`, API reference InferenceComponentSpecification). Adapter components have no copies
of their own: they run on every copy of the base and use its compute ("The adapter inference
component uses the compute resources that you assigned to the base inference component"), so
copies and scaling are the base's. The endpoint's variant scales its instances itself
(ManagedInstanceScaling) to place the copies.

Scale to zero ("Scale an endpoint to zero instances", SageMaker developer guide) needs all three:
the variant's `MinInstanceCount: 0`, the base component registered with min capacity 0, and a
step scaling policy on an alarm for requests that found no capacity (NoCapacityInvocationFailures)
to come back. Here: `instances.min: 0` with `base.copies.min: 0`, allowed where the environment
allows it (every non-production environment; a production one only with `allow_scale_to_zero:
true`, checked in config/project.py): while it comes back, for minutes, requests fail.

Importing this module completes `Environment` (its `component_endpoints` field names these
models); config/__init__.py imports it, so any import of `config.*` does.
"""

from __future__ import annotations

import math

from enum import Enum
from typing import Literal

from pydantic import EmailStr, Field, PositiveInt, model_validator

from config.adapter_pin import LORA_RANKS
from config.environment import Alarms, Endpoint, Environment, Network, SmokeCase, Timeouts
from config.errors import Invalid, raise_all
from config.evaluation import Evaluation
from config.fields import INSTANCE_TYPE, ResourceName, Strict, Version
from config.pin import Pin

BASE_COMPONENT = "base"  # the base component's id: <endpoint>-base
# How long an endpoint at zero stays up after its last request (AWS ML blog, "scale down to zero"):
# target tracking's scale-in alarm removes the copies after 15 minutes without load, and the idle
# instances go 10 minutes after their last copy. The cost model and the emulator both use these.
SCALE_IN_IDLE_S = 15 * 60
INSTANCE_IDLE_S = 10 * 60


class ComponentMetric(str, Enum):
    """Application Auto Scaling predefined metrics for inference components."""

    CONCURRENT_REQUESTS = "concurrent-requests"  # ...PerCopyHighResolution: 10 s, AWS's choice for scale to zero
    INVOCATIONS_PER_COPY = "invocations-per-copy"

    @property
    def cdk_name(self) -> str:
        """The member name in aws_cdk.aws_applicationautoscaling.PredefinedMetric."""
        return {
            ComponentMetric.CONCURRENT_REQUESTS: "SAGEMAKER_INFERENCE_COMPONENT_CONCURRENT_REQUESTS_PER_COPY_HIGH_RESOLUTION",
            ComponentMetric.INVOCATIONS_PER_COPY: "SAGEMAKER_INFERENCE_COMPONENT_INVOCATIONS_PER_COPY",
        }[self]


class Copies(Strict):
    initial: int = Field(ge=0, description="RuntimeConfig.CopyCount")
    min: int = Field(ge=0)
    max: PositiveInt = Field(le=100)

    @model_validator(mode="after")
    def _ordered(self) -> "Copies":
        if not self.min <= self.initial <= self.max:
            raise Invalid(f"need min <= initial <= max, got {self.min} / {self.initial} / {self.max}",
                          "set copies so that min <= initial <= max")
        return self


class ComponentScaling(Strict):
    metric: ComponentMetric = ComponentMetric.CONCURRENT_REQUESTS
    target: float = Field(gt=0, description="per-copy concurrent requests, or invocations per minute")
    scale_out_cooldown_seconds: int = Field(default=60, ge=0, le=3600)
    # Application Auto Scaling's scale-in alarm waits 15 minutes of low load (90 10-second datapoints)
    # before it removes copies (AWS ML blog, "scale down to zero"); this cooldown comes after that.
    scale_in_cooldown_seconds: int = Field(default=300, ge=0, le=3600)


class CopyBatch(Strict):
    type: Literal["copy-count", "capacity-percent"]
    value: PositiveInt

    @property
    def cfn_type(self) -> str:
        return self.type.upper().replace("-", "_")

    def copies(self, of: int) -> int:
        """New copies per batch of a component with `of` copies."""
        return self.value if self.type == "copy-count" else max(1, of * self.value // 100)

    @model_validator(mode="after")
    def _share(self) -> "CopyBatch":
        # "The value must be between 5% to 50% of the copy count" (InferenceComponentRollingUpdatePolicy)
        if self.type == "capacity-percent" and not 5 <= self.value <= 50:
            raise Invalid(f"{self.value}% is outside SageMaker's 5-50% of the copies",
                          "use a capacity-percent between 5 and 50, or a copy-count", "value")
        return self


class RollingUpdate(Strict):
    """UpdateInferenceComponent's DeploymentConfig for the base component: copies replaced batch by
    batch, alarms watched for `wait_seconds` after each, and everything rolled back if one fires."""

    batch: CopyBatch = Field(default_factory=lambda: CopyBatch(type="copy-count", value=1))
    wait_seconds: int = Field(default=300, ge=0, le=3600, description="WaitIntervalInSeconds")
    max_execution_seconds: int = Field(default=3600, ge=600, le=28800, description="MaximumExecutionTimeoutInSeconds")
    rollback_batch: CopyBatch | None = None  # default: the old fleet comes back at once

    @model_validator(mode="after")
    def _room(self) -> "RollingUpdate":
        if self.max_execution_seconds <= self.wait_seconds:
            raise Invalid(f"max_execution_seconds {self.max_execution_seconds} must exceed wait_seconds "
                          f"{self.wait_seconds}", "raise max_execution_seconds", "max_execution_seconds")
        return self


class LoraCapacity(Strict):
    """LMI's LoRA settings on the base container (djl-serving serving/docs/adapters.md: OPTION_ENABLE_LORA,
    OPTION_MAX_LORAS, OPTION_MAX_CPU_LORAS, OPTION_MAX_LORA_RANK; LMI >= 0.31 for adapter components)."""

    max_loras: PositiveInt = Field(default=4, le=256, description="adapters in one batch on the GPU")
    max_cpu_loras: PositiveInt | None = Field(default=None, le=1024,
                                              description="adapters cached in CPU memory (default: max_loras)")
    max_lora_rank: Literal[LORA_RANKS] = 16  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _cpu(self) -> "LoraCapacity":
        if self.max_cpu_loras is not None and self.max_cpu_loras < self.max_loras:
            raise Invalid(f"max_cpu_loras {self.max_cpu_loras} is below max_loras {self.max_loras} (vLLM: "
                          "'Must be >= than max_loras')", "raise max_cpu_loras or leave it out", "max_cpu_loras")
        return self

    def environment(self) -> dict[str, str]:
        env = {"OPTION_ENABLE_LORA": "true", "OPTION_MAX_LORAS": str(self.max_loras),
               "OPTION_MAX_LORA_RANK": str(self.max_lora_rank)}
        if self.max_cpu_loras is not None:
            env["OPTION_MAX_CPU_LORAS"] = str(self.max_cpu_loras)
        return env


class BaseComponent(Strict):
    model: ResourceName
    version: Version
    copies: Copies
    scaling: ComponentScaling
    min_memory_mb: int = Field(default=1024, ge=128, description="host memory per copy (MinMemoryRequiredInMb)")
    lora: LoraCapacity = Field(default_factory=LoraCapacity)
    deployment: RollingUpdate = Field(default_factory=RollingUpdate)
    # The base answers InvokeEndpoint too (InferenceComponentName = <endpoint>-base): without an adapter.
    evaluation: Evaluation | None = None
    smoke_test: list[SmokeCase] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _smoke(self) -> "BaseComponent":
        raise_all(Endpoint._smoke_test_problems(self))  # the same rule as an endpoint's smoke_test
        return self


class AdapterComponent(Strict):
    adapter: ResourceName  # model_artifacts/<base model>/adapters/<adapter>/
    version: Version
    evaluation: Evaluation | None = None
    smoke_test: list[SmokeCase] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _smoke(self) -> "AdapterComponent":
        raise_all(Endpoint._smoke_test_problems(self))
        return self


class ComponentInstances(Strict):
    """The variant's instances: InitialInstanceCount and ManagedInstanceScaling's bounds."""

    initial: PositiveInt
    min: int = Field(ge=0, description="0: the endpoint scales to zero instances")
    max: PositiveInt = Field(le=100)

    @model_validator(mode="after")
    def _ordered(self) -> "ComponentInstances":
        if not self.min <= self.initial <= self.max:
            raise Invalid(f"need min <= initial <= max, got {self.min} / {self.initial} / {self.max}",
                          "set instances so that min <= initial <= max")
        return self


class ComponentEndpoint(Strict):
    instance_type: str = Field(pattern=INSTANCE_TYPE.pattern)
    allow_non_g5_instance: bool = False
    instances: ComponentInstances
    base: BaseComponent
    adapters: dict[ResourceName, AdapterComponent] = Field(default_factory=dict, max_length=50)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    alarms: Alarms = Field(default_factory=Alarms)
    network: Network = Field(default_factory=Network)
    notify: list[EmailStr] = Field(default_factory=list, description="in addition to the environment's")

    @model_validator(mode="after")
    def _checks(self) -> "ComponentEndpoint":
        problems = [Invalid(f"adapter component id '{BASE_COMPONENT}' is the base component's",
                            "give the adapter component another id", f"adapters.{BASE_COMPONENT}")
                    if BASE_COMPONENT in self.adapters else None]
        copies, instances = self.base.copies, self.instances
        if instances.min == 0 and copies.min > 0:
            problems.append(Invalid(f"instances.min is 0 but base.copies.min is {copies.min}: an instance keeps "
                                    "hosting those copies, so the endpoint never reaches zero instances",
                                    "set base.copies.min: 0 to scale to zero, or instances.min: 1", "instances.min"))
        if copies.min == 0 and instances.min > 0:
            problems.append(Invalid(f"base.copies.min is 0 but instances.min is {instances.min}: requests fail "
                                    "while the copies are at zero, and the instances are billed anyway",
                                    "set instances.min: 0 to scale to zero, or base.copies.min: 1",
                                    "base.copies.min"))
        raise_all(problems)
        return self

    @property
    def scales_to_zero(self) -> bool:
        return self.instances.min == 0

    @property
    def components(self) -> dict[str, BaseComponent | AdapterComponent]:
        """Every component by id, the base first."""
        return {BASE_COMPONENT: self.base, **self.adapters}


def rolling_room_problem(endpoint: ComponentEndpoint, gpus: int, accelerators: int,
                         instance_type: str) -> tuple[str, str] | None:
    """(problem, fix) when the variant's instances.max cannot hold a rolling update of the base at
    copies.max: "for each step, SageMaker AI provisions capacity on the new endpoint fleet, routes
    traffic to that fleet, and terminates capacity on the old endpoint fleet"
    (InferenceComponentRollingUpdatePolicy), so a batch of new copies runs next to the old ones."""
    per_instance = gpus // max(1, accelerators)
    if per_instance == 0:
        return None  # the placement check reports it
    copies = endpoint.base.copies.max
    need = copies + endpoint.base.deployment.batch.copies(copies)
    room = endpoint.instances.max * per_instance
    if need <= room:
        return None
    return (f"a rolling update of the base places {need - copies} new copy(ies) next to {copies} old one(s) "
            f"(SageMaker provisions each batch before it removes old copies): {need} copies, but "
            f"{endpoint.instances.max} {instance_type} instance(s) hold {room}",
            f"set instances.max: {math.ceil(need / per_instance)}")


def base_container_environment(pin: Pin, lora: LoraCapacity, with_adapters: bool) -> dict[str, str]:
    """The base model container's environment: the pin's serving settings, plus LMI's LoRA options
    when adapters are served (raises `Invalid` past SageMaker's 16 entries)."""
    from config.serving_env import MAX_ENTRIES, container_environment

    env = container_environment(pin)
    if with_adapters:
        env = {**env, **lora.environment()}
    if len(env) > MAX_ENTRIES:
        raise Invalid(f"{len(env)} container environment entries with the LoRA options, SageMaker allows {MAX_ENTRIES}",
                      f"remove {len(env) - MAX_ENTRIES} serving.extra_env entries from {pin.model}/{pin.version}")
    return dict(sorted(env.items()))


# Environment names ComponentEndpoint in a forward reference (config/environment.py cannot import this
# module: it imports config.environment); complete it now that the name exists.
Environment.model_rebuild(_types_namespace={"ComponentEndpoint": ComponentEndpoint})
