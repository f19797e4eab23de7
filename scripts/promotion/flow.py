"""promote / rollback / resize: gates -> CDK deploy(s) with the config edit -> watch -> live check + smoke -> history.

Whatever happens, the environment config ends naming the version that is actually live
(when AWS cannot be read at the end, the record says the live version is unknown), and
every run that took the endpoint's lock leaves exactly one final history record, printed
as the last JSON line. The exit code says how it ended (scripts/lib/errors.py).

What a rerun relies on (docs/operations.md, "After an interruption"):
- a run killed before its final record (kill -9) is closed by the next run of the endpoint
  as `abandoned`; its work directory is removed; its CDK CLI died with it (lib/tether.py);
- SIGINT and SIGTERM unwind like an error: CLI stopped, config set to what is live, record
  `interrupted`, exit 130;
- a deployment in flight is read from AWS (endpoint pending, stack in progress), not from
  the lock: a rerun of the same unsettled attempt follows it, anything else is refused (4);
- the synth takes the target from its override, not from the file, and the config is
  edited (under its own lock) right before the first `cdk deploy`: a run killed while it
  synthesizes leaves the file as it was.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from config import naming
from config.deploy_override import DeployOverride
from config.environment import Strategy
from config.errors import SpecErrors
from config.project import ENVIRONMENTS_DIR, Project, load_project
from scripts.lib import interrupts
from scripts.lib.aws import describe_error, is_aws_error
from scripts.lib.errors import Exit, UserError
from scripts.lib.output import Output
from scripts.lib.repo import copy_inputs
from scripts.promotion import capacity, checks, config_edit, deploy, gates, history, locks
from scripts.promotion import stack as stacks
from scripts.promotion.gates import FAIL, Gate
from scripts.promotion.live import EndpointState, Inspector
from scripts.promotion.stack import StackState
from scripts.promotion.watch import (DEPLOY_FAILED, IN_FLIGHT, PROMOTED, ROLLED_BACK, TIMED_OUT, Outcome,
                                     watch)

OUTCOME_EXIT = {PROMOTED: Exit.OK, ROLLED_BACK: Exit.ROLLED_BACK, DEPLOY_FAILED: Exit.DEPLOY_FAILED,
                TIMED_OUT: Exit.TIMED_OUT, IN_FLIGHT: Exit.GATE_REFUSED}
RECORDED_AS = {IN_FLIGHT: "refused"}  # another deployment ran at the same time: nothing of ours happened


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


class NotPromoted(UserError):
    """The run ended without promoting (refused, rolled back, failed, timed out, interrupted): one
    line and its exit code, raised after the history record is complete."""

    def __init__(self, code: Exit, message: str):
        super().__init__(message, code)


class Promotion:
    def __init__(self, root: Path, request: Request, out: Output):
        self.root, self.request, self.out = root, request, out
        self.project: Project = load_project(root)
        self.env = _lookup(self.project.environments, request.env, "--env", "environment")
        self.endpoint_id = request.endpoint  # the key under `endpoints:` in the environment's config
        self.endpoint = _lookup(self.env.endpoints, request.endpoint, "--endpoint",
                                f"endpoint of {ENVIRONMENTS_DIR}/{self.env.name}.yaml")
        self.name = self.env.endpoint_name(self.endpoint_id)
        self.stack = naming.endpoint_stack(self.env.name, self.endpoint_id)
        self.config_path, self.config_shown = config_edit.config_file(root, self.env.name)
        if not request.dry_run:  # before anything is recorded or changed
            config_edit.refuse_read_only(self.config_path, self.config_shown)
            history.refuse_unwritable(root)
        if request.version is not None:
            self._pin(request.version)
        self.strategy = self._strategy()  # flags are checked before any AWS call
        from scripts.lib.aws import client

        region = self.env.region
        self.sagemaker = client("sagemaker", region)
        self.inspector = Inspector(self.sagemaker, client("cloudwatch", region))
        # The quota gate answers `unknown` after 3 attempts, not after a minute of retries.
        self.cloudformation, self.quotas = client("cloudformation", region), client("service-quotas", region, 3)
        self.s3, self.ecr_for = client("s3", region), (lambda r: client("ecr", r))
        self.durations: dict[str, float] = {}
        self.record: history.Record | None = None
        self.records: list[dict] = []
        self.config_changed = False
        self.began = False  # the `started` record is written: from here on, an ending is an error, not a refusal
        self.live_unknown: str | None = None  # set when the end state could not be read from SageMaker
        self.signals = interrupts.Signals()

    # ----- the whole run
    def run(self) -> int:
        try:
            lock = locks.endpoint_lock(self.root, self.env.name, self.endpoint_id)
        except locks.Busy as busy:
            message = (f"in-flight: another promotion of {self.env.name}/{self.endpoint_id} is running ({busy}); "
                       "fix: wait for it to end (python -m scripts status)")
            if not self.request.dry_run:
                self._write(self._new_record(outcome="refused", exit_code=int(Exit.GATE_REFUSED), reason=message))
            raise NotPromoted(Exit.GATE_REFUSED, message) from None
        self.started = time.monotonic()
        try:
            with interrupts.as_exceptions() as self.signals:
                try:
                    if not self.request.dry_run:
                        self.record = self._new_record()
                        deploy.sweep_workdirs()
                        self._close_abandoned()
                    return self._run()
                except BaseException as exc:
                    with self.signals.held():
                        ending = self._ended_by(exc)
                    if ending is exc:
                        raise
                    if ending is None:
                        return int(Exit.OK)
                    raise ending from None
                finally:
                    if self.record is not None:
                        with self.signals.held():
                            self._write(self.record)
        finally:
            lock.close()  # after the final record: the next run must find it

    def _run(self) -> int:
        req, out = self.request, self.out
        state = self.inspector.endpoint(self.name)
        stack = self._read_stack()
        live_version = state.live.version if state.live else None
        target = req.version or self._previous(live_version)
        pin = self._pin(target)
        records = self.records if self.record is not None else history.read(self.root)
        attempt = history.unsettled_attempt(records, self.env.name, self.endpoint_id, target)
        adopting = bool(attempt and state.status == "Updating" and state.pending and state.pending.version == target)
        from_version = live_version
        if attempt and live_version == target and attempt.get("from_version") not in (None, target):
            from_version = attempt["from_version"]  # that attempt's deployment finished by itself
        strategy = self.strategy
        out.event("plan", f"{req.kind} {self.name}: {live_version or '?'} → {target} ({strategy or self.endpoint.deployment.strategy.value})"
                  + (" [dry run]" if req.dry_run else "") + (" [following the deployment in flight]" if adopting else ""),
                  endpoint=self.name, kind=req.kind, live_version=live_version, target=target, strategy=strategy,
                  dry_run=req.dry_run, adopting=adopting, run_id=self.record.run_id if self.record else None)

        t = time.monotonic()
        results = self._gates(state, stack, target, pin, adopting)
        self.durations["gates"] = round(time.monotonic() - t, 2)
        out.table(f"gates: {self.name} → {target}", gates.COLUMNS, [g.row() for g in results], key_column=True)
        failed = [g for g in results if g.result == FAIL]
        if req.dry_run:
            return self._dry_run(target, strategy, failed)
        self.record.from_version, self.record.to_version = from_version, target
        if failed:
            return self._finish("refused", Exit.GATE_REFUSED, "; ".join(f"{g.name}: {g.detail}" for g in failed))
        if state.status == "InService" and live_version == target and not self._instance_change(state) \
                and (stack is None or stack.deployed(state.live.config_name, state.live.config_arn) is not False):
            self._set_config(target)
            return self._after_live(target, pin, from_version, already=True)

        history.append(self.root, self.record)  # "started": a killed run still leaves a trace
        self.began = True
        if adopting:
            self._set_config(target)
            outcome = self._watch(target, proc=None, log=None)
        else:
            outcome = self._deploy_phases(state, target, strategy)
        if outcome.kind != PROMOTED:
            restored = self._restore_config()
            return self._finish(RECORDED_AS.get(outcome.kind, outcome.kind), OUTCOME_EXIT[outcome.kind],
                                outcome.reason, restored)
        return self._after_live(target, pin, from_version, already=False)

    def _ended_by(self, exc: BaseException) -> BaseException | None:
        """Complete the record for a run ended by `exc`, the config set to what is live; returns what
        to raise (None: the run had finished well before the signal came)."""
        record = self.record
        finished = record is not None and record.outcome != history.STARTED
        if isinstance(exc, KeyboardInterrupt):
            name = getattr(exc, "signal_name", "SIGINT")
            if finished and record.exit_code == 0:
                return None
            if finished:
                return NotPromoted(Exit(record.exit_code), f"{record.outcome}: {record.reason}")
            restored = self._restore_config() if self.config_changed else None
            if self.config_changed:
                detail = (f"the config names {restored or '?'}; the deployment to {self._target()} may go on in AWS: "
                          "see `status`, rerun to follow it")
            else:
                detail = "nothing was changed"
            if record is not None:
                record.outcome, record.exit_code = "interrupted", int(Exit.INTERRUPTED)
                record.reason, record.config_restored_to = f"interrupted by {name}; {detail}", restored
            return NotPromoted(Exit.INTERRUPTED, f"{self.request.kind} {self.name} → {self._target()}: "
                                                 f"interrupted by {name}: {detail}")
        if record is not None and not finished:
            code = getattr(exc, "exit_code", Exit.AWS_ERROR if is_aws_error(exc) else Exit.INTERNAL)
            restored = self._restore_config() if self.config_changed else None
            began = self.began or self.config_changed
            record.outcome = "refused" if isinstance(exc, (UserError, SpecErrors)) and not began else "error"
            record.exit_code = int(Exit.INVALID_INPUT if isinstance(exc, SpecErrors) else code)
            message = describe_error(exc) if is_aws_error(exc) else str(exc)
            record.reason, record.config_restored_to = message[:400], restored
            if self.live_unknown:
                record.reason += f"; {self.live_unknown}"
        return exc

    # ----- pieces
    def _new_record(self, **fields) -> history.Record:
        return history.Record(env=self.env.name, endpoint=self.endpoint_id, model=self.endpoint.model,
                              from_version=None, to_version=self.request.version or "(previous)",
                              kind=self.request.kind,
                              strategy=self.request.strategy or self.endpoint.deployment.strategy.value, **fields)

    def _target(self) -> str:
        return self.record.to_version if self.record is not None else (self.request.version or "?")

    def _close_abandoned(self) -> None:
        """Close the runs of this endpoint that never wrote their final record (killed): this run
        holds the lock, so no process of this checkout is still working on them."""
        loaded = history.load(self.root)
        if loaded.warning():
            self.out.warn(loaded.warning())
        self.records = loaded.records
        for closing in history.close_unfinished(self.root, loaded.records, self.env.name, self.endpoint_id,
                                                self.record.run_id):
            self.records.append(asdict(closing))
            self.out.event("abandoned", closing.reason, run_id=closing.run_id)

    def _previous(self, live_version: str | None) -> str:
        records = self.records if self.record is not None else history.read(self.root)
        previous = history.previous_version(records, self.env.name, self.endpoint_id, live_version)
        if previous is None:
            raise UserError(f"--to: no promotion of {self.env.name}/{self.endpoint_id} to {live_version} in "
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
            DeployOverride(strategy=Strategy(chosen)).applied_to(self.endpoint, "--strategy")
        except SpecErrors as exc:
            first = exc.errors[0]
            raise UserError(f"--strategy: {chosen} does not fit {self.config_shown} endpoints.{self.endpoint_id} "
                            f"({first.field}: {first.problem}); fix: use another strategy") from None
        return chosen

    def _read_stack(self) -> StackState:
        return stacks.read(self.cloudformation, self.stack)

    def _gates(self, state: EndpointState, stack: StackState, target: str, pin, adopting: bool) -> list[Gate]:
        rollback = self.request.kind == "rollback"
        results = []
        if not rollback:
            results.append(gates.promotion_order(self.project, self.env, self.endpoint, target))
            results.append(gates.manifest_approved(self.env, pin))
        results.append(gates.registry_approved(self.sagemaker, self.env, pin))
        if not rollback:
            results.append(gates.evaluation_evidence(self.root, self.env, self.endpoint_id, self.endpoint, pin))
        results.append(gates.pins_verified(self.s3, self.ecr_for, self.env, pin))
        results += gates.endpoint_ready(state, stack, target, adopting)
        if state.exists and not adopting:
            results.append(gates.stack_matches(state, stack, target))
            results.append(capacity.quota_gate(self.quotas, self.sagemaker, self.endpoint, state.instance_count))
        if not rollback and state.exists:
            # A rollback deploys without alarm-driven auto-rollback: its alarms are likely firing.
            results.append(gates.no_alarms(self.inspector.firing_alarms(self.name), naming.rollback_alarms(self.name)))
        return results

    def _instance_change(self, state: EndpointState) -> bool:
        live_type = state.live.instance_type if state.live else None
        return bool(live_type and live_type != self.endpoint.instance_type)

    def _phases(self, state: EndpointState, target: str, strategy: str | None) -> list[tuple[str, DeployOverride]]:
        auto_rollback = self.request.kind != "rollback"
        # The version travels in the override: the synth never depends on a file other runs edit.
        final = DeployOverride(strategy=strategy, auto_rollback=auto_rollback, version=target)
        if not self._instance_change(state):
            return [(f"deploy {target}", final)]
        live_type = state.live.instance_type
        # SageMaker refuses an instance-type change on a variant registered for autoscaling,
        # and CloudFormation would deregister only after the update (aws/aws-cdk#29626).
        return [
            (f"1/3 remove autoscaling ({live_type} stays)",
             DeployOverride(version=state.live.version, instance_type=live_type, suspend_autoscaling=True,
                            strategy=strategy, auto_rollback=auto_rollback)),
            (f"2/3 deploy {target} on {self.endpoint.instance_type}",
             DeployOverride(strategy=strategy, suspend_autoscaling=True, auto_rollback=auto_rollback, version=target)),
            ("3/3 restore autoscaling", final),
        ]

    def _deploy_phases(self, state: EndpointState, target: str, strategy: str | None) -> Outcome:
        phases = self._phases(state, target, strategy)
        if len(phases) > 1:
            self.out.event("phases", f"instance type {state.live.instance_type} → {self.endpoint.instance_type} on "
                           "an autoscaled variant: deploying in 3 phases", phases=[p[0] for p in phases])
        outcome = None
        for i, (label, override) in enumerate(phases):
            outcome = self._deploy(label, override, override.version or target, config_to=target if i == 0 else None)
            if outcome.kind != PROMOTED:
                return outcome
        assert outcome is not None
        return outcome

    def _deploy(self, label: str, override: DeployOverride, target: str, config_to: str | None = None) -> Outcome:
        """Synthesize with `override`, set the config to `config_to` (if given), cdk deploy the endpoint
        stack, watch it to the end."""
        with deploy.workdir() as workdir:
            t = time.monotonic()
            self.out.event("synth", f"{label}: synthesizing {self.env.name}", phase=label)
            with self.out.working(f"{label}: synthesizing {self.stack}", event="synth", phase=label):
                assembly = deploy.synthesize(self.root, self.env.name, self.endpoint_id, override, Path(workdir))
            self.durations["synth"] = round(self.durations.get("synth", 0) + time.monotonic() - t, 2)
            if config_to is not None:
                self._set_config(config_to)
            log = Path(workdir) / "cdk-deploy.log"
            self.out.event("deploy", f"{label}: cdk deploy {self.stack}", phase=label, stack=self.stack)
            outcome = self._watch(target, deploy.start_deploy(assembly, self.stack, log), log)
            if outcome.kind != PROMOTED and outcome.cli_exit:
                self.out.err.print(deploy.tail(log), markup=False)
            return outcome

    def _watch(self, target: str, proc, log: Path | None) -> Outcome:
        t = time.monotonic()
        timeout = self.request.timeout_s or (self.endpoint.deployment.max_execution_seconds + 1800)
        try:
            outcome = watch(self.inspector, self.name, target, proc, timeout, self.request.poll_s, self.out,
                            cli_log_tail=lambda: deploy.tail(log) if log else "", stack=self._read_stack)
        finally:
            deploy.stop(proc)
            self.durations["deploy"] = round(self.durations.get("deploy", 0) + time.monotonic() - t, 2)
        if self.record is not None:
            self.record.stages += outcome.statuses
        return outcome

    def _after_live(self, target: str, pin, from_version: str | None, already: bool) -> int:
        t = time.monotonic()
        state = self.inspector.endpoint(self.name)
        self.record.live_at_end = state.live.version if state.live else None
        problems = checks.live_problems(state, pin, self.env)
        if not problems and self.request.smoke:
            problems = checks.smoke_problems(self.name, self.endpoint, pin, self.env.region)
            if self.endpoint.smoke_test and not problems:
                self.out.event("smoke", f"smoke test: {len(self.endpoint.smoke_test)} answer(s) as expected")
        self.durations["checks"] = round(time.monotonic() - t, 2)
        ended = checked(self.out, problems, target, from_version, already, self._finish, (
            f"{self.name} serves {pin.model} {target}: package, image digest and weights prefix match the pin",
            {"version": target, "image": state.resolved_images}))
        if ended is not None:
            return ended
        self.out.event("rollback", f"rolling {self.name} back to {from_version} (all-at-once)")
        self._set_config(from_version)
        outcome = self._deploy(f"roll back to {from_version}", DeployOverride(
            strategy=Strategy.ALL_AT_ONCE, auto_rollback=False, version=from_version), from_version)
        restored = self._restore_config()
        reason = "; ".join(problems) + f"; rolled back to {from_version}: {outcome.reason}"
        return self._finish("smoke-failed", Exit.SMOKE_FAILED, reason, restored)

    def _dry_run(self, target: str, strategy: str | None, failed: list[Gate]) -> int:
        with deploy.workdir("dry-") as workdir:
            scratch = copy_inputs(self.root, Path(workdir) / "repo")
            path, shown = config_edit.config_file(scratch, self.env.name)
            config_edit.set_version(path, shown, self.endpoint_id, target, lambda: load_project(scratch, self.env.name))
            assembly = deploy.synthesize(scratch, self.env.name, self.endpoint_id, DeployOverride(strategy=strategy),
                                         Path(workdir))
            code, text = deploy.diff(assembly, self.stack)
        self.out.event("diff", text.strip() or "(no output)", stack=self.stack, changes=code == 1)
        if failed:
            self.out.event("refused", f"dry run: {len(failed)} gate(s) would refuse: "
                           + ", ".join(g.name for g in failed))
            return int(Exit.GATE_REFUSED)
        self.out.event("dry-run", "dry run: every gate passes; nothing was changed")
        return int(Exit.OK)

    def _set_config(self, version: str) -> None:
        self.config_changed = True
        config_edit.set_version(self.config_path, self.config_shown, self.endpoint_id, version,
                                lambda: load_project(self.root, self.env.name),
                                lock=locks.config_lock(self.root, self.env.name))

    def _restore_config(self) -> str | None:
        """Name the version actually live in the config; never raises. When SageMaker cannot be read,
        the version last seen live (else the run's `from`), and `live_unknown` says so."""
        try:
            state = self.inspector.endpoint(self.name)
            live = state.live.version if state.live else None
            self.record.live_at_end = live
            known = True
        except Exception as exc:  # noqa: BLE001 - an outage must not cost the record
            live, known = self.inspector.last_live.get(self.name), False
            error = describe_error(exc) if is_aws_error(exc) else f"{type(exc).__name__}: {exc}"
            self.live_unknown = (f"live version unknown: {self.name} could not be read ({error[:200]}); the config "
                                 f"names {live or self.record.from_version}, last seen live: run `status` once AWS answers")
        version = live if (self.endpoint.model, live) in self.project.pins else self.record.from_version
        if not version:
            return None
        try:
            self._set_config(version)
        except Exception as exc:  # noqa: BLE001 - say so in the record rather than lose it
            self.out.warn(f"{self.config_shown}: could not set endpoints.{self.endpoint_id}.version to {version}: {exc}")
            return None
        self.out.event("config", f"{self.config_shown}: endpoints.{self.endpoint_id}.version is {version}"
                       + (" (live)" if known else " (last seen live; AWS unreachable)"))
        return version

    def _finish(self, outcome: str, code: Exit, reason: str, restored: str | None = None) -> int:
        assert self.record is not None
        if self.live_unknown:
            reason += f"; {self.live_unknown}"
        return finish(self.out, self.record, self.request.kind, ("endpoint", self.name), outcome, code, reason,
                      restored)

    def _write(self, record: history.Record) -> None:
        """Append the final record and print it as the last JSON line (what CI reads)."""
        if record.outcome == history.STARTED:  # a path that set no outcome: say so rather than stay silent
            record.outcome, record.exit_code, record.reason = "error", int(Exit.INTERNAL), "ended without an outcome"
        if record.finished_at is None:
            self.durations["total"] = round(time.monotonic() - getattr(self, "started", time.monotonic()), 2)
            record.durations_s, record.finished_at = self.durations, history.now_iso()
        history.append(self.root, record)
        self.out.result(asdict(record))


def finish(out: Output, record: history.Record, kind: str, subject: tuple[str, str], outcome: str, code: Exit,
           reason: str, restored: str | None = None, recorded: Callable[[], None] = lambda: None) -> int:
    """How a run ends, for an endpoint and a component alike (the same words, the same exit codes):
    the outcome in its record, then `recorded()` (a component closes and prints its record there),
    one `result` event naming `subject` (its field and name), and NotPromoted unless it succeeded."""
    record.outcome, record.exit_code, record.reason = outcome, int(code), reason
    record.config_restored_to = restored
    recorded()
    field, name = subject
    message = f"{kind} {name} → {record.to_version}: {'done' if code == Exit.OK else outcome}: {reason}"
    out.event("result", message, outcome=outcome, exit_code=int(code), **{field: name},
              from_version=record.from_version, to_version=record.to_version)
    if code != Exit.OK:
        raise NotPromoted(code, message)
    return int(code)


def checked(out: Output, problems: list[str], target: str, from_version: str | None, already: bool,
            finish: Callable[..., int], live: tuple[str, dict]) -> int | None:
    """The live check and smoke test decide, for an endpoint and a component alike: passed, the run
    ends promoted (after the `live` event, its message and fields); failed with nothing to roll back
    to, it ends smoke-failed. None: failed, and the caller rolls back to `from_version`."""
    if not problems:
        out.event("live", live[0], **live[1])
        return finish(PROMOTED, Exit.OK, f"{target} is live" + (" (already)" if already else ""))
    out.event("checks-failed", "; ".join(problems), problems=problems)
    if already or from_version is None or from_version == target:
        return finish("smoke-failed", Exit.SMOKE_FAILED, "; ".join(problems))
    return None


def _lookup(mapping: dict, key: str, flag: str, what: str):
    if key not in mapping:
        raise UserError(f"{flag}: no {what} named {key!r}; fix: use one of: {', '.join(sorted(mapping)) or 'none'}")
    return mapping[key]
