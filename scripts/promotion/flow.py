"""promote / rollback / resize: gates -> config edit -> CDK deploy(s) -> watch -> live check + smoke -> history.

Whatever happens, the environment config ends naming the version that is
actually live, and one history record says what happened and how long each
part took. The exit code says how it ended (scripts/lib/errors.py).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from pydantic import ValidationError

from scripts.lib.errors import Exit, UserError
from scripts.lib.output import Output
from scripts.promotion import checks, config_edit, deploy, gates, history
from scripts.promotion.gates import FAIL, Gate
from scripts.promotion.live import EndpointState, Inspector
from scripts.promotion.watch import DEPLOY_FAILED, PROMOTED, ROLLED_BACK, TIMED_OUT, Outcome, watch
from config.environment import Strategy
from config.project import ENVIRONMENTS_DIR, SUFFIXES, Project, load_project

OUTCOME_EXIT = {PROMOTED: Exit.OK, ROLLED_BACK: Exit.ROLLED_BACK, DEPLOY_FAILED: Exit.DEPLOY_FAILED,
                TIMED_OUT: Exit.TIMED_OUT}


@dataclass(frozen=True)
class Request:
    env: str
    endpoint: str
    version: str | None  # None: rollback to the previous version from the history
    kind: str = "promote"  # promote | rollback
    strategy: str | None = None
    dry_run: bool = False
    timeout_s: float | None = None
    poll_s: float = 15.0
    smoke: bool = True


class Finished(UserError):
    """The promotion ended other than promoted: one line and its exit code, after the record is written."""

    def __init__(self, code: Exit, message: str):
        super().__init__(message, code)


class Promotion:
    def __init__(self, root: Path, request: Request, out: Output):
        self.root, self.request, self.out = root, request, out
        self.project: Project = load_project(root)
        self.env = _lookup(self.project.environments, request.env, "--env", "environment")
        self.key = request.endpoint
        self.endpoint = _lookup(self.env.endpoints, request.endpoint, "--endpoint",
                                f"endpoint of {ENVIRONMENTS_DIR}/{self.env.name}.yaml")
        self.name = self.env.endpoint_name(self.key)
        self.stack = f"llama-{self.env.name}-{self.key}"
        self.config_path, self.config_shown = _config_file(root, self.env.name)
        if request.version is not None:
            self._pin(request.version)
        self.strategy = self._strategy()  # flags are checked before any AWS call
        from scripts.lib.aws import client

        region = self.env.region
        self.sagemaker = client("sagemaker", region)
        self.inspector = Inspector(self.sagemaker, client("cloudwatch", region))
        self.s3, self.ecr_for = client("s3", region), (lambda r: client("ecr", r))
        self.durations: dict[str, float] = {}
        self.record: history.Record | None = None

    # ----- the whole run
    def run(self) -> int:
        try:
            lock = _lock(self.root, self.env.name, self.key)
        except Finished as busy:
            if not self.request.dry_run:
                history.append(self.root, history.Record(
                    env=self.env.name, endpoint=self.key, model=self.endpoint.model, from_version=None,
                    to_version=self.request.version or "(previous)", kind=self.request.kind,
                    strategy=self.request.strategy or self.endpoint.deployment.strategy.value, outcome="refused",
                    exit_code=int(busy.exit_code), reason=str(busy), finished_at=history.now_iso()))
            raise
        self.started = time.monotonic()
        try:
            return self._run()
        finally:
            lock.close()
            if self.record is not None and self.record.outcome != "started":
                if self.record.finished_at is None:  # interrupted or failed outside _finish
                    self._close_record()
                history.append(self.root, self.record)

    def _run(self) -> int:
        req, out = self.request, self.out
        state = self.inspector.endpoint(self.name)
        live_version = state.live.version if state.live else None
        target = req.version or self._previous(live_version)
        pin = self._pin(target)
        strategy = self.strategy
        adopting = bool(state.status == "Updating" and state.pending and state.pending.version == target)
        out.event("plan", f"{req.kind} {self.name}: {live_version or '?'} → {target} ({strategy or self.endpoint.deployment.strategy.value})"
                  + (" [dry run]" if req.dry_run else ""), endpoint=self.name, kind=req.kind,
                  live_version=live_version, target=target, strategy=strategy, dry_run=req.dry_run)

        t = time.monotonic()
        results = self._gates(state, target, pin, adopting)
        self.durations["gates"] = round(time.monotonic() - t, 2)
        out.table(f"gates: {self.name} → {target}", gates.COLUMNS, [g.row() for g in results])
        failed = [g for g in results if g.result == FAIL]
        if req.dry_run:
            return self._dry_run(target, strategy, failed)
        self.record = history.Record(env=self.env.name, endpoint=self.key, model=self.endpoint.model,
                                     from_version=live_version, to_version=target, kind=req.kind,
                                     strategy=strategy or self.endpoint.deployment.strategy.value)
        if failed:
            return self._finish("refused", Exit.GATE_REFUSED, "; ".join(f"{g.name}: {g.detail}" for g in failed))
        if state.status == "InService" and live_version == target and not self._instance_change(state):
            self._set_config(target)
            return self._after_live(target, pin, live_version, already=True)

        history.append(self.root, self.record)  # "started": a killed run still leaves a trace
        self._set_config(target)
        try:
            if adopting:
                outcome = self._watch(target, proc=None, log=None)
            else:
                outcome = self._deploy_phases(state, target, strategy)
        except KeyboardInterrupt:
            self.record.config_restored_to = self._restore_config()
            self.record.outcome, self.record.exit_code = "interrupted", int(Exit.INTERRUPTED)
            self.record.reason = "interrupted; the deployment may go on in AWS (see status, rerun to follow it)"
            raise
        except Exception as exc:  # AWS error, synth failure: the config must still name what is live
            self.record.config_restored_to = self._restore_config()
            code = getattr(exc, "exit_code", Exit.AWS_ERROR if _is_aws(exc) else Exit.INTERNAL)
            self.record.outcome, self.record.exit_code, self.record.reason = "error", int(code), str(exc)[:300]
            raise
        if outcome.kind != PROMOTED:
            restored = self._restore_config()
            return self._finish(outcome.kind, OUTCOME_EXIT[outcome.kind], outcome.reason, restored)
        return self._after_live(target, pin, live_version, already=False)

    # ----- pieces
    def _previous(self, live_version: str | None) -> str:
        records = history.read(self.root)
        previous = history.previous_version(records, self.env.name, self.key, live_version)
        if previous is None:
            raise UserError(f"--to: no promotion of {self.env.name}/{self.key} to {live_version} in "
                            f"{history.HISTORY}; fix: name the version with --to V")
        return previous

    def _pin(self, version: str):
        pin = self.project.pins.get((self.endpoint.model, version))
        if pin is None:
            flag = "--version" if self.request.kind == "promote" else "--to"
            known = ", ".join(self.project.versions_of(self.endpoint.model)) or "none"
            raise UserError(f"{flag}: {self.endpoint.model} {version} is not pinned (model_artifacts/"
                            f"{self.endpoint.model}/{version}.yaml); fix: use one of: {known}")
        return pin

    def _strategy(self) -> str | None:
        chosen = self.request.strategy or ("all-at-once" if self.request.kind == "rollback" else None)
        if chosen is None:
            return None
        try:
            self.endpoint.with_strategy(Strategy(chosen))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise UserError(f"--strategy: {chosen} does not fit {self.config_shown} endpoints.{self.key} "
                            f"({first['msg'].removeprefix('Value error, ')}); fix: use another strategy") from None
        return chosen

    def _gates(self, state: EndpointState, target: str, pin, adopting: bool) -> list[Gate]:
        rollback = self.request.kind == "rollback"
        results = []
        if not rollback:
            results.append(gates.promotion_order(self.project, self.env, self.endpoint, target))
            results.append(gates.manifest_approved(self.env, pin))
        results.append(gates.registry_approved(self.sagemaker, self.env, pin))
        if not rollback:
            results.append(gates.evaluation_evidence(self.root, self.env, self.key, self.endpoint, pin))
        results.append(gates.pins_verified(self.s3, self.ecr_for, self.env, pin))
        results += gates.endpoint_ready(state, target, adopting)
        if not rollback and state.exists:
            # A rollback deploys without alarm-driven auto-rollback: its alarms are likely firing.
            results.append(gates.no_alarms(self.inspector.firing_alarms(self.name)))
        return results

    def _instance_change(self, state: EndpointState) -> bool:
        live_type = state.live.instance_type if state.live else None
        return bool(live_type and live_type != self.endpoint.instance_type)

    def _phases(self, state: EndpointState, target: str, strategy: str | None) -> list[tuple[str, deploy.Override]]:
        auto_rollback = self.request.kind != "rollback"
        final = deploy.Override(strategy=strategy, auto_rollback=auto_rollback)
        if not self._instance_change(state):
            return [(f"deploy {target}", final)]
        live_type = state.live.instance_type
        # SageMaker refuses an instance-type change on a variant registered for autoscaling,
        # and CloudFormation would deregister only after the update (aws/aws-cdk#29626).
        return [
            (f"1/3 remove autoscaling ({live_type} stays)",
             deploy.Override(version=state.live.version, instance_type=live_type, suspend_autoscaling=True,
                             strategy=strategy, auto_rollback=auto_rollback)),
            (f"2/3 deploy {target} on {self.endpoint.instance_type}",
             deploy.Override(strategy=strategy, suspend_autoscaling=True, auto_rollback=auto_rollback)),
            ("3/3 restore autoscaling", final),
        ]

    def _deploy_phases(self, state: EndpointState, target: str, strategy: str | None) -> Outcome:
        phases = self._phases(state, target, strategy)
        if len(phases) > 1:
            self.out.event("phases", f"instance type {state.live.instance_type} → {self.endpoint.instance_type} on "
                           "an autoscaled variant: deploying in 3 phases", phases=[p[0] for p in phases])
        outcome = None
        for label, override in phases:
            outcome = self._deploy(label, override, override.version or target)
            if outcome.kind != PROMOTED:
                return outcome
        assert outcome is not None
        return outcome

    def _deploy(self, label: str, override: deploy.Override, target: str) -> Outcome:
        """Synthesize with `override`, cdk deploy the endpoint stack, watch it to the end."""
        with tempfile.TemporaryDirectory(prefix="promote-") as workdir:
            t = time.monotonic()
            self.out.event("synth", f"{label}: synthesizing {self.env.name}", phase=label)
            assembly = deploy.synthesize(self.root, self.env.name, {f"{self.env.name}/{self.key}": override},
                                         Path(workdir), endpoint=self.key)
            self.durations["synth"] = round(self.durations.get("synth", 0) + time.monotonic() - t, 2)
            log = Path(workdir) / "cdk-deploy.log"
            self.out.event("deploy", f"{label}: cdk deploy {self.stack}", phase=label, stack=self.stack)
            outcome = self._watch(target, deploy.start_deploy(assembly, self.stack, log), log)
            if outcome.kind != PROMOTED and outcome.cli_exit:
                self.out.err.print(deploy.tail(log))
            return outcome

    def _watch(self, target: str, proc, log: Path | None) -> Outcome:
        t = time.monotonic()
        timeout = self.request.timeout_s or (self.endpoint.deployment.max_execution_seconds + 1800)
        try:
            outcome = watch(self.inspector, self.name, target, proc, timeout, self.request.poll_s, self.out,
                            cli_log_tail=lambda: deploy.tail(log) if log else "")
        finally:
            _stop(proc)
        self.durations["deploy"] = round(self.durations.get("deploy", 0) + time.monotonic() - t, 2)
        if self.record is not None:
            self.record.stages += outcome.statuses
        return outcome

    def _after_live(self, target: str, pin, from_version: str | None, already: bool) -> int:
        t = time.monotonic()
        state = self.inspector.endpoint(self.name)
        problems = checks.live_problems(state, pin, self.env)
        if not problems and self.request.smoke:
            problems = checks.smoke_problems(self.name, self.endpoint, pin, self.env.region)
            if self.endpoint.smoke_test and not problems:
                self.out.event("smoke", f"smoke test: {len(self.endpoint.smoke_test)} answer(s) as expected")
        self.durations["checks"] = round(time.monotonic() - t, 2)
        if not problems:
            self.out.event("live", f"{self.name} serves {pin.model} {target}: package, image digest and weights "
                           "prefix match the pin", version=target, image=state.resolved_images)
            return self._finish(PROMOTED, Exit.OK, f"{target} is live" + (" (already)" if already else ""))
        self.out.event("checks-failed", "; ".join(problems), problems=problems)
        if already or from_version is None or from_version == target:
            return self._finish("smoke-failed", Exit.SMOKE_FAILED, "; ".join(problems))
        self.out.event("rollback", f"rolling {self.name} back to {from_version} (all-at-once)")
        self._set_config(from_version)
        outcome = self._deploy(f"roll back to {from_version}",
                               deploy.Override(strategy="all-at-once", auto_rollback=False), from_version)
        restored = self._restore_config()
        reason = "; ".join(problems) + f"; rolled back to {from_version}: {outcome.reason}"
        return self._finish("smoke-failed", Exit.SMOKE_FAILED, reason, restored)

    def _dry_run(self, target: str, strategy: str | None, failed: list[Gate]) -> int:
        with tempfile.TemporaryDirectory(prefix="promote-dry-") as workdir:
            scratch = Path(workdir) / "repo"
            for name in (ENVIRONMENTS_DIR, "model_artifacts"):
                shutil.copytree(self.root / name, scratch / name)
            shutil.copy(self.root / "cdk.json", scratch / "cdk.json")
            path, shown = _config_file(scratch, self.env.name)
            config_edit.set_version(path, shown, self.key, target, lambda: load_project(scratch, self.env.name))
            assembly = deploy.synthesize(scratch, self.env.name,
                                         {f"{self.env.name}/{self.key}": deploy.Override(strategy=strategy)},
                                         Path(workdir), endpoint=self.key)
            code, text = deploy.diff(assembly, self.stack)
        self.out.event("diff", text.strip() or "(no output)", stack=self.stack, changes=code == 1)
        if failed:
            self.out.event("refused", f"dry run: {len(failed)} gate(s) would refuse: "
                           + ", ".join(g.name for g in failed))
            return int(Exit.GATE_REFUSED)
        self.out.event("dry-run", "dry run: every gate passes; nothing was changed")
        return int(Exit.OK)

    def _set_config(self, version: str) -> None:
        config_edit.set_version(self.config_path, self.config_shown, self.key, version,
                                lambda: load_project(self.root, self.env.name))

    def _restore_config(self) -> str | None:
        """Name the version actually live in the config (the previous one if it cannot be read)."""
        state = self.inspector.endpoint(self.name)
        live = state.live.version if state.live else None
        version = live if (self.endpoint.model, live) in self.project.pins else self.record.from_version
        if version:
            self._set_config(version)
            self.out.event("config", f"{self.config_shown}: endpoints.{self.key}.version is {version} (live)")
        return version

    def _close_record(self) -> None:
        self.durations["total"] = round(time.monotonic() - self.started, 2)
        self.record.durations_s = self.durations
        self.record.finished_at = history.now_iso()

    def _finish(self, outcome: str, code: Exit, reason: str, restored: str | None = None) -> int:
        assert self.record is not None
        self.record.outcome, self.record.exit_code, self.record.reason = outcome, int(code), reason
        self.record.config_restored_to = restored
        self._close_record()
        self.out.result(asdict(self.record))  # the last JSON line: what CI reads
        message = f"{self.request.kind} {self.name} → {self.record.to_version}: " \
                  f"{'done' if code == Exit.OK else outcome}: {reason}"
        self.out.event("result", message, outcome=outcome, exit_code=int(code), endpoint=self.name,
                       from_version=self.record.from_version, to_version=self.record.to_version)
        if code != Exit.OK:
            raise Finished(code, message)
        return int(code)


def _stop(proc) -> None:
    """End the CDK CLI if it still runs (timeout, Ctrl-C) and reap it: no zombie, no stray process."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _is_aws(exc: Exception) -> bool:
    return type(exc).__module__.startswith(("botocore", "boto3"))


def _lookup(mapping: dict, key: str, flag: str, what: str):
    if key not in mapping:
        raise UserError(f"{flag}: no {what} named {key!r}; fix: use one of: {', '.join(sorted(mapping)) or 'none'}")
    return mapping[key]


def _config_file(root: Path, env: str) -> tuple[Path, str]:
    for suffix in SUFFIXES:
        path = root / ENVIRONMENTS_DIR / f"{env}{suffix}"
        if path.is_file():
            return path, f"{ENVIRONMENTS_DIR}/{path.name}"
    raise UserError(f"--env: {ENVIRONMENTS_DIR}/{env}.yaml not found; fix: check the name")


def _lock(root: Path, env: str, endpoint: str):
    """One promotion per endpoint per checkout: an flock the kernel releases even on kill -9
    (across machines, the endpoint's own Updating status and CI concurrency groups serialize).
    Returns the open file: closing it releases the lock."""
    path = root / "history" / ".locks" / f"{env}-{endpoint}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise Finished(Exit.GATE_REFUSED, f"in-flight: another promotion of {env}/{endpoint} is running "
                                          f"({holder}); fix: wait for it to end (python -m scripts status)") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    return handle
