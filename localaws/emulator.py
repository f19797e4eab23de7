"""A local AWS for tests and the demo: moto's server on 127.0.0.1, with SageMaker gaps filled.

`AwsEmulator` runs moto's `ThreadedMotoServer` in-process on 127.0.0.1 and a free port,
and, while it runs, patches moto's SageMaker, CloudWatch and CloudFormation code in
this process to model what deploy, promote and rollback rely on. Each module says in
its docstring what it models:

- `bluegreen.py`: the simulated clock (`SimClock`), `Timings`, and the stages of a
  blue/green update (ALL_AT_ONCE / CANARY / LINEAR, bake and termination waits);
- `endpoint_sim.py`: endpoint status over time (Creating, Updating, RollingBack,
  InService, Failed), UpdateEndpoint with DeploymentConfig, RetainAllVariantProperties
  and RetainDeploymentConfig, DescribeEndpoint (DeployedImages, PendingDeploymentSummary,
  LastDeploymentConfig), the refused instance-type change of an autoscaled variant;
- `moto_patches/`: one module per patched service: `sagemaker.py` (instance types from
  botocore, the endpoint API, InvokeEndpoint, throttling), `cloudwatch.py` (an alarm's
  change reaches the endpoints), `s3.py` and `kms.py` (buckets and keys from
  CloudFormation), `cloudformation.py` (endpoint updates as UpdateEndpoint, update order,
  and the CDK CLI path: TemplateURL on 127.0.0.1, change sets, exports, UsePreviousValue
  of an SSM-typed parameter);
- `moto_patches/ssm.py`: `AWS::SSM::Parameter` created and updated in place as CloudFormation does
  (the application client's routing and serving parameters);
- `metric_alarms.py` with `moto_patches/logs.py`: metrics extracted from Embedded Metric Format
  log events (PutLogEvents) and the alarms on them evaluated on the simulated clock (the
  application client's fallback-rate and shadow-agreement alarms);
- `cfn_resources.py`: handlers for the types of our stacks that moto's CloudFormation
  skips: CloudWatch alarms, SageMaker model package groups and packages, S3 bucket
  policies, Application Auto Scaling targets (with scheduled actions) and policies, SNS
  topic policies and subscriptions;
- this module: the server's lifecycle, `account_id=` (moto's MOTO_ACCOUNT_ID) so stacks
  pinned to another account (dev: 111111111111) deploy unchanged, `env()` and `client()`,
  and a control API for tests: `advance()` the clock, `set_alarm_state()`, faults
  (`throttle()`: a fraction of SageMaker calls answer ThrottlingException;
  `stick_updates()`: Updating never finishes; `fail_next()`: the next create or update
  of an endpoint ends Failed; `fail_stack_update()`: the next change set of a stack rolls
  back; `hold_stack_updates()`: a stack stays UPDATE_IN_PROGRESS while its endpoint
  updates, as CloudFormation's endpoint handler waits; `pause_server()` /
  `resume_server()`: an outage, connections refused while state and clock go on),
  `on_stage()` hooks and `status_history()`.

Also modelled: what SageMaker refuses (`moto_patches/sagemaker_rules.py`: a Model from an
unapproved versioned package, rollback alarms the execution role cannot describe), endpoint
instance quotas with Service Quotas answering for them (`quotas.py`,
`moto_patches/servicequotas.py`, `set_quota()`), bucket policies judged with each request's
condition keys (`moto_patches/s3.py`, `iam_policy.py`).

Not modelled (a test/demo double, not AWS): alarm evaluation from SageMaker's metrics (those
alarms change only by `set_alarm_state`; alarms on EMF metrics are evaluated, metric_alarms.py), MaximumExecutionTimeoutInSeconds, Deleting (deletes are
immediate), instance-level health, capacity beyond quotas, the containers behind InvokeEndpoint
(`responder` answers for them; `runtime_endpoint.py` is a fake container for load tests),
scaling itself (scalable targets, policies and scheduled actions are registered from
CloudFormation by `cfn_resources.py`, but nothing scales), and CloudFormation waiting for
the endpoint: moto's stacks finish at once, so a stack update whose endpoint
later rolls back still ends UPDATE_COMPLETE; watch DescribeEndpoint, not the stack.
Update failures end `Failed` here; real SageMaker usually returns a blue/green update
that failed to InService on the old fleet with a FailureReason.

The patches are process-wide: one emulator runs at a time, and `stop()` restores moto
and resets its state. Use it as a context manager so a test never leaves it running.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import socket
from collections.abc import Callable
from typing import Any, Self

from localaws import moto_patches
from localaws.bluegreen import SimClock, Timings
from localaws.endpoint_sim import EndpointSimulator
from localaws.inference_components import ComponentSimulator, ComponentTimings
from localaws.metric_alarms import MetricStore, evaluate
from localaws.moto_backends import cloudwatch_backend, reset_moto
from localaws.moto_patches.sagemaker import botocore_instance_types

__all__ = ["DEFAULT_ACCOUNT", "AwsEmulator", "SimClock", "Timings", "botocore_instance_types", "echo_responder"]

DEFAULT_ACCOUNT = "123456789012"  # moto's account: what STS GetCallerIdentity returns
_ACTIVE: AwsEmulator | None = None
_ACTIVE_LOCK = threading.Lock()


def echo_responder(endpoint_name: str, version: str | None, payload: dict) -> dict:
    """LMI-style answer that echoes the end of the prompt (tests replace `emu.responder`)."""
    from scripts.evaluation.answers import request_text

    return {"generated_text": request_text(payload)[-64:]}


class AwsEmulator:
    """moto_server on 127.0.0.1:<free port> plus the SageMaker model described above."""

    def __init__(self, timings: Timings | None = None, clock: SimClock | None = None,
                 region: str = "us-east-1", seed: int = 7, account_id: str = DEFAULT_ACCOUNT,
                 component_timings: ComponentTimings | None = None) -> None:
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
        # the endpoints of this account and region; shares the lock (a stage hook may tick again)
        self.endpoints = EndpointSimulator(self.clock, self.timings, account_id, region, self._lock)
        # inference components on those endpoints, their copies and scaling (inference_components.py)
        self.components = ComponentSimulator(self.endpoints, component_timings or ComponentTimings(), self._lock)
        # InvokeEndpoint of a component: (endpoint, component, what serves it, request JSON) -> response JSON;
        # what serves it: {"component", "base_version", "adapter", "adapter_version"}
        self.component_responder: Callable[[str, str, dict, dict], dict] = \
            lambda endpoint, component, served, payload: echo_responder(endpoint, served.get("base_version"), payload)
        self.component_invocations: list[tuple[str, str, dict, dict]] = []
        self._throttle_rate = 0.0
        self._throttle_ops: set[str] | None = None
        self.throttled = 0  # calls answered ThrottlingException
        self._failing_stacks: dict[str, str] = {}  # stack name -> reason of its next update's failure
        self._held_stacks: dict[str, str] = {}  # stack name -> its endpoint (hold_stack_updates)
        self._holding: dict[str, tuple[Any, str]] = {}  # stack name -> (moto stack, endpoint) held now
        self._port: int | None = None
        # InvokeEndpoint: (endpoint name, live model version or None, request JSON) -> response JSON
        self.responder: Callable[[str, str | None, dict], dict] = echo_responder
        self.invocations: list[tuple[str, str | None, dict]] = []
        # EMF datapoints from PutLogEvents (the application client's metrics), on the simulated clock
        self.metrics = MetricStore(self.clock.now)
        self._server = None
        self._patcher = moto_patches.Patcher()
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
            reset_moto()
            if self.account_id != DEFAULT_ACCOUNT:
                self._saved_account_env = os.environ.get("MOTO_ACCOUNT_ID", "")
                os.environ["MOTO_ACCOUNT_ID"] = self.account_id
            moto_patches.install(self, self._patcher)
            werkzeug_log = logging.getLogger("werkzeug")
            self._werkzeug_level = werkzeug_log.level
            werkzeug_log.setLevel(logging.WARNING)  # no line per request
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self._server.start()
            self._port = self._server.get_host_and_port()[1]
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        global _ACTIVE
        self._close_server()
        self._port = None
        self._patcher.undo()
        if self._werkzeug_level is not None:
            logging.getLogger("werkzeug").setLevel(self._werkzeug_level)
            self._werkzeug_level = None
        if self._saved_account_env is not None:
            if self._saved_account_env:
                os.environ["MOTO_ACCOUNT_ID"] = self._saved_account_env
            else:
                os.environ.pop("MOTO_ACCOUNT_ID", None)
            self._saved_account_env = None
        reset_moto()
        with _ACTIVE_LOCK:
            if _ACTIVE is self:
                _ACTIVE = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _close_server(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()  # shutdown() and join the serving thread
            if server._server is not None:
                server._server.server_close()  # ThreadedMotoServer leaves the socket open

    @property
    def port(self) -> int:
        assert self._port is not None, "start() first"
        return self._port

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
        cloudwatch_backend(self.account_id, self.region).set_alarm_state(alarm_name, reason, None, state)

    def throttle(self, rate: float, operations: set[str] | None = None) -> None:
        """Answer ThrottlingException to `rate` of SageMaker calls (seeded, so repeatable);
        only to `operations` (e.g. {"DescribeEndpoint"}) when given. rate=0 turns it off."""
        self._throttle_rate, self._throttle_ops = rate, operations

    def stick_updates(self, endpoint_name: str | None = None, stuck: bool = True) -> None:
        """Updates of that endpoint (all endpoints when None) stay Updating for ever."""
        self.endpoints.stick_updates(endpoint_name, stuck)

    def fail_next(self, endpoint_name: str, reason: str = "Injected fault: the new fleet failed its health checks") -> None:
        """The next create or update of that endpoint ends Failed with this FailureReason."""
        self.endpoints.fail_next(endpoint_name, reason)

    def fail_stack_update(self, stack_name: str,
                          reason: str = "Injected fault: Resource handler returned message: \"Internal failure\"") -> None:
        """The next change set executed on that stack fails: nothing is applied, the stack
        ends UPDATE_ROLLBACK_COMPLETE with this reason, as after a CloudFormation rollback."""
        with self._lock:
            self._failing_stacks[stack_name] = reason

    def pause_server(self) -> None:
        """An outage: the HTTP server stops, so calls fail with connection refused, while every
        service's state, the patches and the simulated clock go on (an endpoint Updating keeps
        updating, as it would in AWS while a client cannot reach it)."""
        self._close_server()

    def resume_server(self) -> None:
        """End the outage: the server listens again on the same port (what clients were given)."""
        from moto.server import ThreadedMotoServer

        assert self._port is not None and self._server is None, "pause_server() first"
        with socket.socket() as probe:  # fail here, not in the server thread (its start() would wait forever)
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", self._port))
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self._port, verbose=False)
        self._server.start()

    def hold_stack_updates(self, stack_name: str, endpoint_name: str, hold: bool = True) -> None:
        """From now on, an update of that stack that starts an update of that endpoint keeps the
        stack UPDATE_IN_PROGRESS until the endpoint settles, as on AWS: the handler of
        AWS::SageMaker::Endpoint waits for the endpoint after UpdateEndpoint (its update timeout is
        970 minutes). Then UPDATE_COMPLETE, or UPDATE_ROLLBACK_COMPLETE if SageMaker rolled back or
        failed (the template is not rolled back: see the README). Meanwhile a new change set on the
        stack is refused, as CloudFormation refuses one on a stack in progress. The CDK CLI waits
        for the stack, so its `cdk deploy` runs for the whole deployment, as against AWS."""
        with self._lock:
            if hold:
                self._held_stacks[stack_name] = endpoint_name
            else:
                self._held_stacks.pop(stack_name, None)

    def set_quota(self, instance_type: str, instances: int) -> None:
        """The account's Service Quotas value "<instance_type> for endpoint usage" (default:
        localaws/quotas.py DEFAULT_INSTANCES); CreateEndpoint and UpdateEndpoint are held to it."""
        self.endpoints.quotas.set(instance_type, instances)

    def instances_in_use(self, instance_type: str) -> int:
        """Instances of that type the account's endpoints run now (both fleets of an update, shadows)."""
        return self.endpoints.instances_in_use().get(instance_type, 0)

    def on_stage(self, endpoint_name: str, stage_status: str, action: Callable[[AwsEmulator], None]) -> None:
        """Run `action(emulator)` once, the first time an update of that endpoint is seen in a
        blue/green stage with that VariantStatus ("Creating", "ActivatingTraffic", "Baking"):
        e.g. set a rollback alarm to ALARM while the canary bakes."""
        self.endpoints.on_stage(endpoint_name, stage_status, lambda: action(self))

    def evaluate_alarms(self) -> list[str]:
        """Evaluate the alarms on EMF metrics now (DescribeAlarms does it too); the names that changed state."""
        backend = cloudwatch_backend(self.account_id, self.region)
        return evaluate(self.metrics, list(backend.describe_alarms()),
                        lambda name, reason, state: backend.set_alarm_state(name, reason, "{}", state))

    def status_history(self, endpoint_name: str) -> list[str]:
        return self.endpoints.status_history(endpoint_name)

    def live_version(self, endpoint_name: str) -> str | None:
        """The `pin-version` of the model package the live (blue) fleet serves."""
        return self.endpoints.live_version(endpoint_name)

    # ----- called by the patches (moto_patches/)
    def tick(self) -> None:
        """Bring every endpoint's and inference component's status up to the simulated clock."""
        self.endpoints.tick()
        self.components.tick()

    def invoke(self, endpoint_name: str, payload: dict) -> dict:
        """InvokeEndpoint: `responder`'s answer, recorded in `invocations` with the live version."""
        with self._lock:
            version = self.endpoints.serving_version(endpoint_name)
            self.invocations.append((endpoint_name, version, payload))
        return self.responder(endpoint_name, version, payload)

    def invoke_component(self, endpoint_name: str, component: str | None, payload: dict) -> dict:
        """InvokeEndpoint with InferenceComponentName: `component_responder`'s answer for what serves
        that component now (ValidationError when nothing can), recorded in `component_invocations`."""
        served = self.components.invoke(endpoint_name, component)
        with self._lock:
            self.component_invocations.append((endpoint_name, component, served, payload))
        return self.component_responder(endpoint_name, component, served, payload)

    def throttles(self, operation: str) -> bool:
        """Should this SageMaker call answer ThrottlingException (see `throttle()`)?"""
        if self._throttle_rate <= 0 or (self._throttle_ops is not None and operation not in self._throttle_ops):
            return False
        with self._lock:
            hit = self._random.random() < self._throttle_rate
            self.throttled += hit
        return hit

    def stack_update_executed(self, stack: Any) -> None:
        """A change set ran on `stack` (moto's Stack): if it is held and its endpoint is now updating,
        the stack stays UPDATE_IN_PROGRESS (`hold_stack_updates()`)."""
        with self._lock:
            endpoint = self._held_stacks.get(stack.name)
            if endpoint is None:
                return
            self.tick()
            if self.endpoints.busy(endpoint):
                if stack.events and stack.events[-1].resource_status == "UPDATE_COMPLETE":
                    stack.events.pop()  # moto's own end of the update: it ends when the endpoint does
                stack.status = "UPDATE_IN_PROGRESS"
                self._holding[stack.name] = (stack, endpoint)

    def settle_held_stacks(self) -> None:
        """Before CloudFormation answers: a held stack whose endpoint settled completes."""
        with self._lock:
            if not self._holding:
                return
            self.tick()
            for name, (stack, endpoint) in list(self._holding.items()):
                if self.endpoints.busy(endpoint):
                    continue
                reason = self.endpoints.failure_reason(endpoint)
                del self._holding[name]
                if reason is None:
                    stack._add_stack_event("UPDATE_COMPLETE")
                    stack.status = "UPDATE_COMPLETE"
                    continue
                for status in ("UPDATE_FAILED", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE"):
                    stack._add_stack_event(status, resource_status_reason=f"Endpoint {endpoint}: {reason}")
                stack.status = "UPDATE_ROLLBACK_COMPLETE"

    def stack_busy(self, stack_name: str) -> str | None:
        """The status of a held stack still in progress (a new change set on it is refused), else None."""
        with self._lock:
            held = self._holding.get(stack_name)
            return held[0].status if held else None

    def take_stack_failure(self, stack_name: str) -> str | None:
        """The reason of the injected failure of that stack's next update, once (see `fail_stack_update()`)."""
        with self._lock:
            return self._failing_stacks.pop(stack_name, None)
