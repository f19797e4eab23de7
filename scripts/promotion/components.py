"""promote / rollback --component: one inference component to a pinned version (a base or an adapter).

The same run as an endpoint's (flow.py), with the same gates, history and exit codes:

    gates (component_gates.py) -> config edit (the component's `version:`) -> cdk deploy of the
    endpoint's stack -> watch DescribeInferenceComponent -> [adapter: bake] -> live check + smoke
    -> history/promotions.jsonl (endpoint "<key>/<component>")

What SageMaker offers differs by kind of component:

- a base version replaces the Model, and CloudFormation updates the base component with the
  template's DeploymentConfig: a rolling update (copies replaced batch by batch, each batch baked
  WaitIntervalInSeconds) that SageMaker rolls back itself when an AutoRollbackConfiguration alarm
  fires (InferenceComponentRollingUpdatePolicy; exit 5 here, as for an endpoint);
- an adapter version is a new ArtifactUrl, which SageMaker swaps on every copy of the base in
  place ("SageMaker handles the unloading/deregistering of the old adapter and loading/registering
  of the new adapter onto every base IC", aws-samples multi_adapter_hosting.ipynb). There is no batch
  of copies to roll (MaximumBatchSize is a share "of the copy count of the inference component"),
  so no SageMaker rollback: promote bakes it for the base's wait_seconds watching the adapter's own
  alarms, and rolls it back itself (another stack update to the previous version) when one fires:
  exit 5 as well. The other adapters keep serving throughout: only this component changes.

A smoke test or live check that fails rolls back to the previous version (exit 7), as for endpoints.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from config import naming
from config.components import BASE_COMPONENT
from config.deploy_override import DeployOverride
from config.project import load_project
from scripts.lib import interrupts
from scripts.lib.errors import Exit, UserError
from scripts.lib.output import Output
from scripts.promotion import checks, component_gates, config_edit, deploy, history, locks
from scripts.promotion.component_live import ComponentInspector, ComponentState
from scripts.promotion.flow import OUTCOME_EXIT, NotPromoted, Request, _lookup, checked, finish
from scripts.promotion.gates import COLUMNS, FAIL, no_alarms
from scripts.promotion.live import Inspector
from scripts.promotion.watch import DEPLOY_FAILED, PROMOTED, ROLLED_BACK, TIMED_OUT, Outcome

SIGNALS = naming.ROLLBACK_SIGNALS  # an adapter is baked against its own


class ComponentPromotion:
    def __init__(self, root: Path, request: Request, component: str, out: Output):
        from scripts.lib.aws import client

        if request.strategy:
            raise UserError("--strategy: a component rolls out by its deployment block (base: rolling update; "
                            "adapter: in place); fix: leave --strategy out with --component")
        self.root, self.request, self.component, self.out = root, request, component, out
        self.project = load_project(root)
        self.env = _lookup(self.project.environments, request.env, "--env", "environment")
        self.key = request.endpoint
        self.endpoint = _lookup(self.env.component_endpoints, self.key, "--endpoint", "component endpoint")
        self.config = _lookup(self.endpoint.components, component, "--component", f"component of {self.key}")
        self.name = self.env.endpoint_name(self.key)
        self.ic = naming.inference_component(self.name, component)
        self.base_ic = naming.inference_component(self.name, BASE_COMPONENT)
        self.is_base = component == BASE_COMPONENT
        self.history_key = f"{self.key}/{component}"
        self.config_path, self.config_shown = config_edit.config_file(root, self.env.name)
        if request.version is not None:
            self._pin(request.version)
        sagemaker = client("sagemaker", self.env.region)
        self.sagemaker, self.components = sagemaker, ComponentInspector(sagemaker)
        self.alarms = Inspector(sagemaker, client("cloudwatch", self.env.region))
        self.s3, self.ecr_for = client("s3", self.env.region), (lambda r: client("ecr", r))
        self.durations: dict[str, float] = {}
        self.record: history.Record | None = None

    # ----- the whole run
    def run(self) -> int:
        config_edit.refuse_read_only(self.config_path, self.config_shown)  # before anything is recorded
        try:  # one promotion per endpoint: its components share the endpoint's lock
            lock = locks.endpoint_lock(self.root, self.env.name, self.key)
        except locks.Busy as busy:
            raise NotPromoted(Exit.GATE_REFUSED, f"in-flight: another promotion of {self.env.name}/{self.key} is "
                                                 f"running ({busy}); fix: wait for it to end (python -m scripts status)"
                              ) from None
        self.started = time.monotonic()
        try:
            with interrupts.as_exceptions():  # SIGTERM (a cancelled CI job) unwinds like Ctrl-C
                return self._run()
        finally:
            lock.close()
            if self.record is not None and self.record.outcome != "started":
                if self.record.finished_at is None:
                    self._close_record()
                history.append(self.root, self.record)

    def _run(self) -> int:
        req, out = self.request, self.out
        state, base = self.components.component(self.ic), self.components.component(self.base_ic)
        live = state.serves
        target = req.version or self._previous(live)
        pin = self._pin(target)
        out.event("plan", f"{req.kind} {self.ic}: {live or '?'} → {target}" + (" [dry run]" if req.dry_run else ""),
                  component=self.ic, kind=req.kind, live_version=live, target=target, dry_run=req.dry_run)
        t = time.monotonic()
        results = self._gates(pin, state, base)
        self.durations["gates"] = round(time.monotonic() - t, 2)
        out.table(f"gates: {self.ic} → {target}", COLUMNS, [g.row() for g in results])
        failed = [g for g in results if g.result == FAIL]
        if req.dry_run:
            return self._dry_run(target, failed)
        self.record = history.Record(env=self.env.name, endpoint=self.history_key, model=self._model(),
                                     from_version=live, to_version=target, kind=req.kind,
                                     strategy="rolling" if self.is_base else "in-place")
        if failed:
            return self._finish("refused", Exit.GATE_REFUSED, "; ".join(f"{g.name}: {g.detail}" for g in failed))
        if live == target:
            self._set_config(target)
            return self._after_live(target, pin, live, already=True)
        history.append(self.root, self.record)  # "started": a killed run still leaves a trace
        self._set_config(target)
        try:
            outcome = self._deploy(f"deploy {target}", target)
            if outcome.kind == PROMOTED and not self.is_base and req.kind == "promote":
                outcome = self._bake(outcome, live)
        except KeyboardInterrupt:
            self.record.config_restored_to = self._restore_config()
            self.record.outcome, self.record.exit_code = "interrupted", int(Exit.INTERRUPTED)
            raise
        except Exception as exc:
            self.record.config_restored_to = self._restore_config()
            code = getattr(exc, "exit_code", Exit.INTERNAL)
            self.record.outcome, self.record.exit_code, self.record.reason = "error", int(code), str(exc)[:300]
            raise
        if outcome.kind != PROMOTED:
            return self._finish(outcome.kind, OUTCOME_EXIT[outcome.kind], outcome.reason, self._restore_config())
        return self._after_live(target, pin, live, already=False)

    # ----- pieces
    def _model(self) -> str:
        return self.config.model if self.is_base else self.config.adapter

    def _pin(self, version: str):
        flag = "--version" if self.request.kind == "promote" else "--to"
        if self.is_base:
            pin = self.project.pins.get((self.config.model, version))
            known = self.project.versions_of(self.config.model)
        else:
            pin = self.project.adapters.get((self.config.adapter, version))
            known = sorted(v for a, v in self.project.adapters if a == self.config.adapter)
        if pin is None:
            raise UserError(f"{flag}: {self._model()} {version} is not pinned; fix: use one of: {', '.join(known)}")
        return pin

    def _previous(self, live: str | None) -> str:
        previous = history.previous_version(history.read(self.root), self.env.name, self.history_key, live)
        if previous is None:
            raise UserError(f"--to: no promotion of {self.env.name}/{self.history_key} to {live} in {history.HISTORY}; "
                            "fix: name the version with --to V")
        return previous

    def _gates(self, pin, state: ComponentState, base: ComponentState):
        rollback = self.request.kind == "rollback"
        if self.is_base:
            results = component_gates.base_gates(self.project, self.root, self.env, self.key, self.endpoint, pin,
                                                 self.sagemaker, self.s3, self.ecr_for, rollback)
        else:
            results = component_gates.adapter_gates(self.project, self.root, self.env, self.key, self.component,
                                                    self.config, pin, self.s3, rollback)
        results += component_gates.component_ready(state, base)
        if not rollback and state.exists:
            results.append(no_alarms(self.alarms.firing_alarms(self.name), self._rollback_alarms()))
        return results

    def _rollback_alarms(self) -> list[str]:
        """The alarms that would roll this component's new version back, and so gate it: a base's
        rolling update rolls back on the base's signals and each adapter's 5XX (as the stack's
        AutoRollbackConfiguration lists them, component_alarms.py); an adapter's bake on its own."""
        if not self.is_base:
            return [naming.alarm(self.ic, s) for s in SIGNALS]
        return [naming.alarm(self.ic, s) for s in SIGNALS] + [
            naming.alarm(naming.inference_component(self.name, c), "5xx") for c in self.endpoint.adapters]

    def _set_config(self, version: str) -> None:
        node = ("component_endpoints", self.key) + (("base",) if self.is_base else ("adapters", self.component))
        config_edit.set_version(self.config_path, self.config_shown, self.key, version,
                                lambda: load_project(self.root, self.env.name),
                                lock=locks.config_lock(self.root, self.env.name), node=node)

    def _restore_config(self) -> str | None:
        live = self.components.component(self.ic).serves
        version = live if live is not None and self._known(live) else self.record.from_version
        if version:
            self._set_config(version)
            self.out.event("config", f"{self.config_shown}: {self.history_key} version is {version} (live)")
        return version

    def _known(self, version: str) -> bool:
        try:
            self._pin(version)
        except UserError:
            return False
        return True

    def _deploy(self, label: str, target: str) -> Outcome:
        stack = naming.endpoint_stack(self.env.name, self.key)
        with tempfile.TemporaryDirectory(prefix="promote-") as workdir:
            t = time.monotonic()
            self.out.event("synth", f"{label}: synthesizing {self.env.name}", phase=label)
            assembly = deploy.synthesize(self.root, self.env.name, self.key, DeployOverride(), Path(workdir))
            self.durations["synth"] = round(self.durations.get("synth", 0) + time.monotonic() - t, 2)
            log = Path(workdir) / "cdk-deploy.log"
            self.out.event("deploy", f"{label}: cdk deploy {stack}", phase=label, stack=stack)
            t = time.monotonic()
            proc = deploy.start_deploy(assembly, stack, log)
            try:
                outcome = self._watch(target, proc, log)
            finally:
                deploy.stop(proc)
            self.durations["deploy"] = round(self.durations.get("deploy", 0) + time.monotonic() - t, 2)
            if outcome.kind != PROMOTED and outcome.cli_exit:
                self.out.err.print(deploy.tail(log))
            return outcome

    def _watch(self, target: str, proc, log: Path) -> Outcome:
        started, seen, last = time.monotonic(), [], None
        timeout = self.request.timeout_s or (self.endpoint.base.deployment.max_execution_seconds + 1800)
        while True:
            state = self.components.component(self.ic)
            rc = proc.poll() if proc is not None else 0
            if state.status and (not seen or seen[-1] != state.status):
                seen.append(state.status)
            line = f"{state.status} · serving {state.serves or '?'}" + (
                f" · {state.current}/{state.desired} copies" if state.desired is not None else "") + (
                f" · {state.failure_reason}" if state.failure_reason else "")
            if line != last:
                last = line
                self.out.event("deployment", line, component=self.ic, status=state.status, serving=state.serves,
                               elapsed_s=round(time.monotonic() - started, 1))
            if rc is not None and state.exists and not state.busy:
                if self.record is not None:
                    self.record.stages += seen
                return _decide(state, target, rc, seen, lambda: deploy.tail(log))
            if time.monotonic() - started > timeout:
                return Outcome(TIMED_OUT, f"still {state.status} after {timeout:g} s; the update goes on in AWS: see "
                               "`status`, rerun promote to follow it", None, seen, rc)
            time.sleep(self.request.poll_s)

    def _bake(self, outcome: Outcome, previous: str | None) -> Outcome:
        """An adapter has no SageMaker rollback: watch its own alarms for the base's wait_seconds, and roll
        back by deploying the previous version when one fires."""
        wait = self.endpoint.base.deployment.wait_seconds
        alarms = {naming.alarm(self.ic, s) for s in SIGNALS}
        self.out.event("bake", f"baking {self.ic} for {wait} s, watching {', '.join(sorted(alarms))}", seconds=wait)
        deadline = time.monotonic() + wait
        while True:
            firing = sorted(alarms & set(self.alarms.firing_alarms(self.name)))
            if firing:
                break
            if time.monotonic() >= deadline:
                return outcome
            time.sleep(min(self.request.poll_s, max(0.0, deadline - time.monotonic())))
        reason = f"alarm(s) {', '.join(firing)} in ALARM while baking"
        if not previous:
            return Outcome(ROLLED_BACK, f"{reason}; no previous version to roll back to", None, outcome.statuses)
        self.out.event("rollback", f"{reason}: rolling {self.ic} back to {previous}")
        self._set_config(previous)
        back = self._deploy(f"roll back to {previous}", previous)
        return Outcome(ROLLED_BACK, f"{reason}; rolled back to {previous}: {back.reason}", None, outcome.statuses)

    def _after_live(self, target: str, pin, from_version: str | None, already: bool) -> int:
        t = time.monotonic()
        state = self.components.component(self.ic)
        problems = self._live_problems(state, pin)
        if not problems and self.request.smoke:
            base_pin = self.project.pins[(self.endpoint.base.model, pin.version if self.is_base else
                                          self.endpoint.base.version)]
            problems = checks.smoke_problems(self.name, self.config, base_pin, self.env.region, component=self.ic)
        self.durations["checks"] = round(time.monotonic() - t, 2)
        ended = checked(self.out, problems, target, from_version, already, self._finish,
                        (f"{self.ic} serves {self._model()} {target} as pinned", {"version": target}))
        if ended is not None:
            return ended
        self.out.event("rollback", f"rolling {self.ic} back to {from_version}")
        self._set_config(from_version)
        outcome = self._deploy(f"roll back to {from_version}", from_version)
        return self._finish("smoke-failed", Exit.SMOKE_FAILED, "; ".join(problems) + f"; rolled back to "
                            f"{from_version}: {outcome.reason}", self._restore_config())

    def _live_problems(self, state: ComponentState, pin) -> list[str]:
        if self.is_base:
            problems = [] if (state.version, state.manifest_sha256) == (pin.version, pin.manifest_sha256) else [
                f"the base's package says {state.version} ({str(state.manifest_sha256)[:12]}…), pinned {pin.version}"]
            digest = pin.container.images.get(self.env.region, "").rsplit("@", 1)[-1]
            if not state.images or any(not image.endswith("@" + digest) for image in state.images):
                problems.append(f"running image {state.images[:1]} is not the pinned {digest[:19]}…")
            return problems
        wanted = pin.artifact_url(self.env.weights_bucket_name)
        return [] if state.artifact_url == wanted else [f"the adapter loaded {state.artifact_url}, pinned {wanted}"]

    def _dry_run(self, target: str, failed: list) -> int:
        from scripts.lib.repo import copy_inputs

        with tempfile.TemporaryDirectory(prefix="promote-dry-") as workdir:
            scratch = copy_inputs(self.root, Path(workdir) / "repo")
            path, shown = config_edit.config_file(scratch, self.env.name)
            node = ("component_endpoints", self.key) + (("base",) if self.is_base else ("adapters", self.component))
            config_edit.set_version(path, shown, self.key, target, lambda: load_project(scratch, self.env.name),
                                    node=node)
            assembly = deploy.synthesize(scratch, self.env.name, self.key, DeployOverride(), Path(workdir))
            code, text = deploy.diff(assembly, naming.endpoint_stack(self.env.name, self.key))
        self.out.event("diff", text.strip() or "(no output)", changes=code == 1)
        if failed:
            self.out.event("refused", f"dry run: {len(failed)} gate(s) would refuse: " + ", ".join(g.name for g in failed))
            return int(Exit.GATE_REFUSED)
        self.out.event("dry-run", "dry run: every gate passes; nothing was changed")
        return int(Exit.OK)

    def _close_record(self) -> None:
        self.durations["total"] = round(time.monotonic() - self.started, 2)
        self.record.durations_s = self.durations
        self.record.finished_at = history.now_iso()

    def _finish(self, outcome: str, code: Exit, reason: str, restored: str | None = None) -> int:
        return finish(self.out, self.record, self.request.kind, ("component", self.ic), outcome, code, reason,
                      restored, recorded=self._print_record)

    def _print_record(self) -> None:
        """The final record, closed and printed before the result event (an endpoint prints it last, in _write)."""
        self._close_record()
        self.out.result(asdict(self.record))


def _decide(state: ComponentState, target: str, rc: int, seen: list[str], tail) -> Outcome:
    if state.status == "Failed":
        return Outcome(DEPLOY_FAILED, f"component Failed: {state.failure_reason or 'no reason given'}", None, seen, rc)
    on_target = state.serves == target
    if on_target and rc == 0 and "rolled back" not in (state.failure_reason or ""):
        return Outcome(PROMOTED, f"{target} is live", None, seen, rc)
    if "rolled back" in (state.failure_reason or ""):
        return Outcome(ROLLED_BACK, f"SageMaker rolled back: {state.failure_reason}", None, seen, rc)
    if rc != 0:
        text = tail()
        return Outcome(DEPLOY_FAILED, f"cdk deploy exited {rc}: {text.splitlines()[-1] if text else 'no output'}",
                       None, seen, rc)
    return Outcome(DEPLOY_FAILED, f"the stack deployed but the component serves {state.serves}, not {target}",
                   None, seen, rc)
