"""Inference components over time: the SageMaker API the emulator adds for them (moto has none).

Modelled from the API reference (CreateInferenceComponent, UpdateInferenceComponent,
UpdateInferenceComponentRuntimeConfig, DescribeInferenceComponent, DeleteInferenceComponent,
InferenceComponentSpecification, InferenceComponentRollingUpdatePolicy) and the developer guide:

- a base component (a model, compute, copies) and adapter components (BaseInferenceComponentName +
  a .tar.gz ArtifactUrl; no compute, no copies: they run on the base's copies);
- statuses on the simulated clock: Creating (after the endpoint is InService: instances for the
  copies, then the model load) -> InService; Updating -> InService; Failed on a placement the
  variant's instances cannot hold;
- UpdateInferenceComponent of a base with a rolling deployment: copies replaced batch by batch
  (MaximumBatchSize), each batch baked WaitIntervalInSeconds while the new copies take their
  share of requests; an AutoRollbackConfiguration alarm in ALARM rolls every copy back to the
  old specification, with a FailureReason (there is no RollingBack status for components);
  of an adapter: the new archive swapped on every copy of the base, no rolling batch;
- DeleteInferenceComponent of a base deletes its adapters ("Deleting the base model IC will
  automatically delete ... any associated adapter ICs", aws-samples multi_adapter_hosting.ipynb);
- InvokeEndpoint with InferenceComponentName (what answers: the live copies, or during a rolling
  update the new copies for their share); at zero copies the ValidationError SageMaker answers
  ("Inference Component has no capacity to process this request. ...", AWS ML blog, scale down
  to zero) and a NoCapacityInvocationFailures datapoint, which `component_scaling.py` turns into
  a scale-out.

Every refusal below is one SageMaker documents; where the wording of AWS's message is not
documented, the emulator's says what was refused. Not modelled: Specifications (per instance
type), DataCacheConfig, SchedulingConfig, MaximumExecutionTimeoutInSeconds, Deleting (deletes
are immediate), container health.
"""

from __future__ import annotations

import copy
import math
import threading
from dataclasses import dataclass, field
from typing import Any

from config.components import INSTANCE_IDLE_S, SCALE_IN_IDLE_S
from localaws.invoke_faults import NO_CAPACITY_MESSAGE  # the one wording, shared with the runtime fake
from localaws.endpoint_sim import EndpointSimulator
from localaws.moto_backends import alarm_state, model_package, sagemaker_arn, sagemaker_backend, validation_error

COMPONENT_REQUIRED = ("Inference Component Name header is required for endpoints to which you plan to deploy "
                      "inference components. Please include Inference Component Name header or consider using "
                      "SageMaker models.")


@dataclass
class ComponentTimings:
    """Simulated seconds. The scale-in waits are AWS's: target tracking's scale-in alarm needs 15
    minutes of low load before copies go, and idle instances go 10 minutes after their last copy
    (AWS ML blog, "scale down to zero"); the no-capacity alarm needs one minute's datapoint."""

    load_s: float = 60.0  # a copy: model download and container start
    instance_s: float = 60.0  # one more instance for the variant (ManagedInstanceScaling)
    adapter_s: float = 10.0  # an adapter registered (or swapped) on every copy of its base
    rollback_s: float = 30.0
    idle_to_zero_s: float = SCALE_IN_IDLE_S
    instance_idle_s: float = INSTANCE_IDLE_S
    alarm_s: float = 60.0
    wait_scale: float = 1.0  # multiplies WaitIntervalInSeconds


@dataclass
class _Rolling:
    spec: dict
    deployment_config: dict
    steps: list[tuple[float, int]]  # (when this batch's new copies serve, new copies from then on)
    end: float
    rollback_alarms: list[str]


@dataclass
class Component:
    name: str
    arn: str
    endpoint: str
    variant: str
    spec: dict
    status: str
    created: float
    modified: float
    desired: int = 0
    current: int = 0
    ready_at: float | None = None  # Creating / scaling out / an adapter swap: when it is done
    rolling: _Rolling | None = None
    next_spec: dict | None = None  # an adapter's new archive, swapped at ready_at
    rollback_until: float | None = None
    failure_reason: str | None = None
    last_deployment_config: dict | None = None
    history: list[str] = field(default_factory=list)
    served: int = 0  # invocations, to share them between old and new copies
    since: float = 0.0  # when it became InService (the scheduled time, which a tick may observe later)

    @property
    def is_adapter(self) -> bool:
        return bool(self.spec.get("BaseInferenceComponentName"))

    @property
    def base_name(self) -> str | None:
        return self.spec.get("BaseInferenceComponentName")


class ComponentSimulator:
    """The inference components of one account and region, on the emulator's clock and lock."""

    def __init__(self, endpoints: EndpointSimulator, timings: ComponentTimings, lock: threading.RLock) -> None:
        from localaws.component_scaling import ComponentScaler

        self.endpoints, self.timings, self._lock = endpoints, timings, lock
        self.clock, self.account_id, self.region = endpoints.clock, endpoints.account_id, endpoints.region
        self.components: dict[str, Component] = {}
        self.scaler = ComponentScaler(self)

    # ----- helpers on the endpoints they live on
    def _backend(self):
        return sagemaker_backend(self.account_id, self.region)

    def endpoint_status(self, endpoint: str) -> str | None:
        fake = self._backend().endpoints.get(endpoint)
        return fake.endpoint_status if fake is not None else None

    def variant(self, endpoint: str, variant: str | None = None) -> dict:
        backend = self._backend()
        config = backend.endpoint_configs.get(backend.endpoints[endpoint].endpoint_config_name)
        variants = config.production_variants if config else []
        return next((v for v in variants if variant in (None, v["VariantName"])), {})

    def on_endpoint(self, endpoint: str) -> list[Component]:
        return [c for c in self.components.values() if c.endpoint == endpoint]

    def hosts_components(self, endpoint: str) -> bool:
        """An endpoint for components: its variant names no model (or components live on it)."""
        if endpoint not in self._backend().endpoints:
            return False
        return bool(self.on_endpoint(endpoint)) or not self.variant(endpoint).get("ModelName")

    def _set(self, component: Component, status: str) -> None:
        component.status = status
        component.modified = self.clock.now()
        if not component.history or component.history[-1] != status:
            component.history.append(status)

    # ----- the API
    def create(self, name: str, endpoint: str, variant: str | None, spec: dict | None, specs: list | None,
               runtime: dict | None) -> Component:
        with self._lock:
            self.tick()
            arn = sagemaker_arn(self.account_id, self.region, "inference-component", name)
            if name in self.components:
                raise validation_error(f"Cannot create already existing inference component \"{arn}\".")
            if (spec is None) == (specs is None):
                raise validation_error("Specify exactly one of Specification or Specifications.")
            if specs is not None:
                raise validation_error("Specifications (one per instance type) is not modelled by the emulator.")
            if endpoint not in self._backend().endpoints:
                raise validation_error(f"Could not find endpoint \"{sagemaker_arn(self.account_id, self.region, 'endpoint', endpoint)}\".")
            if not self.hosts_components(endpoint):
                raise validation_error(f"Endpoint {endpoint} hosts a model on its variant: inference components "
                                       "need an endpoint config whose variants name no model.")
            variant_config = self.variant(endpoint, variant)
            if not variant_config:
                raise validation_error(f"Could not find variant {variant} in endpoint {endpoint}.")
            self._check_spec(spec, runtime, endpoint)
            now = self.clock.now()
            component = Component(name, arn, endpoint, variant_config["VariantName"], copy.deepcopy(spec), "Creating",
                                  now, now, desired=0 if spec.get("BaseInferenceComponentName") else
                                  int((runtime or {}).get("CopyCount", 0)))
            component.history.append("Creating")
            self.components[name] = component
            self._tick(component, now)
            return component

    def _check_spec(self, spec: dict, runtime: dict | None, endpoint: str) -> None:
        base_name = spec.get("BaseInferenceComponentName")
        if base_name:
            # InferenceComponentSpecification: "Omit [ComputeResourceRequirements] if your request is meant to
            # create an adapter inference component"; the adapter's location is Container.ArtifactUrl, which
            # "must point to a single gzip compressed tar archive (.tar.gz suffix)".
            base = self.components.get(base_name)
            if base is None or base.endpoint != endpoint:
                raise validation_error(f"Base inference component {base_name} does not exist on endpoint {endpoint}: "
                                       "create the base inference component first.")
            if base.is_adapter:
                raise validation_error(f"Inference component {base_name} is an adapter: an adapter's base must "
                                       "host a model.")
            if spec.get("ComputeResourceRequirements") or spec.get("ModelName"):
                raise validation_error("An adapter inference component takes no ComputeResourceRequirements or "
                                       "ModelName: it uses its base inference component's.")
            if runtime:
                raise validation_error("An adapter inference component has no RuntimeConfig: it runs on every copy "
                                       "of its base inference component.")
            url = (spec.get("Container") or {}).get("ArtifactUrl") or ""
            if not url.endswith(".tar.gz"):
                raise validation_error(f"ArtifactUrl '{url}' must point to a single gzip compressed tar archive "
                                       "(.tar.gz suffix).")
            return
        if not spec.get("ModelName") and not (spec.get("Container") or {}).get("Image"):
            raise validation_error("Specification needs a ModelName or a Container Image.")
        if spec.get("ModelName") and spec["ModelName"] not in self._backend()._models:
            model = sagemaker_arn(self.account_id, self.region, "model", spec["ModelName"])
            raise validation_error(f"Could not find model \"{model}\".")
        if not spec.get("ComputeResourceRequirements"):
            raise validation_error("ComputeResourceRequirements is required for an inference component that is not "
                                   "an adapter.")
        if runtime is None or "CopyCount" not in runtime:
            raise validation_error("RuntimeConfig.CopyCount is required for an inference component that is not "
                                   "an adapter.")

    def update(self, name: str, spec: dict | None, runtime: dict | None, deployment: dict | None) -> Component:
        with self._lock:
            component = self.get(name)
            self._tick(component, self.clock.now())
            if component.status != "InService":
                raise validation_error(f"Cannot update in-progress inference component \"{component.arn}\".")
            now = self.clock.now()
            if component.is_adapter:
                self._update_adapter(component, spec, runtime, deployment, now)
            else:
                self._update_base(component, spec, runtime, deployment, now)
            component.failure_reason = None
            self._set(component, "Updating")
            self._tick(component, now)
            return component

    def _update_adapter(self, component: Component, spec: dict | None, runtime: dict | None, deployment: dict | None,
                        now: float) -> None:
        if deployment:
            # MaximumBatchSize is "between 5% to 50% of the copy count of the inference component": an adapter
            # has no copies to roll (its new archive is swapped on every copy of the base).
            raise validation_error("DeploymentConfig does not apply to an adapter inference component: it has no "
                                   "copies of its own.")
        if runtime:
            raise validation_error("An adapter inference component has no RuntimeConfig.")
        new = {**component.spec, **copy.deepcopy(spec or {})}
        if new.get("BaseInferenceComponentName") != component.base_name:
            raise validation_error("BaseInferenceComponentName of an adapter inference component cannot change.")
        self._check_spec(new, None, component.endpoint)
        component.next_spec, component.ready_at = new, now + self.timings.adapter_s

    def _update_base(self, component: Component, spec: dict | None, runtime: dict | None, deployment: dict | None,
                     now: float) -> None:
        if spec and spec.get("BaseInferenceComponentName"):
            raise validation_error("An inference component that hosts a model cannot become an adapter.")
        if runtime is not None and "CopyCount" in runtime:
            self.scaler.set_copies(component, int(runtime["CopyCount"]), now)
        if not spec:
            return
        new = {**component.spec, **copy.deepcopy(spec)}
        self._check_spec(new, {"CopyCount": component.desired}, component.endpoint)
        policy = (deployment or {}).get("RollingUpdatePolicy") or {}
        batch = policy.get("MaximumBatchSize") or {"Type": "CAPACITY_PERCENT", "Value": 100}
        if batch["Type"] == "CAPACITY_PERCENT" and policy and not 5 <= int(batch["Value"]) <= 50:
            raise validation_error(f"MaximumBatchSize {batch['Value']}% must be between 5% and 50% of the copy count.")
        copies = component.current
        size = int(batch["Value"]) if batch["Type"] == "COPY_COUNT" else max(1, copies * int(batch["Value"]) // 100)
        wait = float(policy.get("WaitIntervalInSeconds", 0)) * self.timings.wait_scale
        steps, t = [], now
        for i in range(math.ceil(copies / size) if copies else 0):
            t += self.timings.load_s
            steps.append((t, min(copies, (i + 1) * size)))
            t += wait
        alarms = [a["AlarmName"] for a in ((deployment or {}).get("AutoRollbackConfiguration") or {}).get("Alarms", [])]
        component.rolling = _Rolling(new, copy.deepcopy(deployment or {}), steps, t, alarms)
        if deployment:
            component.last_deployment_config = copy.deepcopy(deployment)

    def update_runtime(self, name: str, copies: int) -> Component:
        with self._lock:
            component = self.get(name)
            if component.is_adapter:
                raise validation_error("An adapter inference component has no copies: scale its base inference "
                                       "component.")
            self.scaler.set_copies(component, copies, self.clock.now())
            return component

    def get(self, name: str) -> Component:
        component = self.components.get(name)
        if component is None:
            arn = sagemaker_arn(self.account_id, self.region, "inference-component", name)
            raise validation_error(f"Could not find inference component \"{arn}\".")
        return component

    def delete(self, name: str) -> None:
        with self._lock:
            component = self.get(name)
            for adapter in [c for c in self.components.values() if c.base_name == component.name]:
                self.components.pop(adapter.name, None)
            self.components.pop(name, None)

    def describe(self, name: str) -> dict[str, Any]:
        with self._lock:
            component = self.get(name)
            self._tick(component, self.clock.now())
            spec = copy.deepcopy(component.spec)
            if spec.get("ModelName"):
                images = self._endpoint_images(spec["ModelName"])
                if images:
                    spec.setdefault("Container", {})["DeployedImage"] = images[0]
            response = {
                "InferenceComponentName": component.name, "InferenceComponentArn": component.arn,
                "EndpointName": component.endpoint,
                "EndpointArn": sagemaker_arn(self.account_id, self.region, "endpoint", component.endpoint),
                "VariantName": component.variant, "Specification": spec,
                "CreationTime": self.clock.datetime(component.created),
                "LastModifiedTime": self.clock.datetime(component.modified),
                "InferenceComponentStatus": component.status,
            }
            if not component.is_adapter:
                response["RuntimeConfig"] = {"DesiredCopyCount": component.desired,
                                             "CurrentCopyCount": component.current}
            if component.failure_reason:
                response["FailureReason"] = component.failure_reason
            if component.last_deployment_config:
                response["LastDeploymentConfig"] = component.last_deployment_config
            return response

    def _endpoint_images(self, model_name: str) -> list[dict]:
        # the same resolution DescribeEndpoint's DeployedImages uses (a package's ImageDigest, or the image's)
        return self.endpoints._deployed_images(model_name, self.clock.now())

    # ----- InvokeEndpoint
    def invoke(self, endpoint: str, name: str | None) -> dict[str, Any]:
        """What answers a request to `name` on `endpoint` now: {component, base_version, adapter,
        adapter_version}; ValidationError as SageMaker answers when nothing can."""
        with self._lock:
            self.tick()
            if name is None:
                raise validation_error(COMPONENT_REQUIRED)
            component = self.components.get(name)
            if component is None or component.endpoint != endpoint:
                raise validation_error(f"Inference Component {name} not found for endpoint {endpoint}.")
            base = self.components.get(component.base_name) if component.is_adapter else component
            if component.status not in ("InService", "Updating") or base is None or \
                    base.status not in ("InService", "Updating"):
                raise validation_error(f"Inference Component {name} is {component.status}, not InService.")
            now = self.clock.now()
            self.scaler.invoked(endpoint, now)
            if base.current == 0:
                self.scaler.no_capacity(component, now)
                raise validation_error(NO_CAPACITY_MESSAGE)
            base.served += 1
            base_spec = self._answering_spec(base)
            served = {"component": name, "base_version": self._model_version(base_spec.get("ModelName"))}
            if component.is_adapter:
                served.update(self._adapter_of(component.spec))
            return served

    def _answering_spec(self, base: Component) -> dict:
        """During a rolling update the new copies answer their share of requests."""
        rolling = base.rolling
        if rolling is None or base.rollback_until is not None:
            return base.spec
        now = self.clock.now()
        new = max((n for start, n in rolling.steps if start <= now), default=0)
        return rolling.spec if base.current and (base.served % base.current) < new else base.spec

    def _model_version(self, model_name: str | None) -> str | None:
        backend = self._backend()
        model = backend._models.get(model_name) if model_name else None
        name = (model.primary_container or {}).get("ModelPackageName") if model else None
        package = model_package(backend, name) if name else None
        return (package.customer_metadata_properties or {}).get("pin-version") if package else None

    @staticmethod
    def _adapter_of(spec: dict) -> dict[str, str | None]:
        """The adapter name and version from a pinned archive's URL (<model>/adapters/<a>/<v>/adapter.tar.gz)."""
        parts = (spec.get("Container") or {}).get("ArtifactUrl", "").split("/")
        if "adapters" in parts and len(parts) >= parts.index("adapters") + 3:
            i = parts.index("adapters")
            return {"adapter": parts[i + 1], "adapter_version": parts[i + 2]}
        return {"adapter": None, "adapter_version": None}

    # ----- over time
    def tick(self) -> None:
        with self._lock:
            now = self.clock.now()
            for component in sorted(self.components.values(), key=lambda c: c.is_adapter):
                self._tick(component, now)
            self.scaler.tick(now)

    def _tick(self, component: Component, now: float) -> None:
        if component.status == "Creating":
            self._creating(component, now)
        elif component.status == "Updating" and component.is_adapter:
            if component.ready_at is not None and now >= component.ready_at:
                component.spec, component.next_spec, component.ready_at = component.next_spec, None, None
                self._set(component, "InService")
        elif component.status == "Updating":
            self._rolling(component, now)
        elif component.status == "InService" and not component.is_adapter:
            self.scaler.settle(component, now)

    def _creating(self, component: Component, now: float) -> None:
        if component.is_adapter:
            base = self.components.get(component.base_name)
            if base is None or base.status != "InService":
                return
            if component.ready_at is None:
                component.ready_at = max(base.since, component.created) + self.timings.adapter_s
            if now >= component.ready_at:
                component.since, component.ready_at = component.ready_at, None
                self._set(component, "InService")
            return
        if self.endpoint_status(component.endpoint) != "InService":
            return  # CloudFormation would have waited for the endpoint; the emulator's does not
        if component.ready_at is None:
            problem = self.scaler.placement_problem(component, component.desired)
            if problem:
                component.failure_reason = problem
                self._set(component, "Failed")
                return
            component.ready_at = now + self.scaler.start_delay(component, component.desired)
        if now >= component.ready_at:
            component.since, component.ready_at, component.current = component.ready_at, None, component.desired
            self._set(component, "InService")

    def _rolling(self, component: Component, now: float) -> None:
        rolling = component.rolling
        if rolling is None:  # a runtime-config-only update
            if component.ready_at is None or now >= component.ready_at:
                self.scaler.settle(component, now)
                if component.ready_at is None:
                    self._set(component, "InService")
            return
        if component.rollback_until is not None:
            if now >= component.rollback_until:
                component.rolling, component.rollback_until = None, None
                self._set(component, "InService")
            return
        firing = [a for a in rolling.rollback_alarms if alarm_state(self.account_id, self.region, a) == "ALARM"]
        if firing:
            component.failure_reason = (f"Deployment rolled back: alarm(s) {', '.join(firing)} in ALARM while "
                                        "updating; every copy is back on the previous specification")
            component.rollback_until = now + self.timings.rollback_s
            return
        if now >= rolling.end:
            component.spec, component.rolling = rolling.spec, None
            self._set(component, "InService")
