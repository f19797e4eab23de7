"""What the emulator refuses because SageMaker does (localaws/moto_patches/sagemaker_rules.py):
a Model from a versioned package that is not Approved, and a deployment whose rollback alarms
its execution role cannot describe."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from emulator_helpers import IMAGE, ROLE, READ_ALARMS, TIMINGS, alarm, blue_green, config, create_role, in_service
from emulator_helpers import cw, emu, sm  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow  # full tier: starts the emulator (moto server in this process)


def _pending_package(sm) -> str:
    sm.create_model_package_group(ModelPackageGroupName="g")
    return sm.create_model_package(
        ModelPackageGroupName="g", ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={"Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://w/v2/"}],
                                "SupportedContentTypes": ["application/json"],
                                "SupportedResponseMIMETypes": ["application/json"]})["ModelPackageArn"]


def test_a_model_from_a_versioned_package_that_is_not_approved_is_refused(sm):
    arn = _pending_package(sm)
    with pytest.raises(ClientError) as refused:
        sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": arn})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "PendingManualApproval" in str(refused.value) and "must be Approved" in str(refused.value)
    assert sm.list_models()["Models"] == []
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    with pytest.raises(ClientError, match="is Rejected"):
        sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": arn})
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": arn})
    assert [m["ModelName"] for m in sm.list_models()["Models"]] == ["m"]


def test_a_model_built_from_the_pin_itself_needs_no_approval(sm):
    _pending_package(sm)  # the registry records the version; the model does not go through it
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": IMAGE, "ModelDataSource": {"S3DataSource": {"S3Uri": "s3://w/v2/", "S3DataType": "S3Prefix",
                                                             "CompressionType": "None"}}})
    assert sm.describe_model(ModelName="m")["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]["S3Uri"] == \
        "s3://w/v2/"


def test_an_update_whose_role_cannot_describe_its_rollback_alarms_is_refused(emu, sm, cw):
    in_service(emu, sm)
    alarm(cw, "ep-5xx")
    mute = create_role(emu, "mute", policy=None)
    sm.create_model(ModelName="m2", ExecutionRoleArn=mute, PrimaryContainer={"Image": IMAGE})
    sm.create_endpoint_config(EndpointConfigName="c2", ProductionVariants=[
        {"VariantName": "primary", "ModelName": "m2", "InstanceType": "ml.g5.xlarge", "InitialInstanceCount": 1}])
    with pytest.raises(ClientError) as refused:
        sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2",
                           DeploymentConfig=blue_green(alarms=("ep-5xx",)))
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert f"{mute} is not authorized to perform cloudwatch:DescribeAlarms on " \
           f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:ep-5xx" in str(refused.value)
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "InService"
    # without auto-rollback the same role deploys
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2", DeploymentConfig=blue_green())
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "Updating"


def test_a_role_scoped_to_other_alarms_or_denied_them_is_refused(emu, sm, cw):
    other = create_role(emu, "other", policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "cloudwatch:DescribeAlarms",
         "Resource": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:other-*"}]})
    denied = create_role(emu, "denied", policy={"Version": "2012-10-17", "Statement": [
        *READ_ALARMS["Statement"],
        {"Effect": "Deny", "Action": "cloudwatch:Describe*", "Resource": "*"}]})
    alarm(cw, "ep-5xx")
    for role in (other, denied):
        sm.create_model(ModelName=f"m-{role[-5:]}", ExecutionRoleArn=role, PrimaryContainer={"Image": IMAGE})
        sm.create_endpoint_config(EndpointConfigName=f"c-{role[-5:]}", ProductionVariants=[
            {"VariantName": "primary", "ModelName": f"m-{role[-5:]}", "InstanceType": "ml.g5.xlarge",
             "InitialInstanceCount": 1}])
        with pytest.raises(ClientError, match="not authorized to perform cloudwatch:DescribeAlarms"):
            sm.create_endpoint(EndpointName="ep", EndpointConfigName=f"c-{role[-5:]}",
                               DeploymentConfig=blue_green(alarms=("ep-5xx",)))


def test_a_role_that_may_describe_the_alarms_deploys_and_rolls_back(emu, sm, cw):
    in_service(emu, sm)
    alarm(cw, "ep-5xx")
    sm.update_endpoint(EndpointName="ep", EndpointConfigName=config(sm, 2),
                       DeploymentConfig=blue_green(alarms=("ep-5xx",)))
    emu.advance(TIMINGS.provision_s + 1)
    emu.set_alarm_state("ep-5xx", "ALARM")
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "RollingBack"


def test_live_state_reads_the_pin_of_a_model_built_without_its_package(emu, sm, cw):
    """scripts/promotion/live.py: DescribeModel has no tags; the pin's identity comes from ListTags."""
    from scripts.promotion.live import Inspector

    pinned = IMAGE.rsplit(":", 1)[0] + "@sha256:" + "c" * 64
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": pinned, "ModelDataSource": {"S3DataSource": {"S3Uri": "s3://w/m/v2/", "S3DataType": "S3Prefix",
                                                              "CompressionType": "None"}}},
        Tags=[{"Key": "pin-model", "Value": "m"}, {"Key": "pin-version", "Value": "v2"},
              {"Key": "pin-manifest-sha256", "Value": "d" * 64}])
    sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[
        {"VariantName": "primary", "ModelName": "m", "InstanceType": "ml.g5.xlarge", "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    emu.advance(TIMINGS.create_s)
    state = Inspector(sm, cw).endpoint("ep")
    assert (state.live.model, state.live.version, state.live.manifest_sha256) == ("m", "v2", "d" * 64)
    assert (state.live.image, state.live.model_data_uri, state.live.package_arn) == (pinned, "s3://w/m/v2/", None)
    assert state.resolved_images == [pinned] and emu.live_version("ep") == "v2"
