"""route: gates -> config edit (routing.mode, routing.canary_percent) -> cdk deploy of the routing
stack only -> live check (the parameter the clients read) -> history.

Like a promotion: the repo says what should be, the live routing is read from AWS (the SSM
parameter, never the config file), whatever happens the config ends naming what is live, and one
record in history/promotions.jsonl (kind `route`) says what happened. Applications pick the new
mode up within their client's cache TTL (30 s by default).
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from pinned_llama_client.settings import Mode, Routing, SettingsError

from config import naming
from config.deploy_override import Deployment
from config.manifest_io import write_atomic
from config.project import ENVIRONMENTS_DIR, load_project
from config.routing import routing_document
from scripts.lib import cdk, interrupts
from scripts.lib.aws import error_code, is_aws_error
from scripts.lib.errors import Exit, UserError
from scripts.lib.output import Output
from scripts.promotion import config_edit, deploy, history, locks
from scripts.promotion.gates import COLUMNS, FAIL
from scripts.promotion.live import Inspector
from scripts.routing.gates import package_status, route_gates

DEPLOY_TIMEOUT_S = 1800


@dataclass(frozen=True)
class RouteRequest:
    env: str
    endpoint: str
    mode: str | None  # None: show the live routing against the config
    percent: int | None = None
    dry_run: bool = False


class RouteFailed(UserError):
    """Ended without the new routing live (refused, deploy failed): raised after the history record."""

    def __init__(self, code: Exit, message: str):
        super().__init__(message, code)


class RouteChange:
    def __init__(self, root: Path, request: RouteRequest, out: Output):
        self.root, self.request, self.out = root, request, out
        project = load_project(root)
        if request.env not in project.environments:
            raise UserError(f"--env: no environment {request.env!r}; fix: use one of: "
                            f"{', '.join(sorted(project.environments))}")
        self.env = project.environments[request.env]
        if request.endpoint not in self.env.endpoints:
            raise UserError(f"--endpoint: no endpoint {request.endpoint!r} in {ENVIRONMENTS_DIR}/{self.env.name}.yaml; "
                            f"fix: use one of: {', '.join(sorted(self.env.endpoints))}")
        self.key, self.endpoint = request.endpoint, self.env.endpoints[request.endpoint]
        self.name = self.env.endpoint_name(self.key)
        self.stack = naming.routing_stack(self.env.name, self.key)
        self.parameter = naming.client_parameter_prefix(self.env.name, self.key) + "routing"
        self.config_path, self.config_shown = config_edit.config_file(root, self.env.name)
        configured = self.endpoint.routing
        self.configured = Routing.from_document(routing_document(configured))  # as the client reads it
        self.target = self._target()
        from scripts.lib.aws import client

        self.ssm, self.sagemaker = client("ssm", self.env.region), client("sagemaker", self.env.region)
        self.cloudwatch = client("cloudwatch", self.env.region)
        self.signals = interrupts.Signals()
        # every edit of environments/<env>.yaml takes it: a promotion of another endpoint edits the same file
        self._config_lock = locks.config_lock(root, self.env.name)

    def _target(self) -> Routing | None:
        mode, percent = self.request.mode, self.request.percent
        if mode is None:
            if percent is not None:
                raise UserError("--percent: goes with --mode canary; fix: add --mode canary")
            return None
        if percent is not None and mode != Mode.CANARY.value:
            raise UserError(f"--percent: only canary has a share, not {mode}; fix: drop --percent or use --mode canary")
        target = replace(self.configured, mode=Mode(mode))
        return replace(target, canary_percent=percent) if percent is not None else target

    # ----- reading what is live
    def live(self) -> Routing | None:
        """The routing the clients read now; None if the routing stack was never deployed."""
        try:
            value = self.ssm.get_parameter(Name=self.parameter)["Parameter"]["Value"]
        except Exception as exc:
            if error_code(exc) == "ParameterNotFound":
                return None
            raise
        try:
            return Routing.from_document(json.loads(value))
        except (SettingsError, ValueError) as exc:
            self.out.event("warning", f"warning: {self.parameter} is unreadable ({exc}); treated as not deployed")
            return None

    def show(self) -> int:
        live = self.live()
        drift = live != self.configured
        self.out.table(f"routing: {self.name}", ["", "routing"],
                       [["config", self.configured.describe()], ["live", live.describe() if live else "not deployed"],
                        ["drift", "yes" if drift else "no"]])
        self.out.result({"endpoint": self.name, "config": self.configured.document(),
                         "live": live.document() if live else None, "drift": drift})
        if drift:
            raise RouteFailed(Exit.CHECK_FAILED, f"route: {self.name} live routing differs from the config "
                                                 f"({live.describe() if live else 'not deployed'} vs "
                                                 f"{self.configured.describe()}); fix: python -m scripts route --env "
                                                 f"{self.env.name} --endpoint {self.key} --mode ...")
        return int(Exit.OK)

    # ----- the change
    def run(self) -> int:
        if self.target is None:
            return self.show()
        started = time.monotonic()
        live = self.live()
        state = Inspector(self.sagemaker, self.cloudwatch).endpoint(self.name)
        status = package_status(self.sagemaker, state.live.package_arn if state.live else None)
        firing = Inspector(self.sagemaker, self.cloudwatch).firing_alarms(self.name) if state.exists else []
        gates = route_gates(self.env, self.endpoint.version, self.target, live, state, status, firing)
        self.out.table(f"gates: {self.name} routing → {self.target.describe()}", COLUMNS, [g.row() for g in gates])
        failed = [g for g in gates if g.result == FAIL]
        record = history.Record(
            env=self.env.name, endpoint=self.key, model=self.endpoint.model,
            from_version=state.live.version if state.live else None, to_version=self.endpoint.version, kind="route",
            strategy="route", from_route=live.describe() if live else None, to_route=self.target.describe())
        if self.request.dry_run:
            verdict = "would refuse" if failed else "would deploy"
            self.out.event("dry-run", f"dry run: {verdict} {self.stack} ({record.from_route or 'not deployed'} → "
                                      f"{record.to_route}); nothing was changed")
            return int(Exit.GATE_REFUSED if failed else Exit.OK)
        if failed:
            return self._finish(record, "refused", Exit.GATE_REFUSED,
                                "; ".join(f"{g.name}: {g.detail}" for g in failed), started)
        config_edit.refuse_read_only(self.config_path, self.config_shown)  # before anything is changed
        try:
            lock = locks.route_lock(self.root, self.env.name, self.key)
        except locks.Busy as busy:
            raise RouteFailed(Exit.GATE_REFUSED, f"in-flight: another route change of {self.name} is running "
                                                 f"({busy}); fix: wait for it to end") from None
        # SIGTERM (a cancelled CI job) unwinds like Ctrl-C: config set to what is live, one record
        with lock, interrupts.as_exceptions() as self.signals:
            return self._change(record, started)

    def _change(self, record: history.Record, started: float) -> int:
        target = self.target
        old_text = config_edit.set_values(self.config_path, self.config_shown, self.key, self._tokens(target),
                                          lambda: load_project(self.root, self.env.name), self._config_lock)
        self.out.event("config", f"{self.config_shown}: endpoints.{self.key}.routing → {target.describe()}")
        try:
            code, log = self._deploy()
        except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM (interrupts.Interrupted names it)
            with self.signals.held():  # a second signal must not cut the restore and the record
                record.config_restored_to = self._restore(old_text)
                record.outcome, record.exit_code = "interrupted", int(Exit.INTERRUPTED)
                record.reason = (f"{getattr(stop, 'signal_name', 'SIGINT')}: interrupted; the stack update may go on "
                                 "in CloudFormation (rerun route to see what is live)")
                record.finished_at = history.now_iso()
                history.append(self.root, record)
            raise
        except Exception as exc:  # synth or CLI failure: the config must still name what is live
            record.config_restored_to = self._restore(old_text)
            code = getattr(exc, "exit_code", Exit.AWS_ERROR if is_aws_error(exc) else Exit.CHECK_FAILED)
            return self._finish(record, "error", Exit(code), str(exc)[:300], started)
        now = self.live()
        if code != 0 or now != target:
            record.config_restored_to = self._restore(old_text)
            if code != 0:
                self.out.err.print(log)
            reason = f"cdk deploy {self.stack} exited {code}" if code else \
                f"{self.parameter} holds {now.describe() if now else 'nothing'}, not {target.describe()}"
            return self._finish(record, "deploy-failed", Exit.DEPLOY_FAILED, reason, started)
        self.out.event("live", f"{self.parameter}: {target.describe()} (clients pick it up within their cache TTL)",
                       parameter=self.parameter, routing=target.document())
        return self._finish(record, "routed", Exit.OK, f"{self.name} routing is {target.describe()}", started)

    def _deploy(self) -> tuple[int, str]:
        with tempfile.TemporaryDirectory(prefix="route-") as workdir:
            assembly, log = Path(workdir) / "assembly", Path(workdir) / "cdk-deploy.log"
            with self.out.working(f"synthesizing {self.stack}", event="synth"):
                # the routing stack alone (it imports nothing): dev's synth 8.1 -> 4.9 s
                cdk.synthesize(self.root, assembly, self.env.name,
                               only=Deployment(self.env.name, self.key, routing=True))
            proc = None
            try:
                with self.out.working(f"cdk deploy {self.stack}", event="deploy", stack=self.stack):
                    # tethered (scripts/lib/tether.py): the CLI ends when route ends, kill -9 included
                    proc = deploy.start_deploy(assembly, self.stack, log)
                    code = proc.wait(timeout=DEPLOY_TIMEOUT_S)
            finally:
                deploy.stop(proc)
            return code, deploy.tail(log)

    def _restore(self, old_text: str) -> str | None:
        """Make the config name the routing actually live (the text as it was, if that is what is live)."""
        try:
            live = self.live()
        except Exception:  # noqa: BLE001 - AWS unreachable: the config is put back as it was
            live = None
        if live is None or live == self.configured:
            write_atomic(self.config_path, old_text)
            routing = self.configured
        else:
            routing = live
            config_edit.set_values(self.config_path, self.config_shown, self.key, self._tokens(live),
                                   lambda: load_project(self.root, self.env.name), self._config_lock)
        self.out.event("config", f"{self.config_shown}: endpoints.{self.key}.routing is {routing.describe()} (live)")
        return routing.describe()

    def _tokens(self, routing: Routing) -> dict[str, str]:
        """The config tokens that say `routing` (canary_percent only when it changes: the key may be absent)."""
        values = {"routing.mode": routing.mode.value}
        if routing.canary_percent != self.configured.canary_percent:
            values["routing.canary_percent"] = str(routing.canary_percent)
        return values

    def _finish(self, record: history.Record, outcome: str, code: Exit, reason: str, started: float) -> int:
        record.outcome, record.exit_code, record.reason = outcome, int(code), reason
        record.durations_s = {"total": round(time.monotonic() - started, 2)}
        record.finished_at = history.now_iso()
        history.append(self.root, record)
        self.out.result(asdict(record))
        message = f"route {self.name} → {record.to_route}: {'done' if code == Exit.OK else outcome}: {reason}"
        self.out.event("result", message, outcome=outcome, exit_code=int(code), endpoint=self.name)
        if code != Exit.OK:
            raise RouteFailed(code, message)
        return int(code)
