"""End to end on the local AWS: the real CDK CLI deploys dev into the emulator, then `promote`,
`rollback` and `status` run their full path (gates, config edit, cdk deploy, DescribeEndpoint
watch, live check, smoke test, history) under the fault matrix of issue 5.

Each case asserts what a CI pipeline relies on afterwards: the exit code, the version the config
names, the history record and the registry.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import pytest

from lab_helpers import (children, config_version, history_of, lab_factory, live_version,  # noqa: F401
                         module_lab, on_lab, promote)
from localaws.lab import REPO

pytestmark = pytest.mark.e2e

KEYS = ["ok", "alarm", "cfnfail", "stuck", "throttled", "busy", "rejected", "corrupt", "killed", "smoke",
        "resize", "dry"]


lab = module_lab(KEYS)


@pytest.fixture(autouse=True)
def _registry_untouched(on_lab):
    yield
    lab = on_lab
    # promote never changes the registry: approval is `approve`'s job
    assert {v: _package(lab, v)["ModelApprovalStatus"] for v in ("v1", "v2")} == {"v1": "Approved", "v2": "Approved"}


def last(lab, key):
    return history_of(lab, key)[-1]


def test_deployed_resources_are_the_synthesized_ones(lab):
    """What the CDK CLI deployed is what was synthesized, read back from the services (moto's
    CloudFormation alone reports CREATE_COMPLETE for types it does not create)."""
    emu = lab.emulator
    template = json.loads((lab.assembly / "llama-dev-ok.template.json").read_text())
    sagemaker, cloudwatch = emu.client("sagemaker"), emu.client("cloudwatch")

    def of_type(kind):
        return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]

    synthesized_alarms = {a["AlarmName"]: a for a in of_type("AWS::CloudWatch::Alarm")}
    deployed_alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNamePrefix="dev-ok-")["MetricAlarms"]}
    assert set(deployed_alarms) == set(synthesized_alarms) and len(deployed_alarms) >= 5
    for name, alarm in synthesized_alarms.items():
        assert (deployed_alarms[name]["Threshold"], deployed_alarms[name]["ComparisonOperator"]) == \
            (alarm["Threshold"], alarm["ComparisonOperator"]), name

    endpoint = sagemaker.describe_endpoint(EndpointName="dev-ok")
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    variant, synthesized_variant = config["ProductionVariants"][0], of_type("AWS::SageMaker::EndpointConfig")[0]["ProductionVariants"][0]
    for key in ("VariantName", "InstanceType", "InitialInstanceCount"):
        assert variant[key] == synthesized_variant[key], key
    rollback = {a["AlarmName"] for a in endpoint["LastDeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]}
    assert rollback and rollback <= set(deployed_alarms)

    target = of_type("AWS::ApplicationAutoScaling::ScalableTarget")[0]
    deployed = emu.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=["endpoint/dev-ok/variant/primary"])["ScalableTargets"]
    assert [(t["MinCapacity"], t["MaxCapacity"]) for t in deployed] == [(target["MinCapacity"], target["MaxCapacity"])]
    policies = emu.client("application-autoscaling").describe_scaling_policies(
        ServiceNamespace="sagemaker", ResourceId="endpoint/dev-ok/variant/primary")["ScalingPolicies"]
    assert len(policies) == len(of_type("AWS::ApplicationAutoScaling::ScalingPolicy")) == 1

    artifacts = json.loads((lab.assembly / "llama-dev-artifacts.template.json").read_text())
    pinned = {r["Properties"]["CustomerMetadataProperties"]["pin-version"]
              for r in artifacts["Resources"].values() if r["Type"] == "AWS::SageMaker::ModelPackage"
              and r["Properties"]["ModelPackageGroupName"] == "dev-llama-3-2-3b-instruct"}
    assert {_package(lab, v)["CustomerMetadataProperties"]["pin-version"] for v in pinned} == pinned == {"v1", "v2"}
    s3 = emu.client("s3")
    bucket = "llama-weights-dev-111111111111-us-east-1"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"
    assert live_version(lab, "ok") == "v1"


def test_promote_then_status_then_rollback(lab):
    result = promote("--env", "dev", "--endpoint", "ok", "--version", "v2")
    assert result.code == 0, result.err
    assert (config_version(lab, "ok"), live_version(lab, "ok")) == ("v2", "v2")
    record = last(lab, "ok")
    assert (record["outcome"], record["from_version"], record["to_version"], record["exit_code"]) == \
        ("promoted", "v1", "v2", 0)
    assert "Updating" in record["stages"] and record["durations_s"]["total"] > 0
    assert result.result() == record  # the last JSON line is the record CI commits
    events = [e for e in result.json_lines() if e.get("event") == "deployment"]
    assert any("Baking" in (e.get("stage") or "") and e["new_fleet_traffic"] == 0.5 for e in events), \
        "the canary stage (50% of traffic) was reported"
    from scripts.evaluation.answers import request_text

    smoke_texts = [request_text(p) for name, v, p in lab.emulator.invocations if name == "dev-ok" and v == "v2"]
    assert len(smoke_texts) == 3

    status = run_status()
    row = next(r for r in status["endpoints"] if r["endpoint"] == "dev-ok")
    assert (row["config_version"], row["deployed_version"], row["drift"], row["registry"]) == ("v2", "v2", [], "Approved")

    from cli_helpers import run_cli

    back = run_cli("rollback", "--env", "dev", "--endpoint", "ok", "--poll", "0.2", "--json")
    assert back.code == 0, back.err
    assert (config_version(lab, "ok"), live_version(lab, "ok")) == ("v1", "v1")
    assert (last(lab, "ok")["kind"], last(lab, "ok")["strategy"], last(lab, "ok")["to_version"]) == \
        ("rollback", "all-at-once", "v1")


def run_status() -> dict:
    from cli_helpers import run_cli

    result = run_cli("status", "--env", "dev", "--json")
    return result.result()


def test_alarm_during_canary_rolls_back_and_restores_config(lab):
    lab.emulator.on_stage("dev-alarm", "Baking",
                          lambda emu: emu.set_alarm_state("dev-alarm-5xx", "ALARM", "5XX during the canary"))
    result = promote("--env", "dev", "--endpoint", "alarm", "--version", "v2")
    assert result.code == 5, result.err
    assert "rolled back" in result.errors[0] and "dev-alarm-5xx" in result.errors[0]
    assert (result.result()["outcome"], result.result()["exit_code"]) == ("rolled-back", 5)
    assert (config_version(lab, "alarm"), live_version(lab, "alarm")) == ("v1", "v1")
    record = last(lab, "alarm")
    assert (record["outcome"], record["config_restored_to"]) == ("rolled-back", "v1")
    assert "RollingBack" in record["stages"]
    package = _package(lab, "v2")
    assert package["ModelApprovalStatus"] == "Approved"  # a rollback does not judge the version
    lab.emulator.set_alarm_state("dev-alarm-5xx", "OK")


def _package(lab, version):
    sagemaker = lab.emulator.client("sagemaker")
    for summary in sagemaker.list_model_packages(ModelPackageGroupName="dev-llama-3-2-3b-instruct")["ModelPackageSummaryList"]:
        package = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        if package["CustomerMetadataProperties"]["pin-version"] == version:
            return package
    raise AssertionError(version)


def test_cloudformation_failure_restores_config(lab):
    lab.emulator.fail_stack_update("llama-dev-cfnfail")
    result = promote("--env", "dev", "--endpoint", "cfnfail", "--version", "v2")
    assert result.code == 6, result.err
    assert "cdk deploy exited" in result.errors[0]
    assert (config_version(lab, "cfnfail"), live_version(lab, "cfnfail")) == ("v1", "v1")
    assert last(lab, "cfnfail")["outcome"] == "deploy-failed"


def test_stuck_update_times_out_and_config_names_what_serves(lab):
    lab.emulator.stick_updates("dev-stuck")
    # 30 s: on a loaded 2-core CI machine the CDK CLI alone can take 8 s before UpdateEndpoint is called
    result = promote("--env", "dev", "--endpoint", "stuck", "--version", "v2", "--timeout", "30")
    assert result.code == 8, result.err
    assert "still Updating" in result.errors[0]
    assert config_version(lab, "stuck") == "v1"  # the old fleet still serves
    assert last(lab, "stuck")["outcome"] == "timed-out"
    # the deployment goes on; once it ends, promote follows it instead of starting another
    lab.emulator.stick_updates("dev-stuck", stuck=False)
    again = promote("--env", "dev", "--endpoint", "stuck", "--version", "v2")
    assert again.code == 0, again.err
    assert (config_version(lab, "stuck"), live_version(lab, "stuck")) == ("v2", "v2")


def test_throttled_api_calls_are_retried(lab):
    lab.emulator.throttle(0.3)
    result = promote("--env", "dev", "--endpoint", "throttled", "--version", "v2")
    lab.emulator.throttle(0)
    assert result.code == 0, result.err
    assert lab.emulator.throttled > 0
    assert config_version(lab, "throttled") == "v2"


def test_second_promotion_while_one_runs_is_refused(lab):
    lab.emulator.stick_updates("dev-busy")
    first = subprocess.Popen([sys.executable, "-m", "scripts", "promote", "--env", "dev", "--endpoint", "busy",
                              "--version", "v2", "--poll", "0.2", "--json"], cwd=REPO, env=lab.environ(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: lab.emulator.status_history("dev-busy")[-1] == "Updating", 90)
        second = promote("--env", "dev", "--endpoint", "busy", "--version", "v2")
        assert second.code == 4, second.err
        assert "in-flight" in second.errors[0]
        lab.emulator.stick_updates("dev-busy", stuck=False)
        out, err = first.communicate(timeout=120)
        assert first.returncode == 0, err
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    outcomes = [r["outcome"] for r in history_of(lab, "busy")]
    assert outcomes[-1] == "promoted" and "refused" in outcomes
    assert config_version(lab, "busy") == "v2"


def _wait_for(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def test_rejected_version_is_refused_before_anything_changes(lab):
    sagemaker = lab.emulator.client("sagemaker")
    package = _package(lab, "v2")
    sagemaker.update_model_package(ModelPackageArn=package["ModelPackageArn"], ModelApprovalStatus="Rejected",
                                   CustomerMetadataProperties=package["CustomerMetadataProperties"])
    config_before = (lab.root / "environments" / "dev.yaml").read_text()
    try:
        result = promote("--env", "dev", "--endpoint", "rejected", "--version", "v2")
    finally:
        sagemaker.update_model_package(ModelPackageArn=package["ModelPackageArn"], ModelApprovalStatus="Approved",
                                       CustomerMetadataProperties=package["CustomerMetadataProperties"])
    assert result.code == 4, result.err
    assert "registry-approval" in result.errors[0] and "Rejected" in result.errors[0]
    assert (lab.root / "environments" / "dev.yaml").read_text() == config_before
    assert last(lab, "rejected")["outcome"] == "refused"
    assert live_version(lab, "rejected") == "v1"


def test_checksum_mismatch_is_refused(lab):
    s3 = lab.emulator.client("s3")
    bucket, key = "llama-weights-dev-111111111111-us-east-1", "llama-3-2-3b-instruct/v2/config.json"
    original = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with pytest.raises(Exception, match="AccessDenied"):  # the bucket policy: weights are write-once
        s3.put_object(Bucket=bucket, Key=key, Body=b'{"tampered": true}', ChecksumAlgorithm="SHA256")
    # Someone able to change the bucket policy can still replace it: written past the policy, in moto itself.
    from moto.s3.models import s3_backends

    backend = s3_backends[lab.account]["aws"]
    backend.put_object(bucket, key, b'{"tampered": true}')
    try:
        result = promote("--env", "dev", "--endpoint", "corrupt", "--version", "v2")
    finally:
        backend.put_object(bucket, key, original)
    assert result.code == 4, result.err
    assert "verified" in result.errors[0] and "config.json" in result.errors[0]
    assert config_version(lab, "corrupt") == "v1"


def test_killed_mid_deploy_then_run_again(lab):
    lab.emulator.stick_updates("dev-killed")
    proc = subprocess.Popen([sys.executable, "-m", "scripts", "promote", "--env", "dev", "--endpoint", "killed",
                             "--version", "v2", "--poll", "0.2", "--json"], cwd=REPO, env=lab.environ(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: lab.emulator.status_history("dev-killed")[-1] == "Updating", 90)
        _wait_for(lambda: not children(proc.pid, "cdk"), 60)  # the CDK CLI has exited (the stack is updated)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert config_version(lab, "killed") == "v2"  # left as the killed run wrote it
    assert last(lab, "killed")["outcome"] == "started"
    # the rerun finds the deployment still in flight and follows it; it ends once the rerun has begun
    unstick = threading.Thread(target=lambda: (_wait_for(lambda: len(history_of(lab, "killed")) >= 3, 120),
                                               lab.emulator.stick_updates("dev-killed", stuck=False)))
    unstick.start()
    result = promote("--env", "dev", "--endpoint", "killed", "--version", "v2")
    unstick.join()
    assert result.code == 0, result.err
    plan = next(e for e in result.json_lines() if e.get("event") == "plan")
    assert plan["live_version"] == "v1" and plan["adopting"]  # found from SageMaker, not from the edited config
    assert (config_version(lab, "killed"), live_version(lab, "killed")) == ("v2", "v2")
    outcomes = [r["outcome"] for r in history_of(lab, "killed")]
    assert outcomes == ["started", "abandoned", "started", "promoted"], "the rerun closed the killed run's record"
    assert last(lab, "killed")["from_version"] == "v1"


def test_failed_smoke_test_rolls_back(lab):
    lab.broken_versions.add("v2")
    try:
        result = promote("--env", "dev", "--endpoint", "smoke", "--version", "v2")
    finally:
        lab.broken_versions.discard("v2")
    assert result.code == 7, result.err
    assert "smoke_test.0" in result.errors[0] and "rolled back to v1" in result.errors[0]
    assert (config_version(lab, "smoke"), live_version(lab, "smoke")) == ("v1", "v1")
    assert last(lab, "smoke")["outcome"] == "smoke-failed"


def test_instance_type_change_on_autoscaled_variant_goes_in_three_phases(lab):
    path = lab.root / "environments" / "dev.yaml"
    text = path.read_text()
    block = text[text.index("\n  resize:"):]
    path.write_text(text.replace(block, block.replace("ml.g5.xlarge", "ml.g5.2xlarge", 1)))
    result = promote("--env", "dev", "--endpoint", "resize", "--version", "v2")
    assert result.code == 0, result.err
    phases = next(e for e in result.json_lines() if e.get("event") == "phases")["phases"]
    assert [p.split(" ")[0] for p in phases] == ["1/3", "2/3", "3/3"]
    sagemaker = lab.emulator.client("sagemaker")
    config = sagemaker.describe_endpoint_config(
        EndpointConfigName=sagemaker.describe_endpoint(EndpointName="dev-resize")["EndpointConfigName"])
    assert config["ProductionVariants"][0]["InstanceType"] == "ml.g5.2xlarge"
    targets = lab.emulator.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=["endpoint/dev-resize/variant/primary"])["ScalableTargets"]
    assert len(targets) == 1, "autoscaling is registered again after the change"
    assert live_version(lab, "resize") == "v2"


def test_dry_run_shows_the_diff_and_changes_nothing(lab):
    before = (lab.root / "environments" / "dev.yaml").read_text()
    records = len(history_of(lab, "dry"))
    result = promote("--env", "dev", "--endpoint", "dry", "--version", "v2", "--dry-run")
    assert result.code == 0, result.err
    diff = next(e for e in result.json_lines() if e.get("event") == "diff")
    assert diff["changes"] and "AWS::SageMaker::EndpointConfig" in diff["message"]
    assert (lab.root / "environments" / "dev.yaml").read_text() == before
    assert len(history_of(lab, "dry")) == records
    assert live_version(lab, "dry") == "v1"


def test_status_of_every_environment_says_which_account_it_cannot_see(lab):
    from cli_helpers import run_cli

    result = run_cli("status", "--json")
    assert result.code == 1  # staging and prod are other accounts
    rows = {r["endpoint"]: r for r in result.result()["endpoints"]}
    assert rows["dev-dry"]["error"] == "" and rows["dev-dry"]["deployed_version"] == "v1"
    assert "credentials are for account 111111111111, staging is 222222222222" in rows["staging-intent-3b"]["error"]
