"""The local AWS emulator (localaws/emulator.py): moto_server plus the SageMaker model.

Every test drives the simulated clock explicitly (speed 0: it moves only by advance()),
so nothing races the wall clock; each starts and stops its own emulator.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from localaws.emulator import AwsEmulator, SimClock, Timings, botocore_instance_types

ROLE = "arn:aws:iam::123456789012:role/exec"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.30.0-lmi"
DIGESTS = {1: "sha256:" + "1" * 64, 2: "sha256:" + "2" * 64}
SNAPSHOTS = Path(__file__).parent / "__snapshots__" / "test_templates_quality"
NO_RETRIES = Config(retries={"max_attempts": 0, "mode": "standard"})

# Simulated seconds; the deployment waits of the real templates (120 s, 300 s) shrink 100x.
TIMINGS = Timings(create_s=60, provision_s=60, rollback_s=30, wait_scale=0.01)


@pytest.fixture
def emu():
    with AwsEmulator(timings=TIMINGS) as emulator:
        clients: list = []

        def client(service, **kwargs):
            c = emulator.client(service, **kwargs)
            clients.append(c)
            return c

        emulator.test_client = client
        yield emulator
        for c in clients:
            c.close()


@pytest.fixture
def sm(emu):
    return emu.test_client("sagemaker", config=NO_RETRIES)


@pytest.fixture
def cw(emu):
    return emu.test_client("cloudwatch", config=NO_RETRIES)


def package(sm, version: int) -> str:
    if not sm.list_model_package_groups()["ModelPackageGroupSummaryList"]:
        sm.create_model_package_group(ModelPackageGroupName="llama-3-2-3b-instruct")
    return sm.create_model_package(
        ModelPackageGroupName="llama-3-2-3b-instruct", ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ImageDigest": DIGESTS[version],
                            "ModelDataUrl": f"s3://weights/v{version}/"}],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"]})["ModelPackageArn"]


def config(sm, version: int, instance_type: str = "ml.g5.xlarge", count: int = 1) -> str:
    sm.create_model(ModelName=f"model-v{version}", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"ModelPackageName": package(sm, version)})
    sm.create_endpoint_config(EndpointConfigName=f"config-v{version}", ProductionVariants=[
        {"VariantName": "primary", "ModelName": f"model-v{version}", "InstanceType": instance_type,
         "InitialInstanceCount": count}])
    return f"config-v{version}"


def resolved(sm, name: str = "ep") -> str:
    return sm.describe_endpoint(EndpointName=name)["ProductionVariants"][0]["DeployedImages"][0]["ResolvedImage"]


def alarm(cw, name: str) -> None:
    cw.put_metric_alarm(AlarmName=name, Namespace="AWS/SageMaker", MetricName="Invocation5XXErrors",
                        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=5,
                        ComparisonOperator="GreaterThanOrEqualToThreshold")


def blue_green(kind: str = "ALL_AT_ONCE", alarms: tuple[str, ...] = ()) -> dict:
    routing = {"Type": kind, "WaitIntervalInSeconds": 1000}  # 10 simulated s at wait_scale 0.01
    if kind == "CANARY":
        routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": 10}
    if kind == "LINEAR":
        routing["LinearStepSize"] = {"Type": "CAPACITY_PERCENT", "Value": 50}
    dc = {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": routing, "TerminationWaitInSeconds": 2000}}
    if alarms:
        dc["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in alarms]}
    return dc


def in_service(emu, sm, name: str = "ep", version: int = 1) -> None:
    sm.create_endpoint(EndpointName=name, EndpointConfigName=config(sm, version))
    emu.advance(TIMINGS.create_s)
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"


def stage(sm, name: str = "ep") -> str:
    summary = sm.describe_endpoint(EndpointName=name)["PendingDeploymentSummary"]
    return summary["ProductionVariants"][0]["VariantStatus"][0]["Status"]


# ----- lifecycle
def test_start_stop_leaves_no_port_and_no_thread():
    threads_before = set(threading.enumerate())
    with AwsEmulator(timings=TIMINGS) as emulator:
        port = emulator.port
        sts = emulator.client("sts")
        assert sts.get_caller_identity()["Account"] == "123456789012"
        sts.close()
        with pytest.raises(RuntimeError, match="already running"):
            AwsEmulator().start()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the port is still open"
    deadline = time.monotonic() + 10  # handler threads end once their connection closes
    while set(threading.enumerate()) - threads_before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert set(threading.enumerate()) - threads_before == set()
    # moto is itself again: a plain backend rejects what the emulator accepted
    from moto.sagemaker.models import FakeEndpointConfig

    assert "validate_instance_type" not in vars(FakeEndpointConfig) or \
        FakeEndpointConfig.validate_instance_type.__module__ != "localaws.emulator"


def test_env_points_a_subprocess_at_the_emulator(emu):
    env = emu.env()
    assert env["AWS_ENDPOINT_URL"] == emu.url.rstrip("/") and emu.url.startswith("http://127.0.0.1:")
    assert env["AWS_REGION"] == "us-east-1"


# ----- (a) instance types
def test_instance_types_come_from_botocore(emu, sm):
    enum = botocore.session.get_session().get_service_model("sagemaker") \
        .shape_for("ProductionVariantInstanceType").enum
    assert botocore_instance_types() == list(enum)
    assert {"ml.g5.xlarge", "ml.g5.2xlarge", "ml.g6.xlarge"} <= set(enum)
    config(sm, 1, instance_type="ml.g5.2xlarge")
    with pytest.raises(ClientError, match="ml.g5.huge") as error:
        sm.create_endpoint_config(EndpointConfigName="bad", ProductionVariants=[
            {"VariantName": "primary", "ModelName": "model-v1", "InstanceType": "ml.g5.huge",
             "InitialInstanceCount": 1}])
    assert error.value.response["Error"]["Code"] == "ValidationException"


# ----- (c) status over time, (d) describe fields
def test_create_goes_in_service_when_the_clock_says_so(emu, sm):
    sm.create_endpoint(EndpointName="ep", EndpointConfigName=config(sm, 1))
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "Creating"
    emu.advance(TIMINGS.create_s - 1)
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "Creating"
    emu.advance(1)
    described = sm.describe_endpoint(EndpointName="ep")
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == "config-v1"
    assert "PendingDeploymentSummary" not in described
    assert sm.list_endpoints()["Endpoints"][0]["EndpointStatus"] == "InService"
    image = described["ProductionVariants"][0]["DeployedImages"][0]
    assert image["SpecifiedImage"] == IMAGE
    assert image["ResolvedImage"] == IMAGE.rsplit(":", 1)[0] + "@" + DIGESTS[1]


def test_image_of_a_plain_model_resolves_to_its_digest(emu, sm):
    pinned = IMAGE.rsplit(":", 1)[0] + "@" + DIGESTS[2]
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": pinned})
    sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[
        {"VariantName": "primary", "ModelName": "m", "InstanceType": "ml.g5.xlarge", "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    assert resolved(sm) == pinned


def test_blue_green_canary_update_walks_its_stages(emu, sm):
    in_service(emu, sm)
    new = config(sm, 2)
    sm.update_endpoint(EndpointName="ep", EndpointConfigName=new, DeploymentConfig=blue_green("CANARY"))
    described = sm.describe_endpoint(EndpointName="ep")
    assert described["EndpointStatus"] == "Updating"
    assert described["EndpointConfigName"] == "config-v1"  # still blue
    assert described["PendingDeploymentSummary"]["EndpointConfigName"] == new
    pending = described["PendingDeploymentSummary"]["ProductionVariants"][0]
    assert pending["DeployedImages"][0]["ResolvedImage"].endswith(DIGESTS[2])
    assert pending["InstanceType"] == "ml.g5.xlarge"
    assert described["LastDeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "CANARY"
    assert resolved(sm).endswith(DIGESTS[1])
    assert stage(sm) == "Creating"
    emu.advance(TIMINGS.provision_s)  # green fleet up: canary 10 %, bake 10 s
    message = sm.describe_endpoint(EndpointName="ep")["PendingDeploymentSummary"]["ProductionVariants"][0]["VariantStatus"][0]
    assert message["Status"] == "Baking" and "10%" in message["StatusMessage"]
    emu.advance(10)  # all traffic, bake 10 s, then the termination wait of 20 s
    message = sm.describe_endpoint(EndpointName="ep")["PendingDeploymentSummary"]["ProductionVariants"][0]["VariantStatus"][0]
    assert "100%" in message["StatusMessage"]
    emu.advance(29)
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "Updating"
    emu.advance(1)
    described = sm.describe_endpoint(EndpointName="ep")
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == new
    assert "PendingDeploymentSummary" not in described and "FailureReason" not in described
    assert resolved(sm).endswith(DIGESTS[2])
    assert emu.status_history("ep") == ["Creating", "InService", "Updating", "InService"]


def test_update_refused_while_one_is_in_flight(emu, sm):
    in_service(emu, sm)
    sm.update_endpoint(EndpointName="ep", EndpointConfigName=config(sm, 2))
    with pytest.raises(ClientError, match="in-progress") as error:
        sm.update_endpoint(EndpointName="ep", EndpointConfigName="config-v1")
    assert error.value.response["Error"]["Code"] == "ValidationException"


def test_retain_all_variant_properties_keeps_the_live_instance_count(emu, sm):
    sm.create_endpoint(EndpointName="ep", EndpointConfigName=config(sm, 1, count=3))
    emu.advance(TIMINGS.create_s)
    sm.update_endpoint(EndpointName="ep", EndpointConfigName=config(sm, 2, count=1),
                       RetainAllVariantProperties=True, DeploymentConfig=blue_green())
    emu.advance(1000)
    assert sm.describe_endpoint(EndpointName="ep")["ProductionVariants"][0]["DesiredInstanceCount"] == 3


def test_retain_deployment_config_reuses_the_last_one(emu, sm):
    in_service(emu, sm)
    sm.update_endpoint(EndpointName="ep", EndpointConfigName=config(sm, 2), DeploymentConfig=blue_green("LINEAR"))
    emu.advance(1000)
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="config-v1", RetainDeploymentConfig=True)
    described = sm.describe_endpoint(EndpointName="ep")
    assert described["LastDeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "LINEAR"


@pytest.mark.parametrize("how", ["boto3", "control-api"])
def test_rollback_alarm_during_canary_rolls_back(emu, sm, cw, how):
    in_service(emu, sm)
    alarm(cw, "ep-5xx")
    sm.update_endpoint(EndpointName="ep", EndpointConfigName=config(sm, 2),
                       DeploymentConfig=blue_green("CANARY", alarms=("ep-5xx",)))
    emu.advance(TIMINGS.provision_s + 5)  # baking the canary
    assert stage(sm) == "Baking"
    if how == "boto3":
        cw.set_alarm_state(AlarmName="ep-5xx", StateValue="ALARM", StateReason="5XX during canary")
    else:
        emu.set_alarm_state("ep-5xx", "ALARM")
    described = sm.describe_endpoint(EndpointName="ep")
    assert described["EndpointStatus"] == "RollingBack"
    assert "ep-5xx" in described["FailureReason"]
    emu.advance(TIMINGS.rollback_s)
    described = sm.describe_endpoint(EndpointName="ep")
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == "config-v1"
    assert "ep-5xx" in described["FailureReason"]
    assert "PendingDeploymentSummary" not in described
    assert resolved(sm).endswith(DIGESTS[1])
    assert emu.status_history("ep") == ["Creating", "InService", "Updating", "RollingBack", "InService"]


def test_alarm_after_the_update_finished_changes_nothing(emu, sm, cw):
    in_service(emu, sm)
    alarm(cw, "ep-5xx")
    sm.update_endpoint(EndpointName="ep", EndpointConfigName=config(sm, 2),
                       DeploymentConfig=blue_green(alarms=("ep-5xx",)))
    emu.advance(10_000)
    emu.set_alarm_state("ep-5xx", "ALARM")
    described = sm.describe_endpoint(EndpointName="ep")
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "config-v2")


# ----- (e) faults
def test_stuck_update_never_finishes(emu, sm):
    in_service(emu, sm)
    emu.stick_updates("ep")
    sm.update_endpoint(EndpointName="ep", EndpointConfigName=config(sm, 2), DeploymentConfig=blue_green())
    emu.advance(1_000_000)
    described = sm.describe_endpoint(EndpointName="ep")
    assert described["EndpointStatus"] == "Updating" and "PendingDeploymentSummary" in described
    emu.stick_updates("ep", stuck=False)
    emu.advance(1)
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "InService"


def test_injected_fault_fails_creation_and_update(emu, sm):
    emu.fail_next("ep", "CannotStartContainerError: injected")
    sm.create_endpoint(EndpointName="ep", EndpointConfigName=config(sm, 1))
    emu.advance(TIMINGS.create_s)
    described = sm.describe_endpoint(EndpointName="ep")
    assert (described["EndpointStatus"], described["FailureReason"]) == ("Failed", "CannotStartContainerError: injected")

    in_service(emu, sm, name="ep2", version=2)
    emu.fail_next("ep2")
    sm.update_endpoint(EndpointName="ep2", EndpointConfigName="config-v1")
    emu.advance(TIMINGS.provision_s)
    described = sm.describe_endpoint(EndpointName="ep2")
    assert described["EndpointStatus"] == "Failed" and "Injected fault" in described["FailureReason"]


def test_throttling_answers_a_fraction_of_calls(emu, sm):
    in_service(emu, sm)
    emu.throttle(0.5, operations={"DescribeEndpoint"})
    outcomes = []
    for _ in range(40):
        try:
            sm.describe_endpoint(EndpointName="ep")
            outcomes.append("ok")
        except ClientError as error:
            assert error.response["Error"]["Code"] == "ThrottlingException"
            outcomes.append("throttled")
    assert 5 < outcomes.count("throttled") < 35 and outcomes.count("throttled") == emu.throttled
    sm.list_endpoints()  # other operations are not throttled
    emu.throttle(0)
    sm.describe_endpoint(EndpointName="ep")
    retrying = emu.test_client("sagemaker", config=Config(retries={"max_attempts": 10, "mode": "standard"}))
    emu.throttle(0.3)
    assert retrying.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "InService"


def test_sim_clock_follows_the_wall_clock_when_asked():
    clock = SimClock(speed=1000)
    start = clock.now()
    deadline = time.monotonic() + 10
    while clock.now() - start < 50 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert clock.now() - start >= 50
    manual = SimClock()
    manual.advance(5)
    assert manual.now() == 5


# ----- (b) CloudFormation
def trimmed_template(package_arn: str, version: str) -> dict:
    """The reviewed dev-intent-3b template cut to what the SageMaker path needs:
    alarms, model, endpoint config, endpoint (imports and the role replaced by literals)."""
    template = json.loads((SNAPSHOTS / "test_template_matches_reviewed_snapshot[llama-dev-intent-3b].json").read_text())
    kept = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] not in ("AWS::CloudWatch::Alarm", "AWS::SageMaker::Model",
                                    "AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Endpoint"):
            continue
        props = resource["Properties"]
        props.pop("AlarmActions", None)
        props.pop("OKActions", None)
        if resource["Type"] == "AWS::SageMaker::Model":
            props["ExecutionRoleArn"] = ROLE
            props["PrimaryContainer"]["ModelPackageName"] = package_arn
        if resource["Type"] == "AWS::SageMaker::EndpointConfig":
            props["DataCaptureConfig"].pop("KmsKeyId")
        for tag in props.get("Tags", []):
            if tag["Key"] == "model-version":
                tag["Value"] = version
        kept[logical_id] = resource
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": kept}


@pytest.mark.parametrize("alarm_fires", [False, True])
def test_cloudformation_update_becomes_an_update_endpoint(emu, sm, cw, alarm_fires):
    cfn = emu.test_client("cloudformation", config=NO_RETRIES)
    v1, v2 = package(sm, 1), package(sm, 2)
    cfn.create_stack(StackName="llama-dev-intent-3b", TemplateBody=json.dumps(trimmed_template(v1, "v1")))
    alarms = sorted(a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"])
    assert alarms == sorted(["dev-intent-3b-disk", "dev-intent-3b-4xx-rate", "dev-intent-3b-5xx",
                             "dev-intent-3b-gpu-memory", "dev-intent-3b-latency-p99"])
    described = sm.describe_endpoint(EndpointName="dev-intent-3b")  # EndpointName honoured
    assert described["EndpointStatus"] == "Creating"
    created, blue = described["CreationTime"], described["EndpointConfigName"]
    emu.advance(TIMINGS.create_s)
    assert resolved(sm, "dev-intent-3b").endswith(DIGESTS[1])

    cfn.update_stack(StackName="llama-dev-intent-3b", TemplateBody=json.dumps(trimmed_template(v2, "v2")))
    described = sm.describe_endpoint(EndpointName="dev-intent-3b")
    assert described["EndpointStatus"] == "Updating"
    assert described["CreationTime"] == created  # updated, not recreated
    green = described["PendingDeploymentSummary"]["EndpointConfigName"]
    assert green != blue
    deployment = described["LastDeploymentConfig"]
    assert deployment["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "ALL_AT_ONCE"
    assert {a["AlarmName"] for a in deployment["AutoRollbackConfiguration"]["Alarms"]} == \
        {"dev-intent-3b-5xx", "dev-intent-3b-4xx-rate", "dev-intent-3b-latency-p99"}
    emu.advance(TIMINGS.provision_s + 1)
    if alarm_fires:
        cw.set_alarm_state(AlarmName="dev-intent-3b-latency-p99", StateValue="ALARM", StateReason="slow")
        emu.advance(TIMINGS.rollback_s)
        described = sm.describe_endpoint(EndpointName="dev-intent-3b")
        assert described["EndpointStatus"] == "InService" and "latency-p99" in described["FailureReason"]
        assert resolved(sm, "dev-intent-3b").endswith(DIGESTS[1])
    else:
        emu.advance(10_000)
        described = sm.describe_endpoint(EndpointName="dev-intent-3b")
        assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", green)
        assert resolved(sm, "dev-intent-3b").endswith(DIGESTS[2])
    assert "Creating" not in emu.status_history("dev-intent-3b")[1:]

    cfn.delete_stack(StackName="llama-dev-intent-3b")
    assert sm.list_endpoints()["Endpoints"] == []
    assert cw.describe_alarms()["MetricAlarms"] == []


# ----- the dev stacks as the CDK CLI deploys them: change sets, exports, another account
def snapshot(stack: str) -> dict:
    return json.loads((SNAPSHOTS / f"test_template_matches_reviewed_snapshot[{stack}].json").read_text())


def deploy_by_change_set(cfn, stack: str, template: dict, kind: str) -> None:
    """As the CDK CLI does: one change set name for every stack, the old one deleted (and
    waited for) first, BootstrapVersion kept with UsePreviousValue on updates."""
    name = "cdk-deploy-change-set"
    if kind == "UPDATE":
        cfn.delete_change_set(StackName=stack, ChangeSetName=name)
        with pytest.raises(ClientError) as gone:
            cfn.describe_change_set(StackName=stack, ChangeSetName=name)
        assert gone.value.response["Error"]["Code"] == "ChangeSetNotFound"  # as AWS answers it
        cfn.delete_change_set(StackName=stack, ChangeSetName=name)  # deleting again is no error
    parameters = [{"ParameterKey": "BootstrapVersion", "UsePreviousValue": True}] if kind == "UPDATE" else []
    cfn.create_change_set(StackName=stack, ChangeSetName=name, ChangeSetType=kind, Parameters=parameters,
                          TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_NAMED_IAM"])
    assert cfn.describe_change_set(StackName=stack, ChangeSetName=name)["StackName"] == stack
    cfn.execute_change_set(StackName=stack, ChangeSetName=name)


def test_dev_stacks_deploy_by_change_set_into_the_dev_account():
    with AwsEmulator(timings=TIMINGS, account_id="111111111111") as emulator:
        cfn, sm, cw, sts, ssm = (emulator.client(s) for s in ("cloudformation", "sagemaker", "cloudwatch", "sts", "ssm"))
        try:
            assert sts.get_caller_identity()["Account"] == "111111111111"
            ssm.put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="30", Type="String")
            deploy_by_change_set(cfn, "llama-dev-artifacts", snapshot("llama-dev-artifacts"), "CREATE")
            exports = {e["Name"]: e["Value"] for e in cfn.list_exports()["Exports"]}
            v1 = next(v for k, v in exports.items() if "323binstructv1" in k)
            v2 = next(v for k, v in exports.items() if "323binstructv2" in k)
            assert v1.endswith("model-package/dev-llama-3-2-3b-instruct/1")
            assert sm.describe_model_package(ModelPackageName=v2)["ModelApprovalStatus"] == "Approved"

            template = snapshot("llama-dev-intent-3b")
            deploy_by_change_set(cfn, "llama-dev-intent-3b", template, "CREATE")
            described = sm.describe_endpoint(EndpointName="dev-intent-3b")
            assert described["EndpointStatus"] == "Creating"
            digest_v1 = sm.describe_model_package(ModelPackageName=v1)["InferenceSpecification"]["Containers"][0]["ImageDigest"]
            assert resolved(sm, "dev-intent-3b").endswith(digest_v1)
            assert len(cw.describe_alarms(AlarmNamePrefix="dev-intent-3b-")["MetricAlarms"]) == 5
            aas = emulator.client("application-autoscaling")
            targets = aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
            assert [(t["ResourceId"], t["MaxCapacity"]) for t in targets] == [("endpoint/dev-intent-3b/variant/primary", 2)]
            assert aas.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"][0]["PolicyType"] == \
                "TargetTrackingScaling"
            assert {a["ScheduledActionName"] for a in aas.describe_scheduled_actions(ServiceNamespace="sagemaker")[
                "ScheduledActions"]} == {"evenings", "mornings"}
            aas.close()
            sns = emulator.client("sns")
            assert [s["Endpoint"] for s in sns.list_subscriptions()["Subscriptions"]] == ["ml-platform-dev@example.com"]
            sns.close()
            emulator.advance(TIMINGS.create_s)

            # a promotion as the stack sees it: the model imports the v2 package
            promoted = json.loads(json.dumps(template).replace("323binstructv1Package6435B56BModelPackageArn0EC4145C",
                                                               "323binstructv2PackageEF6D6AF5ModelPackageArn2961BB1D"))
            deploy_by_change_set(cfn, "llama-dev-intent-3b", promoted, "UPDATE")
            assert sm.describe_endpoint(EndpointName="dev-intent-3b")["EndpointStatus"] == "Updating"
            emulator.advance(10_000)
            digest_v2 = sm.describe_model_package(ModelPackageName=v2)["InferenceSpecification"]["Containers"][0]["ImageDigest"]
            assert sm.describe_endpoint(EndpointName="dev-intent-3b")["EndpointStatus"] == "InService"
            assert resolved(sm, "dev-intent-3b").endswith(digest_v2)
            assert emulator.status_history("dev-intent-3b") == ["Creating", "InService", "Updating", "InService"]
        finally:
            for c in (cfn, sm, cw, sts, ssm):
                c.close()
    import os

    assert "MOTO_ACCOUNT_ID" not in os.environ


def test_instance_type_change_of_an_autoscaled_variant_is_refused(emu, sm):
    in_service(emu, sm)
    aas = emu.test_client("application-autoscaling")
    aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId="endpoint/ep/variant/primary",
                                 ScalableDimension="sagemaker:variant:DesiredInstanceCount", MinCapacity=1, MaxCapacity=2)
    sm.create_model(ModelName="model-big", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
    sm.create_endpoint_config(EndpointConfigName="config-big", ProductionVariants=[
        {"VariantName": "primary", "ModelName": "model-big", "InstanceType": "ml.g5.2xlarge", "InitialInstanceCount": 1}])
    with pytest.raises(ClientError, match="deregistered as scalable targets"):
        sm.update_endpoint(EndpointName="ep", EndpointConfigName="config-big")
    aas.deregister_scalable_target(ServiceNamespace="sagemaker", ResourceId="endpoint/ep/variant/primary",
                                   ScalableDimension="sagemaker:variant:DesiredInstanceCount")
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="config-big")
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "Updating"


def test_template_url_on_the_emulator_itself(emu):
    """What the CDK CLI sends with AWS_ENDPOINT_URL set: http://127.0.0.1:PORT/bucket/key."""
    s3, cfn = emu.test_client("s3"), emu.test_client("cloudformation")
    s3.create_bucket(Bucket="cdk-hnb659fds-assets-123456789012-us-east-1")
    body = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "t"}}}}
    s3.put_object(Bucket="cdk-hnb659fds-assets-123456789012-us-east-1", Key="abc.json", Body=json.dumps(body).encode())
    url = f"{emu.url}/cdk-hnb659fds-assets-123456789012-us-east-1/abc.json"
    cfn.create_change_set(StackName="s", ChangeSetName="c", ChangeSetType="CREATE", TemplateURL=url)
    cfn.execute_change_set(StackName="s", ChangeSetName="c")
    assert cfn.describe_stacks(StackName="s")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
