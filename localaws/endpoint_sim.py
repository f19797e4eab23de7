"""SageMaker endpoints over time: the per-endpoint simulation behind the emulator.

`AwsEmulator` keeps one `EndpointSimulator` for its account and region; the SageMaker
patches (`moto_patches/sagemaker.py`) hand it every create, update, describe and delete of
an endpoint there, and it models:

- UpdateEndpoint with DeploymentConfig, RetainAllVariantProperties and
  RetainDeploymentConfig, refused while the endpoint is not InService;
- endpoint status over time on a simulated clock (`SimClock`): Creating -> InService;
  Updating through blue/green stages (green fleet Creating, ActivatingTraffic per
  ALL_AT_ONCE / CANARY / LINEAR step, Baking for the wait interval and the termination
  wait; `bluegreen.py`) -> InService on the new config; RollingBack when an
  AutoRollbackConfiguration alarm is in ALARM while Updating -> InService on the old
  config, with a FailureReason; Failed with a FailureReason on an injected fault;
- DescribeEndpoint: ProductionVariants[].DeployedImages (ResolvedImage from the model
  package's ImageDigest, or the model's image), PendingDeploymentSummary while
  Updating, LastDeploymentConfig;
- SageMaker refuses an instance-type change of a variant registered with Application
  Auto Scaling, as AWS does;
- endpoint instance quotas (`quotas.py`): a create or an update (both fleets and any shadow)
  above the account's quota for an instance type is refused with ResourceLimitExceeded.

Not modelled: MaximumExecutionTimeoutInSeconds, Deleting (deletes are immediate),
instance-level health, capacity (beyond quotas). Update failures end `Failed` here; real
SageMaker usually returns a blue/green update that failed to InService on the old fleet
with a FailureReason.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from config.naming import PIN_VERSION
from localaws.bluegreen import SimClock, Stage, Timings, blue_green_stages
from localaws.quotas import QuotaBook, fleet
from localaws.moto_backends import (
    alarm_state,
    autoscaled,
    model_package,
    sagemaker_arn,
    sagemaker_backend,
    validation_error,
)


@dataclass
class _Deployment:
    config_name: str
    variants: list[dict]
    started: float
    stages: list[Stage]
    deployment_config: dict | None
    rollback_alarms: list[str]
    images: dict[str, list[dict]] = field(default_factory=dict)  # variant -> DeployedImages
    stuck: bool = False
    fail_reason: str | None = None

    @property
    def end(self) -> float:
        return self.stages[-1].end if self.stages else self.started


@dataclass
class _EndpointSim:
    name: str
    status: str
    config_name: str  # the live (blue) config
    variants: list[dict]  # the live variants, as in the endpoint config
    ready_at: float = 0.0  # end of Creating / RollingBack
    failure_reason: str | None = None
    create_fail_reason: str | None = None
    pending: _Deployment | None = None
    last_deployment_config: dict | None = None
    images: dict[str, list[dict]] = field(default_factory=dict)  # variant -> DeployedImages
    history: list[str] = field(default_factory=list)  # statuses, in order, for tests


def _resolve(image: str, digest: str | None) -> str:
    """repo@sha256:...: the package's ImageDigest, the image's own digest, or (a tag with
    no digest known) a fake digest derived from the tag, stable across runs."""
    if "@" in image:
        return image
    last = image.rsplit("/", 1)[-1]
    repo = image.rsplit(":", 1)[0] if ":" in last else image
    if not digest:
        digest = "sha256:" + hashlib.sha256(image.encode()).hexdigest()
    return f"{repo}@{digest}"


class EndpointSimulator:
    """The endpoints of one account and region, their statuses on `clock`, and the faults
    and stage hooks a test set for them. Shares the emulator's (re-entrant) lock: a stage
    hook may set an alarm, which ticks the endpoints again."""

    def __init__(self, clock: SimClock, timings: Timings, account_id: str, region: str,
                 lock: threading.RLock) -> None:
        self.clock, self.timings = clock, timings
        self.account_id, self.region = account_id, region
        self._lock = lock
        self._sims: dict[str, _EndpointSim] = {}
        self._stuck: set[str] | None = set()  # endpoint names; None = all
        self._fail_next: dict[str, str] = {}
        self._stage_hooks: list[tuple[str, str, Callable[[], None]]] = []
        self.quotas = QuotaBook(account_id, region)

    # ----- faults and hooks (AwsEmulator's control API)
    def stick_updates(self, endpoint_name: str | None, stuck: bool) -> None:
        with self._lock:
            if endpoint_name is None:
                self._stuck = None if stuck else set()
            elif self._stuck is not None:
                (self._stuck.add if stuck else self._stuck.discard)(endpoint_name)
            for sim in self._sims.values():
                if sim.pending and (endpoint_name is None or sim.name == endpoint_name):
                    sim.pending.stuck = stuck

    def fail_next(self, endpoint_name: str, reason: str) -> None:
        with self._lock:
            self._fail_next[endpoint_name] = reason

    def on_stage(self, endpoint_name: str, stage_status: str, action: Callable[[], None]) -> None:
        with self._lock:
            self._stage_hooks.append((endpoint_name, stage_status, action))

    def status_history(self, endpoint_name: str) -> list[str]:
        with self._lock:
            return list(self._sims[endpoint_name].history)

    # ----- status over time
    def tick(self) -> None:
        with self._lock:
            now = self.clock.now()
            for sim in list(self._sims.values()):
                self._tick(sim, now)

    def _set_status(self, sim: _EndpointSim, status: str) -> None:
        sim.status = status
        if not sim.history or sim.history[-1] != status:
            sim.history.append(status)
        fake = sagemaker_backend(self.account_id, self.region).endpoints.get(sim.name)
        if fake is not None:  # keep moto's own object (ListEndpoints) in step
            fake.endpoint_status = status
            fake.failure_reason = sim.failure_reason
            fake.endpoint_config_name = sim.config_name
            fake.last_modified_time = self.clock.datetime(self.clock.now())

    def _tick(self, sim: _EndpointSim, now: float) -> None:
        if sim.status == "Creating" and now >= sim.ready_at:
            if sim.create_fail_reason:
                sim.failure_reason = sim.create_fail_reason
                self._set_status(sim, "Failed")
            else:
                self._set_status(sim, "InService")
        elif sim.status == "Updating" and sim.pending is not None:
            dep = sim.pending
            self._run_stage_hooks(sim, dep, now)
            firing = [a for a in dep.rollback_alarms if alarm_state(self.account_id, self.region, a) == "ALARM"]
            if firing:
                sim.failure_reason = (f"Deployment rolled back: rollback alarm(s) {', '.join(firing)} "
                                      f"in ALARM while updating to {dep.config_name}")
                sim.ready_at = now + self.timings.rollback_s
                self._set_status(sim, "RollingBack")
                self._tick(sim, now)
            elif not dep.stuck and now >= dep.end:
                if dep.fail_reason:
                    sim.failure_reason = dep.fail_reason
                    sim.pending = None
                    self._set_status(sim, "Failed")
                else:
                    sim.config_name, sim.variants, sim.images = dep.config_name, dep.variants, dep.images
                    sim.pending = None
                    sim.failure_reason = None
                    self._set_status(sim, "InService")
        elif sim.status == "RollingBack" and now >= sim.ready_at:
            sim.pending = None
            self._set_status(sim, "InService")

    def _run_stage_hooks(self, sim: _EndpointSim, dep: _Deployment, now: float) -> None:
        stage = next((st for st in dep.stages if st.start <= now < st.end), None)
        if stage is None:
            return
        for hook in [h for h in self._stage_hooks if h[0] == sim.name and h[1] == stage.status]:
            self._stage_hooks.remove(hook)
            hook[2]()

    def busy(self, endpoint_name: str) -> bool:
        """Is the endpoint Creating, Updating or RollingBack (held stacks wait for it)?"""
        with self._lock:
            sim = self._sims.get(endpoint_name)
            return sim is not None and sim.status in ("Creating", "Updating", "RollingBack")

    def failure_reason(self, endpoint_name: str) -> str | None:
        """Why the last update did not end on its new config (rolled back or Failed), else None."""
        with self._lock:
            sim = self._sims.get(endpoint_name)
            return sim.failure_reason if sim is not None else None

    # ----- what the live fleet runs
    def live_config(self, endpoint_name: str) -> str | None:
        """The live (blue) endpoint config, None for an endpoint not simulated."""
        with self._lock:
            sim = self._sims.get(endpoint_name)
            return sim.config_name if sim is not None else None

    def live_version(self, endpoint_name: str) -> str | None:
        """The `pin-version` the live (blue) fleet serves: its model package's, or the tag of a model
        built from the pin (stacks/constructs/llm_endpoint.py)."""
        with self._lock:
            sim = self._sims.get(endpoint_name)
            if sim is None or not sim.variants:
                return None
            backend = sagemaker_backend(self.account_id, self.region)
            model = backend._models.get(sim.variants[0].get("ModelName"))
            if model is None:
                return None
            name = (model.primary_container or {}).get("ModelPackageName")
            if not name:
                return next((t["Value"] for t in model.tags or [] if t.get("Key") == PIN_VERSION), None)
            package = model_package(backend, name)
            return ((package.customer_metadata_properties or {}).get(PIN_VERSION)) if package else None

    def serving_version(self, endpoint_name: str) -> str | None:
        """The live version of an endpoint that can answer InvokeEndpoint now, else ValidationError."""
        with self._lock:
            self.tick()
            sim = self._sims.get(endpoint_name)
            if sim is None or sim.status not in ("InService", "Updating", "RollingBack"):
                raise validation_error(f"Endpoint {endpoint_name} of account {self.account_id} not found."
                                       if sim is None else f"Endpoint {endpoint_name} is {sim.status}, not InService.")
            return self.live_version(endpoint_name)

    # ----- instance quotas
    def _shadow_fleet(self, config_name: str):
        config = sagemaker_backend(self.account_id, self.region).endpoint_configs.get(config_name)
        return fleet(getattr(config, "shadow_production_variants", None) or [])

    def instances_in_use(self):
        """Instances per type that the account's endpoints run now: live fleets, fleets being deployed, shadows."""
        with self._lock:
            used = fleet([])
            for sim in self._sims.values():
                if sim.status == "Failed":
                    continue
                used += fleet(sim.variants) + self._shadow_fleet(sim.config_name)
                if sim.pending is not None:
                    used += fleet(sim.pending.variants) + self._shadow_fleet(sim.pending.config_name)
            return used

    def refuse_over_quota(self, config_name: str, variants: list[dict] | None = None) -> None:
        """ResourceLimitExceeded when the config's fleet (`variants`: as deployed, if not the config's own)
        and its shadow would not fit the account's quotas next to what already runs."""
        config = sagemaker_backend(self.account_id, self.region).endpoint_configs.get(config_name)
        if config is None:
            return  # moto answers the missing config itself
        self.quotas.refuse_if_exceeded(self.instances_in_use(), fleet(variants if variants is not None else
                                                                      config.production_variants)
                                       + self._shadow_fleet(config_name))

    def retained_deployment_config(self, name: str, retain: bool) -> dict | None:
        """The DeploymentConfig an UpdateEndpoint without one runs under (RetainDeploymentConfig)."""
        with self._lock:
            sim = self._sims.get(name)
            return sim.last_deployment_config if retain and sim is not None else None

    # ----- CreateEndpoint, UpdateEndpoint, DescribeEndpoint, DeleteEndpoint
    def create(self, name: str, config_name: str, variants: list[dict], deployment_config: dict | None) -> None:
        with self._lock:
            now = self.clock.now()
            sim = _EndpointSim(name=name, status="Creating", config_name=config_name,
                               variants=copy.deepcopy(variants), ready_at=now + self.timings.create_s,
                               create_fail_reason=self._fail_next.pop(name, None),
                               last_deployment_config=deployment_config)
            sim.images = self._resolve_images(variants, now)
            self._sims[name] = sim
            sim.history.append("Creating")
            self._set_status(sim, "Creating")
            self._tick(sim, now)

    def update(self, name: str, config_name: str, deployment_config: dict | None,
               retain_all: bool, exclude_retained: list[dict] | None, retain_deployment_config: bool) -> None:
        backend = sagemaker_backend(self.account_id, self.region)
        with self._lock:
            now = self.clock.now()
            sim = self._sims.get(name)
            arn = sagemaker_arn(self.account_id, self.region, "endpoint", name)
            if sim is None:
                raise validation_error(f"Could not find endpoint \"{arn}\".")
            self._tick(sim, now)
            if sim.status != "InService":
                raise validation_error(f"Cannot update in-progress endpoint \"{arn}\".")
            config = backend.describe_endpoint_config(config_name)  # ValidationError when missing
            variants = copy.deepcopy(config["ProductionVariants"])
            live_types = {v["VariantName"]: v.get("InstanceType") for v in sim.variants}
            for variant in variants:
                old_type = live_types.get(variant["VariantName"])
                if old_type and old_type != variant.get("InstanceType") and \
                        autoscaled(self.account_id, self.region, f"endpoint/{name}/variant/{variant['VariantName']}"):
                    raise validation_error(
                        f"The variant(s) \"[{variant['VariantName']}]\" must be deregistered as scalable targets "
                        "with AWS Application Auto Scaling before they can be updated with a different instance type.")
            if retain_all:
                excluded = {e.get("VariantPropertyType") for e in exclude_retained or []}
                live = {v["VariantName"]: v for v in sim.variants}
                for variant in variants:
                    old = live.get(variant["VariantName"])
                    if old is None:
                        continue
                    if "DesiredInstanceCount" not in excluded and "InitialInstanceCount" in old:
                        variant["InitialInstanceCount"] = old["InitialInstanceCount"]
                    if "DesiredWeight" not in excluded and "InitialVariantWeight" in old:
                        variant["InitialVariantWeight"] = old["InitialVariantWeight"]
            # Blue/green: the new fleet comes up at full size while the old one still runs.
            self.refuse_over_quota(config_name, variants)
            if deployment_config is None and retain_deployment_config:
                deployment_config = sim.last_deployment_config
            alarms = [a["AlarmName"] for a in ((deployment_config or {}).get("AutoRollbackConfiguration") or {}).get("Alarms", [])]
            stuck = self._stuck is None or name in self._stuck
            sim.pending = _Deployment(config_name=config_name, variants=variants, started=now,
                                      stages=blue_green_stages(now, deployment_config, self.timings),
                                      deployment_config=deployment_config, rollback_alarms=alarms,
                                      images=self._resolve_images(variants, now),
                                      stuck=stuck, fail_reason=self._fail_next.pop(name, None))
            if deployment_config is not None:
                sim.last_deployment_config = deployment_config
            sim.failure_reason = None
            self._set_status(sim, "Updating")
            self._tick(sim, now)

    def describe(self, name: str, response: dict) -> dict:
        """moto's DescribeEndpoint answer with the simulated status, variants and deployment."""
        with self._lock:
            sim = self._sims.get(name)
            if sim is None:
                return response
            now = self.clock.now()
            self._tick(sim, now)
            response = dict(response)
            response["EndpointStatus"] = sim.status
            response["EndpointConfigName"] = sim.config_name
            response.pop("FailureReason", None)
            if sim.failure_reason:
                response["FailureReason"] = sim.failure_reason
            if sim.last_deployment_config:
                response["LastDeploymentConfig"] = sim.last_deployment_config
            response["ProductionVariants"] = [self._variant_summary(v, sim.images) for v in sim.variants]
            dep = sim.pending
            if dep is not None and sim.status in ("Updating", "RollingBack"):
                stage = next((s for s in dep.stages if s.start <= now < s.end), dep.stages[-1])
                if sim.status == "RollingBack":
                    stage = Stage(now, now, "Deleting", "Rolling back: removing the new fleet", 0)
                pending = []
                for v in dep.variants:
                    summary = self._variant_summary(v, dep.images)
                    summary["InstanceType"] = v.get("InstanceType")
                    summary["CurrentWeight"] = float(stage.green_percent) / 100.0
                    summary["DesiredWeight"] = float(v.get("InitialVariantWeight", 1.0))
                    summary["VariantStatus"] = [{"Status": stage.status, "StatusMessage": stage.message,
                                                 "StartTime": self.clock.datetime(stage.start)}]
                    pending.append({k: val for k, val in summary.items() if val is not None})
                response["PendingDeploymentSummary"] = {
                    "EndpointConfigName": dep.config_name,
                    "ProductionVariants": pending,
                    "StartTime": self.clock.datetime(dep.started),
                }
            else:
                response.pop("PendingDeploymentSummary", None)
            return response

    def delete(self, name: str) -> None:
        with self._lock:
            self._sims.pop(name, None)

    def _resolve_images(self, variants: list[dict], now: float) -> dict[str, list[dict]]:
        # Resolved when the deployment starts, as SageMaker does: later tag moves or a
        # deleted model do not change what an endpoint runs.
        return {v["VariantName"]: self._deployed_images(v.get("ModelName"), now) for v in variants}

    def _variant_summary(self, variant: dict, images: dict[str, list[dict]]) -> dict:
        count = variant.get("InitialInstanceCount")
        summary: dict[str, Any] = {"VariantName": variant["VariantName"],
                                   "DeployedImages": images.get(variant["VariantName"], [])}
        if count is not None:
            summary["CurrentInstanceCount"] = summary["DesiredInstanceCount"] = int(count)
        weight = float(variant.get("InitialVariantWeight", 1.0))
        summary["CurrentWeight"] = summary["DesiredWeight"] = weight
        if variant.get("RoutingConfig"):
            summary["RoutingConfig"] = variant["RoutingConfig"]
        return summary

    def _deployed_images(self, model_name: str | None, now: float) -> list[dict]:
        backend = sagemaker_backend(self.account_id, self.region)
        model = backend._models.get(model_name) if model_name else None
        if model is None:
            return []
        images = []
        for container in ([model.primary_container] if model.primary_container else []) + list(model.containers or []):
            specified, digest = container.get("Image"), None
            package_name = container.get("ModelPackageName")
            if package_name:
                package = model_package(backend, package_name)
                if package is None:  # a missing package leaves no image, as a failed pull would
                    continue
                spec = (package.inference_specification or {}).get("Containers", [{}])[0]
                specified, digest = spec.get("Image"), spec.get("ImageDigest")
            if not specified:
                continue
            images.append({"SpecifiedImage": specified, "ResolvedImage": _resolve(specified, digest),
                           "ResolutionTime": self.clock.datetime(now)})
        return images
