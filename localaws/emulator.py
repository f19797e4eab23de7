"""A local AWS for tests and the demo: moto's server on 127.0.0.1, with SageMaker gaps filled.

`AwsEmulator` runs moto's `ThreadedMotoServer` in-process on 127.0.0.1 and a free port,
and, while it runs, patches moto's SageMaker, CloudWatch and CloudFormation code in
this process to model what deploy, promote and rollback rely on:

- instance types: endpoint configs accept every `ProductionVariantInstanceType` in
  botocore's own SageMaker service model (moto's hand list predates ml.g5.*);
- UpdateEndpoint with DeploymentConfig, RetainAllVariantProperties and
  RetainDeploymentConfig, refused while the endpoint is not InService;
- endpoint status over time on a simulated clock (`SimClock`): Creating -> InService;
  Updating through blue/green stages (green fleet Creating, ActivatingTraffic per
  ALL_AT_ONCE / CANARY / LINEAR step, Baking for the wait interval and the termination
  wait) -> InService on the new config; RollingBack when an AutoRollbackConfiguration
  alarm is in ALARM while Updating -> InService on the old config, with a FailureReason;
  Failed with a FailureReason on an injected fault;
- DescribeEndpoint: ProductionVariants[].DeployedImages (ResolvedImage from the model
  package's ImageDigest, or the model's image), PendingDeploymentSummary while
  Updating, LastDeploymentConfig;
- CloudFormation: AWS::SageMaker::Endpoint honours `EndpointName`, and an update becomes
  an UpdateEndpoint with the template's DeploymentConfig (moto deletes and recreates);
  SageMaker resources are updated in dependency order (Model, EndpointConfig, Endpoint);
  handlers for the types of our stacks that moto's CloudFormation skips or breaks:
  CloudWatch alarms, SageMaker model package groups and packages, S3 bucket policies,
  Application Auto Scaling targets (with scheduled actions) and policies, SNS topic
  policies and subscriptions, KMS keys with tags;
- the CDK CLI path (`cdk bootstrap`, `cdk deploy` by change sets): TemplateURL on
  127.0.0.1, exports registered by change sets, change sets scoped to their stack,
  UsePreviousValue of an SSM-typed parameter, and `account_id=` (moto's MOTO_ACCOUNT_ID)
  so stacks pinned to another account (dev: 111111111111) deploy unchanged;
- SageMaker refuses an instance-type change of a variant registered with Application
  Auto Scaling, as AWS does;
- a control API for tests: `advance()` the clock, `set_alarm_state()`, faults
  (`throttle()`: a fraction of SageMaker calls answer ThrottlingException;
  `stick_updates()`: Updating never finishes; `fail_next()`: the next create or update
  of an endpoint ends Failed).

Not modelled (a test/demo double, not AWS): alarm evaluation from metrics (alarms change
only by `set_alarm_state`), MaximumExecutionTimeoutInSeconds, Deleting (deletes are
immediate), instance-level health, capacity and quotas, the InvokeEndpoint data plane
(see `runtime_endpoint.py`), Application Auto Scaling in CloudFormation (moto reports
scalable targets and policies CREATE_COMPLETE without creating them), and CloudFormation
waiting for the endpoint: moto's stacks finish at once, so a stack update whose endpoint
later rolls back still ends UPDATE_COMPLETE; watch DescribeEndpoint, not the stack.
Update failures end `Failed` here; real SageMaker usually returns a blue/green update
that failed to InService on the old fleet with a FailureReason.

The patches are process-wide: one emulator runs at a time, and `stop()` restores moto
and resets its state. Use it as a context manager so a test never leaves it running.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import logging
import os
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from collections.abc import Callable
from typing import Any, ClassVar, Self
from urllib.parse import unquote, urlparse

import botocore.session

DEFAULT_ACCOUNT = "123456789012"  # moto's account: what STS GetCallerIdentity returns
_ACTIVE: AwsEmulator | None = None
_ACTIVE_LOCK = threading.Lock()


def botocore_instance_types() -> list[str]:
    """ProductionVariantInstanceType from botocore's SageMaker model (no hand list)."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    return list(model.shape_for("ProductionVariantInstanceType").enum)


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
class _Stage:
    start: float
    end: float
    status: str  # ProductionVariantStatus: Creating | ActivatingTraffic | Baking
    message: str
    green_percent: int


@dataclass
class _Deployment:
    config_name: str
    variants: list[dict]
    started: float
    stages: list[_Stage]
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


def _stages(start: float, deployment_config: dict | None, timings: Timings) -> list[_Stage]:
    t = start
    stages = [_Stage(t, t + timings.provision_s, "Creating", "Creating the new (green) fleet", 0)]
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
        stages.append(_Stage(t, t, "ActivatingTraffic", label, percent))
        stages.append(_Stage(t, t + wait, "Baking", f"{label}, waiting {wait:g} s", percent))
        t += wait
    termination = float(policy.get("TerminationWaitInSeconds", 0)) * timings.wait_scale
    stages.append(_Stage(t, t + termination, "Baking", f"all traffic on the new fleet; old fleet terminates in {termination:g} s", 100))
    return stages


class AwsEmulator:
    """moto_server on 127.0.0.1:<free port> plus the SageMaker model described above."""

    def __init__(self, timings: Timings | None = None, clock: SimClock | None = None,
                 region: str = "us-east-1", seed: int = 7, account_id: str = DEFAULT_ACCOUNT) -> None:
        self.timings = timings or Timings()
        self.clock = clock or SimClock()
        self.region = region
        # Another account (the dev environment's 111111111111) is moto's MOTO_ACCOUNT_ID,
        # set in this process while the emulator runs: every request, and STS
        # GetCallerIdentity, is then in that account, so the CDK CLI deploys stacks whose
        # env names it without any change to environments/*.yaml.
        self.account_id = account_id
        self._saved_account_env: str | None = None
        self._random = random.Random(seed)
        self._lock = threading.RLock()
        self._sims: dict[str, _EndpointSim] = {}
        self._throttle_rate = 0.0
        self._throttle_ops: set[str] | None = None
        self.throttled = 0  # calls answered ThrottlingException
        self._stuck: set[str] | None = set()  # endpoint names; None = all
        self._fail_next: dict[str, str] = {}
        self._failing_stacks: dict[str, str] = {}  # stack name -> reason of its next update's failure
        self._stage_hooks: list[tuple[str, str, Callable[[AwsEmulator], None]]] = []
        # InvokeEndpoint: (endpoint name, live model version or None, request JSON) -> response JSON
        self.responder: Callable[[str, str | None, dict], dict] = echo_responder
        self.invocations: list[tuple[str, str | None, dict]] = []
        self._server = None
        self._patches: list[tuple[Any, str, Any, bool]] = []
        self._werkzeug_level: int | None = None

    # ----- lifecycle
    def start(self) -> Self:
        global _ACTIVE
        from moto.server import ThreadedMotoServer

        with _ACTIVE_LOCK:
            if _ACTIVE is not None:
                raise RuntimeError("an AwsEmulator is already running in this process")
            _ACTIVE = self
        try:
            _reset_moto()
            if self.account_id != DEFAULT_ACCOUNT:
                self._saved_account_env = os.environ.get("MOTO_ACCOUNT_ID", "")
                os.environ["MOTO_ACCOUNT_ID"] = self.account_id
            _install(self)
            werkzeug_log = logging.getLogger("werkzeug")
            self._werkzeug_level = werkzeug_log.level
            werkzeug_log.setLevel(logging.WARNING)  # no line per request
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self._server.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        global _ACTIVE
        server, self._server = self._server, None
        if server is not None:
            server.stop()  # shutdown() and join the serving thread
            if server._server is not None:
                server._server.server_close()  # ThreadedMotoServer leaves the socket open
        for obj, name, original, existed in reversed(self._patches):
            if existed:
                setattr(obj, name, original)
            else:
                delattr(obj, name)
        self._patches.clear()
        if self._werkzeug_level is not None:
            logging.getLogger("werkzeug").setLevel(self._werkzeug_level)
            self._werkzeug_level = None
        if self._saved_account_env is not None:
            if self._saved_account_env:
                os.environ["MOTO_ACCOUNT_ID"] = self._saved_account_env
            else:
                os.environ.pop("MOTO_ACCOUNT_ID", None)
            self._saved_account_env = None
        _reset_moto()
        with _ACTIVE_LOCK:
            if _ACTIVE is self:
                _ACTIVE = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return self._server.get_host_and_port()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment for a subprocess (the CDK CLI, the project's commands)."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            # one key per account: the CDK CLI caches the account of an access key
            # (~/.cdk/cache/accounts_partitions.json)
            "AWS_ACCESS_KEY_ID": f"EMULATOR{self.account_id}",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }

    def client(self, service: str, **kwargs):
        import boto3

        return boto3.client(service, endpoint_url=self.url, region_name=self.region,
                            aws_access_key_id=f"EMULATOR{self.account_id}", aws_secret_access_key="testing",
                            **kwargs)

    # ----- control API for tests
    def advance(self, seconds: float) -> None:
        """Move the simulated clock; endpoint statuses follow on the next call."""
        self.clock.advance(seconds)
        self.tick()

    def set_alarm_state(self, alarm_name: str, state: str, reason: str = "set by a test") -> None:
        """Same as CloudWatch SetAlarmState (which also works through boto3)."""
        _cloudwatch(self).set_alarm_state(alarm_name, reason, None, state)

    def throttle(self, rate: float, operations: set[str] | None = None) -> None:
        """Answer ThrottlingException to `rate` of SageMaker calls (seeded, so repeatable);
        only to `operations` (e.g. {"DescribeEndpoint"}) when given. rate=0 turns it off."""
        self._throttle_rate, self._throttle_ops = rate, operations

    def stick_updates(self, endpoint_name: str | None = None, stuck: bool = True) -> None:
        """Updates of that endpoint (all endpoints when None) stay Updating for ever."""
        with self._lock:
            if endpoint_name is None:
                self._stuck = None if stuck else set()
            elif self._stuck is not None:
                (self._stuck.add if stuck else self._stuck.discard)(endpoint_name)
            for sim in self._sims.values():
                if sim.pending and (endpoint_name is None or sim.name == endpoint_name):
                    sim.pending.stuck = stuck

    def fail_next(self, endpoint_name: str, reason: str = "Injected fault: the new fleet failed its health checks") -> None:
        """The next create or update of that endpoint ends Failed with this FailureReason."""
        with self._lock:
            self._fail_next[endpoint_name] = reason

    def fail_stack_update(self, stack_name: str,
                          reason: str = "Injected fault: Resource handler returned message: \"Internal failure\"") -> None:
        """The next change set executed on that stack fails: nothing is applied, the stack
        ends UPDATE_ROLLBACK_COMPLETE with this reason, as after a CloudFormation rollback."""
        with self._lock:
            self._failing_stacks[stack_name] = reason

    def on_stage(self, endpoint_name: str, stage_status: str, action: Callable[[AwsEmulator], None]) -> None:
        """Run `action(emulator)` once, the first time an update of that endpoint is seen in a
        blue/green stage with that VariantStatus ("Creating", "ActivatingTraffic", "Baking"):
        e.g. set a rollback alarm to ALARM while the canary bakes."""
        with self._lock:
            self._stage_hooks.append((endpoint_name, stage_status, action))

    def status_history(self, endpoint_name: str) -> list[str]:
        with self._lock:
            return list(self._sims[endpoint_name].history)

    # ----- the model
    def tick(self) -> None:
        with self._lock:
            now = self.clock.now()
            for sim in list(self._sims.values()):
                self._tick(sim, now)

    def _set_status(self, sim: _EndpointSim, status: str) -> None:
        sim.status = status
        if not sim.history or sim.history[-1] != status:
            sim.history.append(status)
        fake = _backend(self).endpoints.get(sim.name)
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
            firing = [a for a in dep.rollback_alarms if _alarm_state(self, a) == "ALARM"]
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
            hook[2](self)

    def live_version(self, endpoint_name: str) -> str | None:
        """The `pin-version` of the model package the live (blue) fleet serves."""
        with self._lock:
            sim = self._sims.get(endpoint_name)
            if sim is None or not sim.variants:
                return None
            backend = _backend(self)
            model = backend._models.get(sim.variants[0].get("ModelName"))
            name = (model.primary_container or {}).get("ModelPackageName") if model else None
            package = _package(backend, name) if name else None
            return ((package.customer_metadata_properties or {}).get("pin-version")) if package else None

    def _invoke(self, endpoint_name: str, payload: dict) -> dict:
        with self._lock:
            self.tick()
            sim = self._sims.get(endpoint_name)
            if sim is None or sim.status not in ("InService", "Updating", "RollingBack"):
                raise _validation(f"Endpoint {endpoint_name} of account {self.account_id} not found."
                                  if sim is None else f"Endpoint {endpoint_name} is {sim.status}, not InService.")
            version = self.live_version(endpoint_name)
            self.invocations.append((endpoint_name, version, payload))
        return self.responder(endpoint_name, version, payload)

    def _on_create(self, name: str, config_name: str, variants: list[dict], deployment_config: dict | None) -> None:
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

    def _update(self, name: str, config_name: str, deployment_config: dict | None,
                retain_all: bool, exclude_retained: list[dict] | None, retain_deployment_config: bool) -> None:
        backend = _backend(self)
        with self._lock:
            now = self.clock.now()
            sim = self._sims.get(name)
            if sim is None:
                raise _validation(f"Could not find endpoint \"{_arn(self, 'endpoint', name)}\".")
            self._tick(sim, now)
            if sim.status != "InService":
                raise _validation(f"Cannot update in-progress endpoint \"{_arn(self, 'endpoint', name)}\".")
            config = backend.describe_endpoint_config(config_name)  # ValidationError when missing
            variants = copy.deepcopy(config["ProductionVariants"])
            live_types = {v["VariantName"]: v.get("InstanceType") for v in sim.variants}
            for variant in variants:
                old_type = live_types.get(variant["VariantName"])
                if old_type and old_type != variant.get("InstanceType") and \
                        _autoscaled(self, f"endpoint/{name}/variant/{variant['VariantName']}"):
                    raise _validation(
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
            if deployment_config is None and retain_deployment_config:
                deployment_config = sim.last_deployment_config
            alarms = [a["AlarmName"] for a in ((deployment_config or {}).get("AutoRollbackConfiguration") or {}).get("Alarms", [])]
            stuck = self._stuck is None or name in self._stuck
            sim.pending = _Deployment(config_name=config_name, variants=variants, started=now,
                                      stages=_stages(now, deployment_config, self.timings),
                                      deployment_config=deployment_config, rollback_alarms=alarms,
                                      images=self._resolve_images(variants, now),
                                      stuck=stuck, fail_reason=self._fail_next.pop(name, None))
            if deployment_config is not None:
                sim.last_deployment_config = deployment_config
            sim.failure_reason = None
            self._set_status(sim, "Updating")
            self._tick(sim, now)

    def _describe(self, name: str, response: dict) -> dict:
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
                    stage = _Stage(now, now, "Deleting", "Rolling back: removing the new fleet", 0)
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
        backend = _backend(self)
        model = backend._models.get(model_name) if model_name else None
        if model is None:
            return []
        images = []
        for container in ([model.primary_container] if model.primary_container else []) + list(model.containers or []):
            specified, digest = container.get("Image"), None
            package_name = container.get("ModelPackageName")
            if package_name:
                package = _package(backend, package_name)
                if package is None:  # a missing package leaves no image, as a failed pull would
                    continue
                spec = (package.inference_specification or {}).get("Containers", [{}])[0]
                specified, digest = spec.get("Image"), spec.get("ImageDigest")
            if not specified:
                continue
            images.append({"SpecifiedImage": specified, "ResolvedImage": _resolve(specified, digest),
                           "ResolutionTime": self.clock.datetime(now)})
        return images

    def _check_throttle(self, operation: str) -> bool:
        if self._throttle_rate <= 0 or (self._throttle_ops is not None and operation not in self._throttle_ops):
            return False
        with self._lock:
            hit = self._random.random() < self._throttle_rate
            self.throttled += hit
        return hit


def echo_responder(endpoint_name: str, version: str | None, payload: dict) -> dict:
    """LMI-style answer that echoes the end of the prompt (tests replace `emu.responder`)."""
    return {"generated_text": str(payload.get("inputs", ""))[-64:]}


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


# ----- moto plumbing
def _reset_moto() -> None:
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


def _backend(emu: AwsEmulator):
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[emu.account_id][emu.region]


def _package(backend, name: str):
    """A model package by versioned ARN or name, as a Model's ModelPackageName gives it."""
    return backend.model_packages.get(backend.model_package_name_mapping.get(name, name))


def _cloudwatch(emu: AwsEmulator):
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[emu.account_id][emu.region]


def _alarm_state(emu: AwsEmulator, name: str) -> str | None:
    alarm = _cloudwatch(emu).alarms.get(name)
    return alarm.state_value if alarm is not None else None


def _autoscaled(emu: AwsEmulator, resource_id: str) -> bool:
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    targets = applicationautoscaling_backends[emu.account_id][emu.region].targets
    return resource_id in targets.get("sagemaker:variant:DesiredInstanceCount", {})


def _arn(emu: AwsEmulator, kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{emu.region}:{emu.account_id}:{kind}/{name}"


def _validation(message: str):
    from moto.sagemaker.exceptions import ValidationError

    return ValidationError(message=message)


def _emulator_for(account_id: str, region: str) -> AwsEmulator | None:
    emu = _ACTIVE
    if emu is None or emu.account_id != account_id or emu.region != region:
        return None  # other accounts and regions get plain moto
    return emu


def _install(emu: AwsEmulator) -> None:
    from moto.cloudformation import parsing
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.core.exceptions import JsonRESTError
    from moto.sagemaker import models, responses

    def patch(obj: Any, name: str, value: Any) -> None:
        existed = name in vars(obj)
        emu._patches.append((obj, name, vars(obj).get(name), existed))
        setattr(obj, name, value)

    # (a) instance types from botocore
    valid_types = set(botocore_instance_types())

    def validate_instance_type(self, instance_type: str) -> None:
        if instance_type not in valid_types:
            raise _validation(f"Value '{instance_type}' at 'instanceType' failed to satisfy constraint: "
                              f"Member must satisfy enum value set: {sorted(valid_types)}")

    patch(models.FakeEndpointConfig, "validate_instance_type", validate_instance_type)

    # (c), (d) endpoint lifecycle on the backend
    backend_cls = models.SageMakerModelBackend
    orig_create = backend_cls.create_endpoint
    orig_describe = backend_cls.describe_endpoint
    orig_delete = backend_cls.delete_endpoint

    def create_endpoint(self, endpoint_name, endpoint_config_name, tags, deployment_config=None):
        e = _emulator_for(self.account_id, self.region_name)
        if e is not None and endpoint_name in self.endpoints:
            raise _validation(f"Cannot create already existing endpoint \"{_arn(e, 'endpoint', endpoint_name)}\".")
        endpoint = orig_create(self, endpoint_name, endpoint_config_name, tags)
        if e is not None:
            config = self.endpoint_configs[endpoint_config_name]
            e._on_create(endpoint_name, endpoint_config_name, config.production_variants, deployment_config)
        return endpoint

    def describe_endpoint(self, endpoint_name):
        response = orig_describe(self, endpoint_name)
        e = _emulator_for(self.account_id, self.region_name)
        return e._describe(endpoint_name, response) if e is not None else response

    def delete_endpoint(self, endpoint_name):
        orig_delete(self, endpoint_name)
        e = _emulator_for(self.account_id, self.region_name)
        if e is not None:
            with e._lock:
                e._sims.pop(endpoint_name, None)

    def update_endpoint(self, endpoint_name, endpoint_config_name, deployment_config=None,
                        retain_all_variant_properties=False, exclude_retained_variant_properties=None,
                        retain_deployment_config=False):
        e = _emulator_for(self.account_id, self.region_name)
        if e is None:
            raise _validation("UpdateEndpoint is modelled only in the emulator's account and region")
        if endpoint_name not in self.endpoints:
            raise _validation(f"Could not find endpoint \"{_arn(e, 'endpoint', endpoint_name)}\".")
        e._update(endpoint_name, endpoint_config_name, deployment_config, bool(retain_all_variant_properties),
                  exclude_retained_variant_properties, bool(retain_deployment_config))
        return self.endpoints[endpoint_name]

    def tick_before(method):
        def wrapper(self, *args, **kwargs):
            e = _emulator_for(self.account_id, self.region_name)
            if e is not None:
                e.tick()
            return method(self, *args, **kwargs)
        return wrapper

    patch(backend_cls, "create_endpoint", create_endpoint)
    patch(backend_cls, "describe_endpoint", describe_endpoint)
    patch(backend_cls, "delete_endpoint", delete_endpoint)
    patch(backend_cls, "update_endpoint", update_endpoint)
    patch(backend_cls, "list_endpoints", tick_before(backend_cls.list_endpoints))

    response_cls = responses.SageMakerResponse

    def r_create_endpoint(self):
        endpoint = self.sagemaker_backend.create_endpoint(
            endpoint_name=self._get_param("EndpointName"),
            endpoint_config_name=self._get_param("EndpointConfigName"),
            tags=self._get_param("Tags"),
            deployment_config=self._get_param("DeploymentConfig"),
        )
        return responses.ActionResult({"EndpointArn": endpoint.arn})

    def r_update_endpoint(self):
        endpoint = self.sagemaker_backend.update_endpoint(
            endpoint_name=self._get_param("EndpointName"),
            endpoint_config_name=self._get_param("EndpointConfigName"),
            deployment_config=self._get_param("DeploymentConfig"),
            retain_all_variant_properties=self._get_param("RetainAllVariantProperties"),
            exclude_retained_variant_properties=self._get_param("ExcludeRetainedVariantProperties"),
            retain_deployment_config=self._get_param("RetainDeploymentConfig"),
        )
        return responses.ActionResult({"EndpointArn": endpoint.arn})

    patch(response_cls, "create_endpoint", r_create_endpoint)
    patch(response_cls, "update_endpoint", r_update_endpoint)

    # InvokeEndpoint: moto answers canned data for any name; the emulator answers for its
    # endpoints while they serve, through `emu.responder`, and knows which version answers.
    from moto.sagemakerruntime import responses as runtime_responses

    orig_invoke = runtime_responses.SageMakerRuntimeResponse.invoke_endpoint

    def r_invoke_endpoint(self):
        e = _emulator_for(self.current_account, self.region)
        if e is None:
            return orig_invoke(self)
        import json as _json

        try:
            payload = _json.loads(self.body or b"{}")
        except ValueError:
            raise _validation("Request body is not JSON") from None
        return 200, {"Content-Type": "application/json", "x-Amzn-Invoked-Production-Variant": "primary"}, \
            _json.dumps(e._invoke(self._get_param("EndpointName") or self.path.split("/")[2], payload))

    patch(runtime_responses.SageMakerRuntimeResponse, "invoke_endpoint", r_invoke_endpoint)

    # (e) throttling: raised before the action runs, answered as a JSON error like AWS's
    orig_auth = response_cls._authenticate_and_authorize_normal_action

    def authenticate(self, *args, **kwargs):
        if emu._check_throttle(self._get_action()):
            raise JsonRESTError("ThrottlingException", "Rate exceeded")
        return orig_auth(self, *args, **kwargs)

    patch(response_cls, "_authenticate_and_authorize_normal_action", authenticate)

    # (c) alarms: bring endpoints up to now before and after an alarm changes state
    orig_set_alarm_state = CloudWatchBackend.set_alarm_state

    def set_alarm_state(self, alarm_name, reason, reason_data, state_value):
        e = _emulator_for(self.account_id, self.region_name)
        if e is not None:
            e.tick()
        orig_set_alarm_state(self, alarm_name, reason, reason_data, state_value)
        if e is not None:
            e.tick()

    patch(CloudWatchBackend, "set_alarm_state", set_alarm_state)

    # (b) CloudFormation
    # AWS::S3::Bucket: moto ignores VersioningConfiguration and Object Lock, so `verify` (and the
    # promotion gate that runs it) would report the weights bucket unprotected.
    from moto.s3.models import FakeBucket, s3_backends

    orig_bucket_create = FakeBucket.create_from_cloudformation_json.__func__

    def cfn_create_bucket(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        bucket = orig_bucket_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        props = cloudformation_json.get("Properties", {})
        backend = s3_backends[account_id]["aws"]
        if props.get("VersioningConfiguration", {}).get("Status") == "Enabled" or props.get("ObjectLockEnabled"):
            backend.put_bucket_versioning(bucket.name, "Enabled")
        if props.get("ObjectLockEnabled"):
            rule = props.get("ObjectLockConfiguration", {}).get("Rule", {}).get("DefaultRetention", {})
            # 0, not None, for the unit left out: moto adds both to compute a retention date
            backend.put_object_lock_configuration(bucket.name, True, rule.get("Mode"), rule.get("Days") or 0,
                                                  rule.get("Years") or 0)
        return bucket

    patch(FakeBucket, "create_from_cloudformation_json", classmethod(cfn_create_bucket))

    endpoint_cls = models.FakeEndpoint

    def cfn_create_endpoint(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json["Properties"]
        backend = models.sagemaker_backends[account_id][region_name]
        return backend.create_endpoint(endpoint_name=props.get("EndpointName") or resource_name,
                                       endpoint_config_name=props["EndpointConfigName"],
                                       tags=props.get("Tags", []),
                                       deployment_config=props.get("DeploymentConfig"))

    def cfn_update_endpoint(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        props = cloudformation_json["Properties"]
        backend = models.sagemaker_backends[account_id][region_name]
        name = props.get("EndpointName") or original_resource.endpoint_name
        if name != original_resource.endpoint_name:  # a new name replaces the endpoint, as in CloudFormation
            new = cfn_create_endpoint(cls, name, cloudformation_json, account_id, region_name)
            backend.delete_endpoint(original_resource.endpoint_name)
            return new
        original_resource.tags = props.get("Tags", [])
        e = _emulator_for(account_id, region_name)
        live = e._sims[name].config_name if e is not None and name in e._sims else original_resource.endpoint_config_name
        new_config = props["EndpointConfigName"]
        if new_config != live or (e is not None and new_config not in backend.endpoint_configs):
            backend.update_endpoint(name, new_config, props.get("DeploymentConfig"),
                                    props.get("RetainAllVariantProperties", False),
                                    props.get("ExcludeRetainedVariantProperties"),
                                    props.get("RetainDeploymentConfig", False))
        return original_resource

    patch(endpoint_cls, "create_from_cloudformation_json", classmethod(cfn_create_endpoint))
    patch(endpoint_cls, "update_from_cloudformation_json", classmethod(cfn_update_endpoint))

    # A replaced Model or EndpointConfig: moto deletes the old one at once. CloudFormation
    # deletes it only in the cleanup after the endpoint update succeeded, and keeps it when
    # the update rolls back, so an endpoint that SageMaker rolled back still runs a config
    # whose model exists. The emulator keeps replaced ones (never cleaned up: a small leak).
    def keep_replaced(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    for replaced in (models.Model, models.FakeEndpointConfig):
        patch(replaced, "update_from_cloudformation_json", classmethod(keep_replaced))

    # moto updates modified resources in template order ("Endpoint..." sorts before
    # "EndpointConfig..."), and only those whose JSON changed: a new EndpointConfig would
    # leave the Endpoint on the old one. Update SageMaker resources in dependency order,
    # and revisit endpoints and configs whenever a model or config changes.
    rank = {"AWS::CloudWatch::Alarm": 0, "AWS::SageMaker::Model": 1,
            "AWS::SageMaker::EndpointConfig": 2, "AWS::SageMaker::Endpoint": 3}
    orig_diff = parsing.ResourceMap.build_resource_diff

    def build_resource_diff(self, other_template, parameters=None):
        actions = orig_diff(self, other_template, parameters)
        new, old = other_template["Resources"], self._resource_json_map
        types = {name: new[name]["Type"] for name in new}
        if any(types.get(n, "").startswith("AWS::SageMaker::") for n in actions["Modify"]):
            for name, kind in types.items():
                if kind in ("AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Endpoint") \
                        and name in old and name not in actions["Modify"]:
                    actions["Modify"].append(name)
        actions["Modify"].sort(key=lambda n: rank.get(types.get(n, ""), -1))
        return actions

    patch(parsing.ResourceMap, "build_resource_diff", build_resource_diff)

    # A resource removed by an update stayed in moto's parsed resources, so adding it back in
    # a later update (autoscaling restored after an instance-type change) created nothing.
    orig_map_update = parsing.ResourceMap.update

    def map_update(self, template, *args, **kwargs):
        removed = set(self._resource_json_map) - set(template.get("Resources", {}))
        result = orig_map_update(self, template, *args, **kwargs)
        for logical in removed:
            self._parsed_resources.pop(logical, None)
        return result

    patch(parsing.ResourceMap, "update", map_update)

    # AWS::CloudWatch::Alarm (moto's CloudFormation skips it): a real moto alarm
    orig_class_from_type = parsing.resource_class_from_type

    handlers = {c.cloudformation_type(): c for c in (_CfnAlarm, _CfnModelPackageGroup, _CfnModelPackage,
                                                      _CfnBucketPolicy, _CfnScalableTarget, _CfnScalingPolicy,
                                                      _CfnTopicPolicy, _CfnSubscription)}

    def resource_class_from_type(resource_type):
        return handlers.get(resource_type) or orig_class_from_type(resource_type)

    from moto.cloudformation import responses as cfn_responses

    # moto executes a change set without rebuilding the stack's outputs or registering its
    # exports: the CDK CLI deploys by change sets, so Fn::ImportValue in the next stack
    # failed with "No export named ...".
    from moto.cloudformation.models import CloudFormationBackend

    orig_execute = CloudFormationBackend.execute_change_set

    def execute_change_set(self, change_set_name, stack_name=None):
        change_set = self.change_sets.get(change_set_name) or next(
            (c for c in self.change_sets.values() if c.change_set_name == change_set_name), None)
        stack = self.stacks.get(change_set.stack_id) if change_set is not None else None
        e = _emulator_for(self.account_id, self.region_name)
        reason = None
        if e is not None and stack is not None and change_set.change_set_type == "UPDATE":
            with e._lock:
                reason = e._failing_stacks.pop(stack.name, None)
        if reason is not None:  # injected: roll back without applying anything
            stack._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")
            stack._add_stack_event("UPDATE_FAILED", resource_status_reason=reason)
            stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
            stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
            stack.status = "UPDATE_ROLLBACK_COMPLETE"
            change_set.execution_status = "EXECUTE_FAILED"
            return
        orig_execute(self, change_set_name, stack_name)
        if stack is None:
            return
        stack._parse_template()
        stack.output_map = stack._create_output_map()
        for name in [n for n, e in self.exports.items() if e.exporting_stack_id == stack.stack_id]:
            del self.exports[name]
        for export in stack.exports:
            self.exports[export.name] = export

    patch(CloudFormationBackend, "execute_change_set", execute_change_set)

    # ... and looks change sets up by name across all stacks: the CDK CLI names every
    # stack's change set "cdk-deploy-change-set", deletes the old one and waits until it
    # is gone; moto deleted another stack's and the wait never ended. Scope by StackName,
    # and answer ChangeSetNotFoundException as AWS does.
    from moto.cloudformation import exceptions as cfn_exceptions
    from moto.core.responses import ActionResult, EmptyResult

    class ChangeSetNotFound(cfn_exceptions.CloudFormationError):
        code = "ChangeSetNotFoundException"

    def scoped_change_set(response) -> str:
        name, stack = response._get_param("ChangeSetName"), response._get_param("StackName")
        backend = response.cloudformation_backend
        if name in backend.change_sets:
            return name
        for arn, change_set in backend.change_sets.items():
            if change_set.change_set_name == name and (not stack or stack in (change_set.stack_name, change_set.stack_id)):
                return arn
        raise ChangeSetNotFound(f"ChangeSet [{name}] does not exist")

    def r_delete_change_set(self):
        # AWS's DeleteChangeSet has no not-found error, and the CLI relies on that when it
        # clears "cdk-deploy-change-set" of a dependency stack that has none.
        with contextlib.suppress(ChangeSetNotFound):
            self.cloudformation_backend.delete_change_set(change_set_name=scoped_change_set(self))
        return EmptyResult()

    def r_describe_change_set(self):
        return ActionResult(self.cloudformation_backend.describe_change_set(change_set_name=scoped_change_set(self)))

    def r_execute_change_set(self):
        self.cloudformation_backend.execute_change_set(stack_name=self._get_param("StackName"),
                                                       change_set_name=scoped_change_set(self))
        return EmptyResult()

    for name, method in (("delete_change_set", r_delete_change_set), ("describe_change_set", r_describe_change_set),
                         ("execute_change_set", r_execute_change_set)):
        patch(cfn_responses.CloudFormationResponse, name, method)

    # ... and builds a change set's stack without the region's exports (cross_stack_resources),
    # so its Fn::ImportValue fails even when the export exists. Default them to the region's.
    from moto.cloudformation.models import Stack, cloudformation_backends

    orig_create_resource_map = Stack._create_resource_map

    def create_resource_map(self):
        if not self.cross_stack_resources:
            self.cross_stack_resources = cloudformation_backends[self.account_id][self.region_name].exports
        return orig_create_resource_map(self)

    patch(Stack, "_create_resource_map", create_resource_map)

    # An update with UsePreviousValue for an SSM-typed parameter (the CDK's BootstrapVersion)
    # hands moto the previous *resolved* value, which it looks up as a parameter path:
    # AttributeError, HTTP 500. A value that names no parameter is taken as resolved.
    orig_parse_ssm = parsing.ResourceMap.parse_ssm_parameter

    def parse_ssm_parameter(self, value, value_type):
        from moto.ssm.models import ssm_backends

        if ssm_backends[self._account_id][self._region_name].get_parameter(value) is None:
            return value
        return orig_parse_ssm(self, value, value_type)

    patch(parsing.ResourceMap, "parse_ssm_parameter", parse_ssm_parameter)

    # moto's AWS::KMS::Key passes CloudFormation's Tags ({Key, Value}) to a tagger that
    # wants {TagKey, TagValue}: KeyError, and the change set stops half applied.
    from moto.kms.models import Key as KmsKey

    orig_kms_create = KmsKey.create_from_cloudformation_json.__func__

    def kms_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        cloudformation_json = copy.deepcopy(cloudformation_json)
        props = cloudformation_json.setdefault("Properties", {})
        props["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} if "Key" in t else t
                         for t in props.get("Tags", [])]
        return orig_kms_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    patch(KmsKey, "create_from_cloudformation_json", classmethod(kms_create))

    patch(parsing, "resource_class_from_type", resource_class_from_type)

    # TemplateURL on the emulator itself (http://127.0.0.1:PORT/bucket/key, what the CDK CLI
    # sends when AWS_ENDPOINT_URL is set): moto reads the bucket from the host name
    # ("127") unless the host is "localhost", and answers "The specified bucket does not exist".
    from moto.cloudformation import responses as cfn_responses
    from moto.cloudformation import utils as cfn_utils

    orig_from_s3 = cfn_utils.get_stack_from_s3_url

    def get_stack_from_s3_url(template_url, account_id, partition):
        parts = urlparse(template_url)
        if parts.hostname in ("127.0.0.1", "localhost"):
            from moto.s3.models import s3_backends

            bucket, key = parts.path.lstrip("/").split("/", 1)
            return s3_backends[account_id][partition].get_object(bucket, unquote(key)).value.decode("utf-8")
        return orig_from_s3(template_url, account_id, partition)

    patch(cfn_utils, "get_stack_from_s3_url", get_stack_from_s3_url)
    from moto.cloudformation import models as cfn_models

    for module in (cfn_responses, cfn_models):  # both import it by name
        if "get_stack_from_s3_url" in vars(module):
            patch(module, "get_stack_from_s3_url", get_stack_from_s3_url)


class _CfnAlarm:
    """AWS::CloudWatch::Alarm for moto's CloudFormation (duck-typed CloudFormationModel,
    so that it does not join moto's model registry after the emulator stops)."""

    def __init__(self, name: str, account_id: str, region_name: str) -> None:
        self.name, self.account_id, self.region_name = name, account_id, region_name

    @property
    def physical_resource_id(self) -> str:
        return self.name

    def is_created(self) -> bool:
        return True

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return f"arn:aws:cloudwatch:{self.region_name}:{self.account_id}:alarm:{self.name}"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.cloudwatch.models import cloudwatch_backends

        p = cloudformation_json["Properties"]
        name = p.get("AlarmName") or resource_name
        queries = None
        if p.get("Metrics"):
            from moto.cloudwatch.models import (
                Dimension,
                Metric,
                MetricDataQuery,
                MetricStat,
            )

            queries = []
            for m in p["Metrics"]:
                stat, ms = None, m.get("MetricStat")
                if ms:
                    metric = ms["Metric"]
                    dims = [Dimension(name=d["Name"], value=d["Value"]) for d in metric.get("Dimensions", [])]
                    stat = MetricStat(metric=Metric(metric_name=metric["MetricName"], namespace=metric.get("Namespace"),
                                                    dimensions=dims),
                                      period=ms.get("Period"), stat=ms.get("Stat"), unit=ms.get("Unit"))
                queries.append(MetricDataQuery(query_id=m["Id"], label=m.get("Label"), period=m.get("Period"),
                                               return_data=m.get("ReturnData"), expression=m.get("Expression"),
                                               metric_stat=stat))
        cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name, namespace=p.get("Namespace"), metric_name=p.get("MetricName"),
            comparison_operator=p["ComparisonOperator"], evaluation_periods=int(p["EvaluationPeriods"]),
            period=p.get("Period"), threshold=p.get("Threshold"), statistic=p.get("Statistic"),
            description=p.get("AlarmDescription"), dimensions=p.get("Dimensions", []),
            alarm_actions=p.get("AlarmActions", []), metric_data_queries=queries,
            datapoints_to_alarm=p.get("DatapointsToAlarm"), extended_statistic=p.get("ExtendedStatistic"),
            ok_actions=p.get("OKActions", []), insufficient_data_actions=p.get("InsufficientDataActions", []),
            unit=p.get("Unit"), actions_enabled=p.get("ActionsEnabled", True),
            treat_missing_data=p.get("TreatMissingData"), threshold_metric_id=p.get("ThresholdMetricId"),
            rule=None, tags=p.get("Tags", []),
        )
        return cls(name, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        new = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
        if new.name != original_resource.name:
            cls.delete_from_cloudformation_json(original_resource.name, cloudformation_json, account_id, region_name)
        return new

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        from moto.cloudwatch.models import cloudwatch_backends

        cloudwatch_backends[account_id][region_name].delete_alarms([resource_name])


class _CfnResource:
    """What moto's CloudFormation asks of a resource (duck-typed CloudFormationModel)."""

    cfn_attrs: ClassVar[dict[str, str]] = {}

    def __init__(self, physical_id: str, attrs: dict[str, str]) -> None:
        self._physical_id, self._attrs = physical_id, attrs

    @property
    def physical_resource_id(self) -> str:
        return self._physical_id

    def is_created(self) -> bool:
        return True

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.cfn_attrs

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self._attrs[attribute_name]

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    # Defaults for "put"-style resources: an update writes the new properties again,
    # a delete has nothing to undo. Resources with real state override both.
    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        pass


class _CfnModelPackageGroup(_CfnResource):
    """AWS::SageMaker::ModelPackageGroup (moto has the API, not the CloudFormation type)."""

    cfn_attrs: ClassVar[dict[str, str]] = {"ModelPackageGroupArn": ""}

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SageMaker::ModelPackageGroup"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.sagemaker.models import sagemaker_backends

        p = cloudformation_json["Properties"]
        name = p.get("ModelPackageGroupName") or resource_name
        backend = sagemaker_backends[account_id][region_name]
        group = backend.model_package_groups.get(name)
        if group is not None:  # made early by a package created before it (see below)
            group.model_package_group_description = p.get("ModelPackageGroupDescription")
            return cls(group.arn, {"ModelPackageGroupArn": group.arn})
        arn = backend.create_model_package_group(name, p.get("ModelPackageGroupDescription"), p.get("Tags"))
        return cls(arn, {"ModelPackageGroupArn": arn})

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        return original_resource  # descriptions and tags only: not modelled

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        from moto.sagemaker.models import sagemaker_backends

        sagemaker_backends[account_id][region_name].model_package_groups.pop(resource_name.split("/")[-1], None)


class _CfnModelPackage(_CfnResource):
    """AWS::SageMaker::ModelPackage: a versioned package in its group (created in template
    order, so versions number as in AWS when packages are added one stack update at a
    time); an update changes approval status, description and metadata in place."""

    cfn_attrs: ClassVar[dict[str, str]] = {"ModelPackageArn": "", "ModelPackageStatus": ""}

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SageMaker::ModelPackage"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.sagemaker.models import sagemaker_backends

        backend = sagemaker_backends[account_id][region_name]
        p = cloudformation_json["Properties"]
        group = p.get("ModelPackageGroupName")
        if group and group not in backend.model_package_groups:
            # moto's CloudFormation ignores DependsOn, and the group is named by a literal:
            # the package may come first. Make the group; its own resource adopts it.
            backend.create_model_package_group(group, None, None)
        arn = backend.create_model_package(
            model_package_name=None if p.get("ModelPackageGroupName") else (p.get("ModelPackageName") or resource_name),
            model_package_group_name=p.get("ModelPackageGroupName"),
            model_package_description=p.get("ModelPackageDescription"),
            inference_specification=p.get("InferenceSpecification"), validation_specification=None,
            source_algorithm_specification=None, certify_for_marketplace=False, tags=p.get("Tags"),
            model_approval_status=p.get("ModelApprovalStatus"), metadata_properties=p.get("MetadataProperties"),
            model_metrics=p.get("ModelMetrics"), client_token=None,
            customer_metadata_properties=p.get("CustomerMetadataProperties"), drift_check_baselines=None,
            domain=p.get("Domain"), task=p.get("Task"), sample_payload_url=p.get("SamplePayloadUrl"),
            additional_inference_specifications=None)
        package = backend.model_packages[arn]
        package.approval_description = p.get("ApprovalDescription")
        return cls(arn, {"ModelPackageArn": arn, "ModelPackageStatus": "Completed"})

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        from moto.sagemaker.models import sagemaker_backends

        p = cloudformation_json["Properties"]
        package = sagemaker_backends[account_id][region_name].model_packages.get(original_resource.physical_resource_id)
        if package is not None:
            if p.get("ModelApprovalStatus"):
                package.set_model_approval_status(p["ModelApprovalStatus"])
            package.approval_description = p.get("ApprovalDescription")
            package.model_package_description = p.get("ModelPackageDescription")
            package.customer_metadata_properties = p.get("CustomerMetadataProperties")
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        from moto.sagemaker.models import sagemaker_backends

        backend = sagemaker_backends[account_id][region_name]
        backend.model_packages.pop(resource_name, None)
        for name, arn in list(backend.model_package_name_mapping.items()):
            if arn == resource_name:
                del backend.model_package_name_mapping[name]


class _CfnBucketPolicy(_CfnResource):
    """AWS::S3::BucketPolicy: PutBucketPolicy (moto's CloudFormation skips the type), minus
    statements on aws:SecureTransport or s3:TlsVersion: the emulator speaks plain HTTP on loopback, and
    moto enforces bucket policies, so the CDK bootstrap bucket's deny-non-TLS statement
    would refuse every asset upload."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        import json

        from moto.s3.models import s3_backends

        p = cloudformation_json["Properties"]
        document = dict(p["PolicyDocument"])
        document["Statement"] = [st for st in document.get("Statement", [])
                                 if not any(key in json.dumps(st.get("Condition", {}))
                                            for key in ("aws:SecureTransport", "s3:TlsVersion"))]
        s3_backends[account_id]["aws"].put_bucket_policy(p["Bucket"], json.dumps(document).encode())
        return cls(p["Bucket"], {})

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        from moto.s3.models import s3_backends

        with contextlib.suppress(Exception):  # the bucket may be gone already
            s3_backends[account_id]["aws"].delete_bucket_policy(resource_name)


def _autoscaling(account_id: str, region_name: str):
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    return applicationautoscaling_backends[account_id][region_name]


class _CfnScalableTarget(_CfnResource):
    """AWS::ApplicationAutoScaling::ScalableTarget with its ScheduledActions (moto's
    CloudFormation skips the type). Physical id as in AWS: resource|dimension|namespace.
    Registered only: nothing scales (no metrics, no schedules run)."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApplicationAutoScaling::ScalableTarget"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        backend = _autoscaling(account_id, region_name)
        backend.register_scalable_target(p["ServiceNamespace"], p["ResourceId"], p["ScalableDimension"],
                                         p.get("MinCapacity"), p.get("MaxCapacity"), p.get("RoleARN"),
                                         p.get("SuspendedState"))
        for action in p.get("ScheduledActions", []):
            backend.put_scheduled_action(
                service_namespace=p["ServiceNamespace"], schedule=action["Schedule"], timezone=action.get("Timezone"),
                scheduled_action_name=action["ScheduledActionName"], resource_id=p["ResourceId"],
                scalable_dimension=p["ScalableDimension"], start_time=action.get("StartTime"),
                end_time=action.get("EndTime"), scalable_target_action=action.get("ScalableTargetAction"))
        return cls(f"{p['ResourceId']}|{p['ScalableDimension']}|{p['ServiceNamespace']}", {})

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        new = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
        if new.physical_resource_id != original_resource.physical_resource_id:
            cls.delete_from_cloudformation_json(original_resource.physical_resource_id, cloudformation_json,
                                                account_id, region_name)
        return new

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        resource_id, dimension, namespace = resource_name.split("|")
        backend = _autoscaling(account_id, region_name)
        backend.scheduled_actions = [a for a in backend.scheduled_actions if a.resource_id != resource_id]
        with contextlib.suppress(Exception):  # already gone
            backend.deregister_scalable_target(namespace, resource_id, dimension)


class _CfnScalingPolicy(_CfnResource):
    """AWS::ApplicationAutoScaling::ScalingPolicy (moto's CloudFormation skips the type)."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApplicationAutoScaling::ScalingPolicy"

    @staticmethod
    def _target(p: dict) -> tuple[str, str, str]:
        if p.get("ScalingTargetId"):
            resource_id, dimension, namespace = p["ScalingTargetId"].split("|")
            return namespace, resource_id, dimension
        return p["ServiceNamespace"], p["ResourceId"], p["ScalableDimension"]

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        namespace, resource_id, dimension = cls._target(p)
        policy = _autoscaling(account_id, region_name).put_scaling_policy(
            policy_name=p["PolicyName"], service_namespace=namespace, resource_id=resource_id,
            scalable_dimension=dimension, policy_type=p.get("PolicyType"),
            policy_body=p.get("StepScalingPolicyConfiguration") or p.get("TargetTrackingScalingPolicyConfiguration"))
        return cls(f"{policy.policy_arn}", {"Arn": policy.policy_arn})

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        backend = _autoscaling(account_id, region_name)
        for key, policy in list(backend.policies.items()):
            if policy.policy_arn == resource_name:
                with contextlib.suppress(Exception):  # already gone
                    backend.delete_scaling_policy(policy.policy_name, policy.service_namespace,
                                                  policy.resource_id, policy.scalable_dimension)


class _CfnTopicPolicy(_CfnResource):
    """AWS::SNS::TopicPolicy: sets each topic's Policy attribute (not enforced)."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::TopicPolicy"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        import json

        from moto.sns.models import sns_backends

        p = cloudformation_json["Properties"]
        for topic in p.get("Topics", []):
            sns_backends[account_id][region_name].set_topic_attribute(topic, "Policy", json.dumps(p["PolicyDocument"]))
        return cls(resource_name, {})



class _CfnSubscription(_CfnResource):
    """AWS::SNS::Subscription: Subscribe (nothing is delivered to e-mail endpoints)."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::Subscription"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.sns.models import sns_backends

        p = cloudformation_json["Properties"]
        subscription = sns_backends[account_id][region_name].subscribe(p["TopicArn"], p["Endpoint"], p["Protocol"])
        return cls(subscription.arn, {})

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        cls.delete_from_cloudformation_json(original_resource.physical_resource_id, cloudformation_json,
                                            account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        from moto.sns.models import sns_backends

        sns_backends[account_id][region_name].unsubscribe(resource_name)
