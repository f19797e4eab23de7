"""The promotion pieces without AWS: the one-token config edit, the history, how a watch ends,
the gates that need only the repo, and the per-deployment overrides of the app."""

from __future__ import annotations

import json

import pytest

from config.errors import SpecErrors

from scripts.lib.errors import UserError
from scripts.lib.output import Output
from scripts.promotion import config_edit, gates, history
from scripts.promotion.live import Deployed, EndpointState
from scripts.promotion.watch import DEPLOY_FAILED, PROMOTED, ROLLED_BACK, TIMED_OUT, watch
from config.deploy_override import Deployment, DeployOverride, DeployOverrides
from config.environment import Strategy
from config.pin import ApprovalStatus
from config.project import load_project
from conftest import ROOT


# ----- config edit
def test_version_edit_changes_one_token_and_keeps_everything_else():
    text = (ROOT / "environments" / "dev.yaml").read_text()
    edited = config_edit.with_version(text, "environments/dev.yaml", "intent-3b", "v2")
    changed = [(a, b) for a, b in zip(text.splitlines(), edited.splitlines()) if a != b]
    assert changed == [("    version: v1", "    version: v2")]
    assert len(text.splitlines()) == len(edited.splitlines())


@pytest.mark.parametrize("line, expected", [
    ('    version: "v1"  # live\n', '    version: "v3"  # live\n'),
    ("    version: 'v1'\n", "    version: 'v3'\n"),
    ("    version: v1 # comment\n", "    version: v3 # comment\n"),
])
def test_version_edit_keeps_quotes_and_comments(line, expected):
    text = f"endpoints:\n  e:\n    model: m\n{line}    instance_type: ml.g5.xlarge\n"
    assert config_edit.with_version(text, "f.yaml", "e", "v3").splitlines()[3] + "\n" == expected


def test_version_edit_of_a_flow_mapping():
    text = "endpoints:\n  e: {model: m, version: v1, instance_type: ml.g5.xlarge}\n"
    assert config_edit.with_version(text, "f.yaml", "e", "v2") == \
        "endpoints:\n  e: {model: m, version: v2, instance_type: ml.g5.xlarge}\n"


def test_unknown_endpoint_is_one_clear_line():
    with pytest.raises(UserError, match=r"f.yaml: endpoints.nope.version: not found"):
        config_edit.with_version("endpoints:\n  e: {version: v1}\n", "f.yaml", "nope", "v2")


def test_an_edit_that_does_not_validate_is_put_back(tmp_path):
    path = tmp_path / "dev.yaml"
    path.write_text("endpoints:\n  e:\n    version: v1\n")

    def refuse():
        raise UserError("no such pin")

    with pytest.raises(UserError):
        config_edit.set_version(path, "dev.yaml", "e", "v9", refuse)
    assert path.read_text() == "endpoints:\n  e:\n    version: v1\n"


# ----- history
def record(**kwargs) -> history.Record:
    base = dict(env="prod", endpoint="intent-3b", model="m", from_version="v1", to_version="v2", kind="promote",
                strategy="canary", outcome="promoted")
    return history.Record(**{**base, **kwargs})


def test_previous_version_is_the_from_of_the_last_successful_change_to_what_is_live(tmp_path):
    history.append(tmp_path, record(from_version="v1", to_version="v2"))
    history.append(tmp_path, record(from_version="v2", to_version="v3", outcome="rolled-back"))
    history.append(tmp_path, record(env="staging", from_version="v0", to_version="v2"))
    history.append(tmp_path, record(from_version="v2", to_version="v3"))
    records = history.read(tmp_path)
    assert history.previous_version(records, "prod", "intent-3b", "v3") == "v2"
    assert history.previous_version(records, "prod", "intent-3b", "v2") == "v1"
    assert history.previous_version(records, "prod", "intent-3b", "v1") is None
    # after a rollback v3 -> v2, the next rollback goes to v1, not forward to v3
    history.append(tmp_path, record(from_version="v3", to_version="v2", kind="rollback"))
    assert history.previous_version(history.read(tmp_path), "prod", "intent-3b", "v2") == "v1"


def test_history_lines_are_whole_json_and_a_broken_line_is_skipped(tmp_path):
    history.append(tmp_path, record())
    with (tmp_path / history.HISTORY).open("a") as handle:
        handle.write('{"half": \n')
    history.append(tmp_path, record(to_version="v3"))
    lines = (tmp_path / history.HISTORY).read_text().splitlines()
    assert json.loads(lines[0])["to_version"] == "v2"
    assert [r["to_version"] for r in history.read(tmp_path)] == ["v2", "v3"]


def test_record_names_who_from_ci(monkeypatch):
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    monkeypatch.setenv("GITHUB_REPOSITORY", "org/repo")
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    r = record()
    assert (r.by, r.ci_run) == ("github:octocat", "https://github.com/org/repo/actions/runs/42")


# ----- watch: how a deployment ends
class Script:
    """An Inspector that plays a list of states; a CLI process with a scripted exit code."""

    def __init__(self, states, alarms=()):
        self.states, self.alarms, self.calls = list(states), list(alarms), 0

    def endpoint(self, name):
        self.calls += 1
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]

    def firing_alarms(self, name):
        return self.alarms


class Proc:
    def __init__(self, rc, after=0):
        self.rc, self.after, self.polls = rc, after, 0

    def poll(self):
        self.polls += 1
        return self.rc if self.polls > self.after else None


def state(status, live, pending=None, reason=None, stage=None):
    return EndpointState("dev-e", True, status, reason, Deployed("c-" + live, live),
                         Deployed("c-" + pending, pending) if pending else None, stage)


def run_watch(states, proc, timeout=60.0):
    clock = iter(range(0, 10_000))
    return watch(Script(states), "dev-e", "v2", proc, timeout, 1.0, Output(json_mode=True),
                 clock=lambda: float(next(clock)), sleep=lambda s: None)


def test_watch_waits_for_the_cli_and_the_endpoint_then_promotes(capsys):
    outcome = run_watch([state("InService", "v1"), state("Updating", "v1", "v2", stage="Baking: canary"),
                         state("InService", "v2")], Proc(0, after=1))
    assert (outcome.kind, outcome.statuses) == (PROMOTED, ["InService", "Updating", "InService"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert any(e.get("stage") == "Baking: canary" for e in lines)


def test_watch_reports_a_sagemaker_rollback():
    outcome = run_watch([state("Updating", "v1", "v2"), state("RollingBack", "v1", "v2", reason="alarm x"),
                         state("InService", "v1", reason="alarm x")], Proc(0))
    assert outcome.kind == ROLLED_BACK and "alarm x" in outcome.reason


def test_watch_reports_a_cloudformation_failure():
    outcome = run_watch([state("InService", "v1")], Proc(1), timeout=5)
    assert outcome.kind == DEPLOY_FAILED and "cdk deploy exited 1" in outcome.reason


def test_watch_reports_a_failed_endpoint():
    outcome = run_watch([state("Updating", "v1", "v2"), state("Failed", "v1", reason="health check")], Proc(0))
    assert outcome.kind == DEPLOY_FAILED and "health check" in outcome.reason


def test_watch_times_out_while_updating():
    outcome = run_watch([state("Updating", "v1", "v2")], Proc(0), timeout=5)
    assert outcome.kind == TIMED_OUT and "still Updating" in outcome.reason


def test_watch_ends_the_poll_after_the_endpoint_settles():
    inspector = Script([state("Updating", "v1", "v2")] * 3 + [state("InService", "v2")])
    clock = iter(range(0, 10_000))
    watch(inspector, "dev-e", "v2", Proc(0), 60, 1.0, Output(json_mode=True), clock=lambda: float(next(clock)),
          sleep=lambda s: None)
    assert inspector.calls == 4  # not one poll more than needed


# ----- gates that need only the repo
@pytest.fixture(scope="module")
def project():
    return load_project(ROOT)


def test_prod_needs_the_version_live_in_staging_first(project):
    prod = project.environments["prod"]
    endpoint = prod.endpoints["intent-3b"]
    staging_version = project.environments["staging"].endpoints["intent-3b"].version
    other = next(v for v in project.versions_of(endpoint.model) if v != staging_version)
    assert gates.promotion_order(project, prod, endpoint, staging_version).result == gates.PASS
    refused = gates.promotion_order(project, prod, endpoint, other)
    assert refused.result == gates.FAIL and "staging" in refused.fix


def test_unapproved_manifest_is_refused_where_approval_is_required(project):
    prod = project.environments["prod"]
    pin = project.pin_for(prod.endpoints["intent-3b"])
    pending = pin.model_copy(update={"approval": pin.approval.model_copy(update={"status": ApprovalStatus.PENDING})})
    assert gates.manifest_approved(prod, pending).result == gates.FAIL
    assert gates.manifest_approved(project.environments["dev"], pending).result == gates.SKIP
    rejected = pin.model_copy(update={"approval": pin.approval.model_copy(update={"status": ApprovalStatus.REJECTED})})
    assert gates.manifest_approved(project.environments["dev"], rejected).result == gates.FAIL


def test_evaluation_gate_needs_a_report_in_the_repo(project):
    prod = project.environments["prod"]
    endpoint = prod.endpoints["intent-3b"]
    gate = gates.evaluation_evidence(ROOT, prod, "intent-3b", endpoint, project.pin_for(endpoint))
    assert gate.result == gates.FAIL and "names no evaluation report" in gate.detail


def test_strategy_override_is_validated_like_the_config(project):
    endpoint = project.environments["prod"].endpoints["intent-3b"]
    assert DeployOverride(strategy=Strategy.ALL_AT_ONCE).applied_to(endpoint, "t").deployment.canary_size is None
    # linear in 25% steps waits 4 x 600 s: with the timeouts and baking that exceeds prod's 5400 s limit
    with pytest.raises(SpecErrors, match="4 x 600 s wait .* = 6900 s"):
        DeployOverride(strategy=Strategy.LINEAR).applied_to(endpoint, "t")


@pytest.mark.slow  # full tier: a synth of its own
def test_deploy_overrides_change_only_that_endpoint(tmp_path):
    from conftest import synthesize

    templates = synthesize(ROOT, tmp_path, "dev", DeployOverrides({"dev/intent-3b": DeployOverride(
        strategy=Strategy.ALL_AT_ONCE, suspend_autoscaling=True, auto_rollback=False)}))
    changed, other = templates["llama-dev-intent-3b"], templates["llama-dev-intent-1b"]
    kinds = {r["Type"] for r in changed["Resources"].values()}
    assert "AWS::ApplicationAutoScaling::ScalableTarget" not in kinds
    endpoint = next(r for r in changed["Resources"].values() if r["Type"] == "AWS::SageMaker::Endpoint")
    assert "AutoRollbackConfiguration" not in endpoint["Properties"]["DeploymentConfig"]
    assert "AWS::ApplicationAutoScaling::ScalableTarget" in {r["Type"] for r in other["Resources"].values()}


@pytest.mark.slow  # full tier: three synths of its own
def test_promote_and_route_synthesize_only_their_stacks_unchanged(tmp_path):
    from scripts.lib import cdk

    overrides = DeployOverrides({"dev/intent-3b": DeployOverride(
        strategy=Strategy.ALL_AT_ONCE, suspend_autoscaling=True, auto_rollback=False)})
    full, only, routing = tmp_path / "full", tmp_path / "only", tmp_path / "routing"
    cdk.synthesize(ROOT, full, "dev", overrides)
    cdk.synthesize(ROOT, only, "dev", overrides, only=Deployment("dev", "intent-3b"))
    cdk.synthesize(ROOT, routing, "dev", only=Deployment("dev", "intent-3b", routing=True))

    def stacks(assembly):
        return {p.name.removesuffix(".template.json") for p in assembly.glob("*.template.json")}

    assert stacks(only) == {"llama-dev-artifacts", "llama-dev-intent-3b"}
    assert stacks(routing) == {"llama-dev-intent-3b-routing"}
    assert stacks(full) == stacks(only) | stacks(routing) | {
        "llama-dev-intent-1b", "llama-dev-github-deploy", "llama-dev-intent-1b-routing", "llama-dev-intents-lora"}
    for assembly in (only, routing):
        for stack in stacks(assembly):
            for suffix in (".template.json", ".assets.json"):
                assert (assembly / f"{stack}{suffix}").read_text() == (full / f"{stack}{suffix}").read_text()


@pytest.mark.parametrize("deployment, kind, endpoint_id, wanted", [
    (Deployment("dev", "intent-3b"), "artifacts", None, True),  # promote: what the endpoint imports from
    (Deployment("dev", "intent-3b"), "endpoint", "intent-3b", True),
    (Deployment("dev", "intent-3b"), "endpoint", "intent-1b", False),
    (Deployment("dev", "intent-3b"), "routing", "intent-3b", False),  # route deploys that one
    (Deployment("dev", "intent-3b", routing=True), "routing", "intent-3b", True),
    (Deployment("dev", "intent-3b", routing=True), "artifacts", None, False),  # routing imports nothing
    (Deployment("dev", "intent-3b", routing=True), "endpoint", "intent-3b", False),
])
def test_a_deployment_builds_only_the_stacks_it_needs(deployment, kind, endpoint_id, wanted):
    assert deployment.wants("dev", kind, endpoint_id) is wanted


def test_another_environments_stacks_are_never_wanted():
    assert not Deployment("staging", "intent-3b").wants("dev", "artifacts")
    assert not Deployment("staging", "intent-3b").wants("dev", "endpoint", "intent-3b")


# ----- flags are refused before any AWS call (no AWS here: a call would fail with exit 3)
@pytest.mark.parametrize("args, message", [
    (["--env", "nope", "--endpoint", "intent-3b", "--version", "v2"], "--env: no environment named 'nope'"),
    (["--env", "dev", "--endpoint", "nope", "--version", "v2"], "--endpoint: no endpoint of environments/dev.yaml"),
    (["--env", "dev", "--endpoint", "intent-3b", "--version", "v9"], "--version: llama-3-2-3b-instruct v9 is not pinned"),
    (["--env", "dev", "--endpoint", "intent-3b", "--version", "v2", "--strategy", "canary"],
     "--strategy: canary does not fit environments/dev.yaml endpoints.intent-3b"),
])
def test_bad_flags_are_one_line_and_exit_2(args, message, monkeypatch):
    from cli_helpers import run_cli

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: a call would be exit 3
    result = run_cli("promote", *args)
    assert result.code == 2, result.err
    assert len(result.errors) == 1 and message in result.errors[0]
    assert "Traceback" not in result.err


def test_watch_on_a_terminal_prints_each_change(capsys):
    clock = iter(range(0, 10_000))
    watch(Script([state("Updating", "v1", "v2", stage="Baking: canary"), state("InService", "v2")]), "dev-e", "v2",
          Proc(0), 60, 1.0, Output(json_mode=False), clock=lambda: float(next(clock)), sleep=lambda s: None)
    out = capsys.readouterr().out
    assert "Updating · live v1 · → v2 · Baking: canary" in out and "InService · live v2" in out


def test_evaluation_gate_checks_the_approved_report_against_this_endpoints_thresholds(project, tmp_path):
    import hashlib

    prod = project.environments["prod"]
    endpoint = prod.endpoints["intent-3b"]
    pin = project.pin_for(endpoint)

    def gate_for(accuracy: float, tamper: bool = False):
        report = {"report_version": 1, "kind": "intent-evaluation", "model": pin.model, "version": pin.version,
                  "manifest_sha256": pin.manifest_sha256, "environment": "prod", "endpoint": "intent-3b",
                  "partial": False, "metrics": {"accuracy": accuracy, "invalid_rate": 0.0, "examples": 100},
                  "latency_ms": {"p95": 800}, "thresholds": {}, "dataset": {"path": "d.jsonl"},
                  "baseline": {"model": "gpt-4o-mini", "metrics": {"accuracy": 0.94}}}
        raw = json.dumps(report).encode()
        (tmp_path / "reports").mkdir(exist_ok=True)
        (tmp_path / "reports" / "r.json").write_bytes(raw + (b" " if tamper else b""))
        evidence = f"reports/r.json (sha256 {hashlib.sha256(raw).hexdigest()}): prod/intent-3b"
        approved = pin.model_copy(update={"approval": pin.approval.model_copy(update={"evidence": evidence})})
        return gates.evaluation_evidence(tmp_path, prod, "intent-3b", endpoint, approved)

    assert gate_for(0.95).result == gates.PASS
    low = gate_for(0.80)
    assert low.result == gates.FAIL and "accuracy" in low.detail
    changed = gate_for(0.95, tamper=True)
    assert changed.result == gates.FAIL and "changed since the approval" in changed.detail
