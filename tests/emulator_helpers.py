"""Fixtures and helpers of the emulator's tests (tests/test_emulator*.py): an emulator per
test on a simulated clock that moves only by advance(), SageMaker clients without retries,
and the model packages, endpoint configs and deployment configs the tests deploy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest
from botocore.config import Config

from localaws.emulator import AwsEmulator, Timings

ROLE = "arn:aws:iam::123456789012:role/exec"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.30.0-lmi"
DIGESTS = {1: "sha256:" + "1" * 64, 2: "sha256:" + "2" * 64}
SNAPSHOTS = Path(__file__).parent / "__snapshots__" / "test_templates_quality"
NO_RETRIES = Config(retries={"max_attempts": 0, "mode": "standard"})

# Simulated seconds; the deployment waits of the real templates (120 s, 300 s) shrink 100x.
TIMINGS = Timings(create_s=60, provision_s=60, rollback_s=30, wait_scale=0.01)


# The execution role ROLE names: it may read every alarm, as a role must that runs under
# AutoRollbackConfiguration (localaws/moto_patches/sagemaker_rules.py refuses it otherwise).
READ_ALARMS = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "cloudwatch:DescribeAlarms", "Resource": "arn:aws:cloudwatch:*:*:alarm:*"}]}
TRUST_SAGEMAKER = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def create_role(emulator, name: str = "exec", policy: dict | None = READ_ALARMS) -> str:
    iam = emulator.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_SAGEMAKER))["Role"]["Arn"]
    if policy is not None:
        iam.put_role_policy(RoleName=name, PolicyName="policy", PolicyDocument=json.dumps(policy))
    return arn


@pytest.fixture
def emu():
    with AwsEmulator(timings=TIMINGS) as emulator:
        assert create_role(emulator) == ROLE
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


def reviewed_template(stack: str) -> dict:
    """The reviewed template of `stack`: its snapshot in SNAPSHOTS."""
    return json.loads((SNAPSHOTS / f"test_template_matches_reviewed_snapshot[{stack}].json").read_text())


def trimmed_template_of(stack: str, types: tuple[str, ...], package_arn: str, edit: Callable[[dict], dict]) -> dict:
    """The reviewed template of `stack` cut to the resources of `types`, each passed through `edit`
    (-> the resource to keep), then the model's role and package replaced by literals: ROLE and
    `package_arn`."""
    kept = {}
    for logical_id, resource in reviewed_template(stack)["Resources"].items():
        if resource["Type"] not in types:
            continue
        resource = edit(resource)
        if resource["Type"] == "AWS::SageMaker::Model":
            resource["Properties"]["ExecutionRoleArn"] = ROLE
            resource["Properties"]["PrimaryContainer"]["ModelPackageName"] = package_arn
        kept[logical_id] = resource
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": kept}


def stage(sm, name: str = "ep") -> str:
    summary = sm.describe_endpoint(EndpointName=name)["PendingDeploymentSummary"]
    return summary["ProductionVariants"][0]["VariantStatus"][0]["Status"]
