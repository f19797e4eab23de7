"""The promotion fault matrix (issue 13) on the local AWS, with the real CDK CLI: kills at named
points (synth, deploy, watch), SIGTERM and SIGINT, AWS unreachable mid-watch, a deployment in
flight started elsewhere. `promote` runs as its own process wherever it must be killed or signalled.

The standard for every case: afterwards the config names the version that is live (or the
history says plainly that it cannot know), every run has exactly one final record, no CDK CLI
or work directory is left behind, and the next command tells the truth.
"""

from __future__ import annotations

import shutil
import signal
import threading

import pytest

from cli_helpers import run_cli
from fault_helpers import (cdk_processes, child_clis, finals, kill_hard, records_of, spawn, wait_for,
                           workdirs_of)
from lab_helpers import config_version, lab_factory, live_version, module_lab, on_lab, promote  # noqa: F401

pytestmark = pytest.mark.e2e

KEYS = ["ksynth", "kdeploy", "kwatch", "term", "int", "outage", "other", "stackdrift", "c1", "c2", "corrupt",
        "alarms", "quota"]


lab = module_lab(KEYS)


@pytest.fixture(autouse=True)
def _no_cli_left(on_lab):
    yield
    assert cdk_processes() == [], "a CDK CLI outlived its promote"


def settled(lab, key) -> str | None:
    """The live version once the endpoint is InService (the simulation moves when asked: tick)."""
    lab.emulator.tick()
    return live_version(lab, key) if lab.emulator.status_history(f"dev-{key}")[-1] == "InService" else None


def final(lab, key) -> dict:
    records = records_of(lab.root, key)
    finals(records)  # exactly one final record per run
    return records[-1]


def test_killed_while_synthesizing_changes_nothing_and_the_rerun_closes_its_record(lab):
    run = spawn(lab, "promote", "--env", "dev", "--endpoint", "ksynth", "--version", "v2")
    run.wait_event("synth")
    kill_hard(run)
    assert config_version(lab, "ksynth") == "v1", "the config is edited only right before cdk deploy"
    assert [r["outcome"] for r in records_of(lab.root, "ksynth")] == ["started"]
    again = promote("--env", "dev", "--endpoint", "ksynth", "--version", "v2")
    assert again.code == 0, again.err
    records = records_of(lab.root, "ksynth")
    assert [r["outcome"] for r in records] == ["started", "abandoned", "started", "promoted"]
    assert records[1]["run_id"] == records[0]["run_id"] and "killed" in records[1]["reason"]
    assert (config_version(lab, "ksynth"), live_version(lab, "ksynth")) == ("v2", "v2")
    assert workdirs_of(run.proc.pid) == [], "the killed run's work directory was removed by the rerun"
    assert again.result() == records[-1], "the final record is the last JSON line"


def test_killed_while_cdk_deploys_leaves_no_cli_and_nothing_reports_success_early(lab):
    """Item 1: the CLI dies with promote; the deployment it started goes on in AWS, and the next
    command sees it there (stack in progress, pending deployment), not in a local lock."""
    emu = lab.emulator
    emu.hold_stack_updates("llama-dev-kdeploy", "dev-kdeploy")
    emu.stick_updates("dev-kdeploy")
    run = spawn(lab, "promote", "--env", "dev", "--endpoint", "kdeploy", "--version", "v2")
    run.wait_event("deploy")
    wait_for(lambda: emu.status_history("dev-kdeploy")[-1] == "Updating", what="Updating")
    assert child_clis(run.proc.pid), "cdk deploy still runs: CloudFormation waits for the endpoint"
    kill_hard(run)
    wait_for(lambda: cdk_processes() == [], 15, "the CLI to end with its promote")
    back = run_cli("rollback", "--env", "dev", "--endpoint", "kdeploy", "--to", "v1", "--poll", "0.2", "--json")
    assert back.code == 4, back.err
    assert "in-flight" in back.errors[0] and "UPDATE_IN_PROGRESS" in back.errors[0]
    assert config_version(lab, "kdeploy") == "v2", "a refusal changes nothing"
    emu.stick_updates("dev-kdeploy", stuck=False)
    again = promote("--env", "dev", "--endpoint", "kdeploy", "--version", "v2")
    assert again.code == 0, again.err
    record = final(lab, "kdeploy")
    assert (record["outcome"], record["from_version"], record["to_version"]) == ("promoted", "v1", "v2")
    emu.hold_stack_updates("llama-dev-kdeploy", "dev-kdeploy", hold=False)


def test_rerun_after_a_killed_run_finished_by_itself_records_where_it_came_from(lab):
    """Item 10: the killed run's deployment finished alone; the rerun finds v2 live and records
    v1 -> v2, so `rollback` without --to still knows where to go."""
    emu = lab.emulator
    emu.stick_updates("dev-kwatch")
    run = spawn(lab, "promote", "--env", "dev", "--endpoint", "kwatch", "--version", "v2")
    run.wait_event("deployment")
    wait_for(lambda: emu.status_history("dev-kwatch")[-1] == "Updating" and not child_clis(run.proc.pid),
             what="the watch, CLI done")
    kill_hard(run)
    emu.stick_updates("dev-kwatch", stuck=False)
    wait_for(lambda: settled(lab, "kwatch") == "v2", what="the deployment to end by itself")
    status = run_cli("status", "--env", "dev", "--json").result()
    row = next(r for r in status["endpoints"] if r["endpoint"] == "dev-kwatch")
    assert "UNFINISHED" in row["last_promotion"] and "dev-kwatch" in status["attention"]
    again = promote("--env", "dev", "--endpoint", "kwatch", "--version", "v2")
    assert again.code == 0, again.err
    assert final(lab, "kwatch")["from_version"] == "v1" and "(already)" in final(lab, "kwatch")["reason"]
    back = run_cli("rollback", "--env", "dev", "--endpoint", "kwatch", "--poll", "0.2", "--json")
    assert back.code == 0, back.err
    assert (config_version(lab, "kwatch"), live_version(lab, "kwatch")) == ("v1", "v1")


@pytest.mark.parametrize("sig, key", [(signal.SIGTERM, "term"), (signal.SIGINT, "int")])
def test_signal_mid_watch_restores_config_and_records_once(lab, sig, key):
    emu = lab.emulator
    emu.stick_updates(f"dev-{key}")
    run = spawn(lab, "promote", "--env", "dev", "--endpoint", key, "--version", "v2")
    run.wait_event("deployment")
    wait_for(lambda: emu.status_history(f"dev-{key}")[-1] == "Updating", what="Updating")
    run.send(sig)
    code, err = run.finish()
    assert code == 130, err
    assert f"interrupted by {sig.name}" in err and "the config names v1" in err
    record = run.last_json()
    assert (record["outcome"], record["exit_code"], record["config_restored_to"]) == ("interrupted", 130, "v1")
    assert record == final(lab, key), "the final record is the last JSON line and the last history line"
    assert config_version(lab, key) == "v1" and live_version(lab, key) == "v1"
    assert workdirs_of(run.proc.pid) == []
    emu.stick_updates(f"dev-{key}", stuck=False)  # the deployment went on in AWS: the rerun follows it
    again = promote("--env", "dev", "--endpoint", key, "--version", "v2")
    assert again.code == 0, again.err
    assert (final(lab, key)["from_version"], config_version(lab, key)) == ("v1", "v2")


def test_aws_unreachable_mid_watch_still_writes_the_final_record(lab, monkeypatch):
    """Item 3: the emulator's server stops while the endpoint updates (it keeps updating)."""
    from scripts.lib import aws

    emu = lab.emulator
    emu.stick_updates("dev-outage")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")  # an outage longer than the retry budget
    aws.client.cache_clear()

    def cut_when_updating():
        wait_for(lambda: emu.status_history("dev-outage")[-1] == "Updating", what="Updating")
        emu.pause_server()

    cutter = threading.Thread(target=cut_when_updating, daemon=True)
    cutter.start()
    try:
        result = promote("--env", "dev", "--endpoint", "outage", "--version", "v2")
    finally:
        cutter.join(60)
        emu.resume_server()
    assert result.code == 3, result.err
    record = final(lab, "outage")
    assert (record["outcome"], record["exit_code"], record["live_at_end"]) == ("error", 3, None)
    assert "live version unknown" in record["reason"] and record["config_restored_to"] == "v1"
    assert config_version(lab, "outage") == "v1", "the version last seen live"
    emu.stick_updates("dev-outage", stuck=False)
    wait_for(lambda: settled(lab, "outage") == "v2", what="the deployment to finish in AWS")
    monkeypatch.delenv("AWS_MAX_ATTEMPTS")
    aws.client.cache_clear()
    status = run_cli("status", "--env", "dev", "--json")
    row = next(r for r in status.result()["endpoints"] if r["endpoint"] == "dev-outage")
    assert row["drift"] == ["config v1, deployed v2"], "once AWS answers, status tells the truth"
    again = promote("--env", "dev", "--endpoint", "outage", "--version", "v2")
    assert again.code == 0, again.err
    assert (final(lab, "outage")["from_version"], config_version(lab, "outage")) == ("v1", "v2")


def test_a_second_checkout_is_refused_while_the_first_deploys(lab, tmp_path):
    """Item 9: the lock is per checkout; the stack and the endpoint say a deployment is in flight."""
    emu = lab.emulator
    other = shutil.copytree(lab.root, tmp_path / "checkout-b", ignore=shutil.ignore_patterns(".locks"))
    emu.hold_stack_updates("llama-dev-other", "dev-other")
    emu.stick_updates("dev-other")
    first = spawn(lab, "promote", "--env", "dev", "--endpoint", "other", "--version", "v2")
    try:
        first.wait_event("deploy")
        wait_for(lambda: emu.status_history("dev-other")[-1] == "Updating", what="Updating")
        second = run_cli_in(other, "promote", "--env", "dev", "--endpoint", "other", "--version", "v2")
        assert second.code == 4, second.err
        assert "in-flight" in second.errors[0]
        assert config_version_in(other, "other") == "v1"
        assert [r["outcome"] for r in records_of(other, "other")][-1] == "refused"
        emu.stick_updates("dev-other", stuck=False)
        code, err = first.finish()
        assert code == 0, err
    finally:
        if first.proc.poll() is None:
            kill_hard(first)
        emu.hold_stack_updates("llama-dev-other", "dev-other", hold=False)
    assert (config_version(lab, "other"), live_version(lab, "other")) == ("v2", "v2")


def run_cli_in(root, *args):
    import os

    previous = os.environ["PINNED_LLAMA_ROOT"]
    os.environ["PINNED_LLAMA_ROOT"] = str(root)
    try:
        return run_cli(*args, "--poll", "0.2", "--json")
    finally:
        os.environ["PINNED_LLAMA_ROOT"] = previous


def config_version_in(root, key) -> str:
    from config.project import load_project

    return load_project(root, "dev").environments["dev"].endpoints[key].version


def test_sagemaker_rollback_that_cloudformation_reported_as_success_is_seen(lab):
    """12.11: the emulator's stack ends UPDATE_COMPLETE while SageMaker rolls the endpoint back."""
    emu = lab.emulator
    emu.on_stage("dev-stackdrift", "Baking", lambda e: e.set_alarm_state("dev-stackdrift-5xx", "ALARM"))
    assert promote("--env", "dev", "--endpoint", "stackdrift", "--version", "v2").code == 5
    emu.set_alarm_state("dev-stackdrift-5xx", "OK")
    status = run_cli("status", "--env", "dev", "--json").result()
    row = next(r for r in status["endpoints"] if r["endpoint"] == "dev-stackdrift")
    assert any("SageMaker rolled back after CloudFormation finished" in d for d in row["drift"])
    again = promote("--env", "dev", "--endpoint", "stackdrift", "--version", "v2")
    assert again.code == 4 and "stack" in again.errors[0] and "would change nothing" in again.errors[0]
    back = run_cli("rollback", "--env", "dev", "--endpoint", "stackdrift", "--to", "v1", "--poll", "0.2", "--json")
    assert back.code == 0 and "(already)" not in back.result()["reason"], "v1 is redeployed: the stack matches again"
    status = run_cli("status", "--env", "dev", "--json").result()
    assert next(r for r in status["endpoints"] if r["endpoint"] == "dev-stackdrift")["drift"] == []


def test_two_endpoints_promoted_at_once_in_one_checkout_keep_both_edits(lab):
    """Item 2: per-endpoint locks, one shared environments/dev.yaml: each edit is made under the
    file's own lock on a fresh read. One run in its own process, one in this one, at once."""
    other = spawn(lab, "promote", "--env", "dev", "--endpoint", "c1", "--version", "v2")
    here = promote("--env", "dev", "--endpoint", "c2", "--version", "v2")
    code, err = other.finish()
    assert (code, here.code) == (0, 0), (err[-600:], here.err[-600:])
    assert [config_version(lab, k) for k in ("c1", "c2")] == ["v2", "v2"]
    assert [live_version(lab, k) for k in ("c1", "c2")] == ["v2", "v2"]


def test_a_corrupted_history_warns_and_never_stops_status_or_rollback(lab):
    """Items 5 and 6: a line cut short and a line of bad bytes are skipped with a warning; the next
    record starts on a fresh line and stays readable."""
    from scripts.promotion import history

    assert promote("--env", "dev", "--endpoint", "corrupt", "--version", "v2").code == 0
    path = lab.root / history.HISTORY
    with path.open("ab") as handle:
        handle.write(b'\xff\xfe not utf-8 \x80\n{"env": "dev", "endpoint": "corrupt", "outcome": "prom')
    status = run_cli("status", "--env", "dev", "--json")
    assert status.code in (0, 1), status.err
    assert any(line.startswith("warning:") and "unreadable" in line for line in status.err_lines)
    back = run_cli("rollback", "--env", "dev", "--endpoint", "corrupt", "--poll", "0.2", "--json")
    assert back.code == 0, back.err
    assert any("unreadable line(s) skipped" in line for line in back.err_lines)
    assert config_version(lab, "corrupt") == "v1"
    loaded = history.load(lab.root)
    assert len(loaded.unreadable) == 2, "only the two broken lines; the rollback's records are whole"
    assert [r["outcome"] for r in loaded.records if r["endpoint"] == "corrupt"][-2:] == ["started", "promoted"]


def test_only_rollback_alarms_gate_a_promotion(lab):
    """12.8: a notify-only alarm (GPU memory, disk, no traffic) is listed as ignored, never a refusal."""
    emu = lab.emulator
    emu.set_alarm_state("dev-alarms-gpu-memory", "ALARM")
    emu.set_alarm_state("dev-alarms-5xx", "ALARM")
    try:
        refused = promote("--env", "dev", "--endpoint", "alarms", "--version", "v2")
        assert refused.code == 4, refused.err
        row = next(e for e in refused.json_lines() if e.get("gate") == "alarms")
        assert row["result"] == "FAIL" and "dev-alarms-5xx" in row["detail"]
        assert "ignored (notify only): dev-alarms-gpu-memory" in row["detail"]
        emu.set_alarm_state("dev-alarms-5xx", "OK")
        result = promote("--env", "dev", "--endpoint", "alarms", "--version", "v2")
        assert result.code == 0, result.err
        row = next(e for e in result.json_lines() if e.get("gate") == "alarms")
        assert row["result"] == "pass" and "ignored (notify only): dev-alarms-gpu-memory" in row["detail"]
    finally:
        emu.set_alarm_state("dev-alarms-gpu-memory", "OK")
        emu.set_alarm_state("dev-alarms-5xx", "OK")


def test_a_promotion_that_would_exceed_the_instance_quota_is_refused_with_the_numbers(lab):
    """12.7: blue/green needs the new fleet next to the old one; the gate counts the account's
    instances of the type against Service Quotas before anything is deployed."""
    emu = lab.emulator
    if not hasattr(emu, "set_quota"):
        pytest.skip("needs the emulator's Service Quotas answers (issue 12's localaws/quotas.py)")
    in_use = emu.instances_in_use("ml.g5.xlarge")
    emu.set_quota("ml.g5.xlarge", in_use + 1)
    try:
        result = promote("--env", "dev", "--endpoint", "quota", "--version", "v2")
    finally:
        emu.set_quota("ml.g5.xlarge", 100)
    assert result.code == 4, result.err
    row = next(e for e in result.json_lines() if e.get("gate") == "quota")
    assert row["result"] == "FAIL" and f"in use {in_use}" in row["detail"] and "+ new fleet 2" in row["detail"]
    assert config_version(lab, "quota") == "v1" and live_version(lab, "quota") == "v1"
