"""The endpoint constructs on their own, as aws-cdk's sagemaker-alpha tests them: a bare Stack, the
smallest props that reach one branch, `Template.from_stack` (which runs the constructs' validations).

The example environments reach only some branches (no linear strategy, always three rollback
alarms, always a capture bucket): these tests cover the rest, independent of the examples.
"""

from __future__ import annotations

import pytest
from aws_cdk import Environment as StackTarget
from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template
from conftest import ROOT

from config.environment import (
    Alarms,
    Autoscaling,
    Deployment,
    Instances,
    ScalingMetric,
    Strategy,
    TrafficSize,
)
from config.schedule import ScalingSchedule
from stacks.constructs.endpoint_alarms import EndpointAlarms, EndpointAlarmsProps
from stacks.constructs.endpoint_autoscaling import (
    EndpointAutoscaling,
    EndpointAutoscalingProps,
)
from stacks.constructs.llm_endpoint import (
    DataCapture,
    LlmEndpoint,
    LlmEndpointProps,
    ModelSource,
    ShadowVariant,
)
from stacks.environment_app import new_app

pytestmark = pytest.mark.xdist_group("cdk")  # builds stacks in this process: see conftest.py

KEY = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
PACKAGE = "arn:aws:sagemaker:us-east-1:111111111111:model-package/dev-m/1"
ONE_ALARM = ["e-5xx"]
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference@sha256:" + "a" * 64
IDENTITY = {"pin-model": "m", "pin-version": "v1", "pin-manifest-sha256": "b" * 64}


def source(package_arn: str | None = PACKAGE, version: str = "v1") -> ModelSource:
    """A version's model source: from its registry package (Approved) or, with None, from the pin."""
    return ModelSource(package_arn=package_arn, image=IMAGE, model_data_uri=f"s3://w/m/{version}/",
                       environment={"HF_MODEL_ID": "/opt/ml/model"}, identity={**IDENTITY, "pin-version": version})


def bare_stack() -> Stack:
    """A Stack of its own in an App with the project's feature flags (cdk.json), as every stack here has."""
    return Stack(new_app(ROOT), "Test", env=StackTarget(account="111111111111", region="us-east-1"))


def endpoint(stack: Stack, **props) -> LlmEndpoint:
    """An LlmEndpoint with the smallest props; `props` override them."""
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    policy = iam.Policy(stack, "Policy", statements=[
        iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::b/m/*"])])
    policy.attach_to_role(role)
    defaults = dict(endpoint_name="e", variant_name="primary", model=source(), role=role,
                    role_policy=policy, instance_type="ml.g5.xlarge", initial_instance_count=1,
                    startup_timeout_seconds=600, download_timeout_seconds=600,
                    deployment=Deployment(strategy=Strategy.ALL_AT_ONCE), rollback_alarm_names=ONE_ALARM)
    return LlmEndpoint(stack, "Endpoint", LlmEndpointProps(**{**defaults, **props}))


def blue_green(template: Template) -> dict:
    (props,) = [r["Properties"] for r in template.find_resources("AWS::SageMaker::Endpoint").values()]
    return props["DeploymentConfig"]


# --- LlmEndpoint: traffic routing, one branch each ---------------------------------------------------


def test_all_at_once_has_no_sizes_and_bakes_for_the_termination_wait():
    stack = bare_stack()
    endpoint(stack, deployment=Deployment(strategy=Strategy.ALL_AT_ONCE, wait_seconds=120, baking_seconds=300))
    policy = blue_green(Template.from_stack(stack))["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 120}
    assert policy["TerminationWaitInSeconds"] == 300 and policy["MaximumExecutionTimeoutInSeconds"] == 7200


@pytest.mark.parametrize("strategy, size_field, routing_type, size_key, percent", [
    (Strategy.CANARY, "canary_size", "CANARY", "CanarySize", 20),
    (Strategy.LINEAR, "linear_step", "LINEAR", "LinearStepSize", 25),
], ids=["canary", "linear"])
def test_canary_and_linear_set_their_own_size_only(strategy, size_field, routing_type, size_key, percent):
    stack = bare_stack()
    endpoint(stack, deployment=Deployment(strategy=strategy,
                                          **{size_field: TrafficSize(type="capacity-percent", value=percent)}))
    routing = blue_green(Template.from_stack(stack))["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {"Type": routing_type, "WaitIntervalInSeconds": 600,
                       size_key: {"Type": "CAPACITY_PERCENT", "Value": percent}}


# --- LlmEndpoint: rollback alarms (SageMaker takes 1-10) ----------------------------------------------


@pytest.mark.parametrize("count", [0, 11])
def test_rollback_alarms_outside_one_to_ten_fail_synth(count):
    stack = bare_stack()
    endpoint(stack, rollback_alarm_names=[f"e-{i}" for i in range(count)])
    with pytest.raises(Exception, match=f"AutoRollbackConfiguration takes 1-10 alarms, got {count}"):
        Template.from_stack(stack)


def test_ten_rollback_alarms_are_accepted():
    stack = bare_stack()
    endpoint(stack, rollback_alarm_names=[f"e-{i}" for i in range(10)])
    alarms = blue_green(Template.from_stack(stack))["AutoRollbackConfiguration"]["Alarms"]
    assert [a["AlarmName"] for a in alarms] == [f"e-{i}" for i in range(10)]


def test_without_auto_rollback_no_alarm_is_named_and_none_is_required():
    """`rollback` deploys this way: the alarms that fired are why someone rolls back."""
    stack = bare_stack()
    endpoint(stack, rollback_alarm_names=[], auto_rollback=False)
    assert "AutoRollbackConfiguration" not in blue_green(Template.from_stack(stack))


# --- LlmEndpoint: model, config, capture, network, shadow --------------------------------------------


def test_minimal_endpoint_has_unnamed_model_and_config_and_no_local_storage_settings():
    stack = bare_stack()
    endpoint(stack)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::SageMaker::Model", {
        "PrimaryContainer": {"ModelPackageName": PACKAGE}, "EnableNetworkIsolation": True,
        "ModelName": Match.absent(), "VpcConfig": Match.absent()})
    template.has_resource_properties("AWS::SageMaker::EndpointConfig", {
        "EndpointConfigName": Match.absent(), "KmsKeyId": Match.absent(), "DataCaptureConfig": Match.absent(),
        "ShadowProductionVariants": Match.absent(),
        "ProductionVariants": [Match.object_like({"VariantName": "primary", "InstanceType": "ml.g5.xlarge",
                                                  "VolumeSizeInGB": Match.absent(),
                                                  "InitialVariantWeight": Match.absent(),
                                                  "RoutingConfig": {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}})]})
    template.has_resource_properties("AWS::SageMaker::Endpoint", {
        "EndpointName": "e", "RetainAllVariantProperties": True,
        "ExcludeRetainedVariantProperties": [{"VariantPropertyType": "DataCaptureConfig"}]})


def test_an_approved_version_is_built_from_its_package_and_any_other_from_its_pin():
    """SageMaker deploys a versioned package only when it is Approved (CreateModelPackage,
    ModelApprovalStatus): other versions get the package's image, weights and environment directly.
    Either way the Model names its pin in its tags (live.py reads them back)."""
    for package_arn, container in ((PACKAGE, {"ModelPackageName": PACKAGE}),
                                   (None, Match.object_like({"Image": IMAGE, "ModelPackageName": Match.absent()}))):
        stack = bare_stack()
        endpoint(stack, model=source(package_arn))
        template = Template.from_stack(stack)
        template.has_resource_properties("AWS::SageMaker::Model", {"PrimaryContainer": container})
        (model,) = template.find_resources("AWS::SageMaker::Model").values()
        assert {t["Key"]: t["Value"] for t in model["Properties"]["Tags"]} == IDENTITY


def test_the_model_waits_for_the_role_policy():
    """SageMaker checks the role's access when it creates the model: the policy must exist first."""
    stack = bare_stack()
    endpoint(stack)
    (model,) = Template.from_stack(stack).find_resources("AWS::SageMaker::Model").values()
    assert any(dep.startswith("Policy") for dep in model["DependsOn"])


def test_zero_percent_capture_configures_no_capture():
    stack = bare_stack()
    endpoint(stack, data_capture=DataCapture("s3://c/e/", 0, KEY))
    Template.from_stack(stack).has_resource_properties("AWS::SageMaker::EndpointConfig",
                                                      {"DataCaptureConfig": Match.absent()})


def test_capture_is_encrypted_with_its_own_key():
    stack = bare_stack()
    endpoint(stack, data_capture=DataCapture("s3://c/e/", 25, KEY))
    Template.from_stack(stack).has_resource_properties("AWS::SageMaker::EndpointConfig", {"DataCaptureConfig": {
        "EnableCapture": True, "InitialSamplingPercentage": 25, "DestinationS3Uri": "s3://c/e/",
        "KmsKeyId": KEY,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]}})


def test_subnets_put_model_in_the_vpc():
    stack = bare_stack()
    endpoint(stack, subnet_ids=["subnet-0a1b2c3d4e5f60718"], security_group_ids=["sg-0c3d4e5f60718293a"], network_isolation=False)
    Template.from_stack(stack).has_resource_properties("AWS::SageMaker::Model", {
        "VpcConfig": {"Subnets": ["subnet-0a1b2c3d4e5f60718"], "SecurityGroupIds": ["sg-0c3d4e5f60718293a"]}, "EnableNetworkIsolation": False})


def test_shadow_variant_gets_its_own_model_and_every_request():
    stack = bare_stack()
    endpoint(stack, shadow=ShadowVariant("shadow", source(None, "v2"), "ml.g5.2xlarge", 1))
    template = Template.from_stack(stack)
    assert len(template.find_resources("AWS::SageMaker::Model")) == 2
    template.has_resource_properties("AWS::SageMaker::Model", {  # an unapproved shadow: built from its pin
        "PrimaryContainer": {"Image": IMAGE, "Environment": {"HF_MODEL_ID": "/opt/ml/model"},
                             "ModelDataSource": {"S3DataSource": {"S3Uri": "s3://w/m/v2/", "S3DataType": "S3Prefix",
                                                                  "CompressionType": "None"}}}})
    template.has_resource_properties("AWS::SageMaker::EndpointConfig", {
        "ProductionVariants": [Match.object_like({"VariantName": "primary", "InitialVariantWeight": 1})],
        "ShadowProductionVariants": [Match.object_like({"VariantName": "shadow", "InstanceType": "ml.g5.2xlarge",
                                                        "InitialVariantWeight": 1})]})


# --- EndpointAlarms -------------------------------------------------------------------------------


def alarms(stack: Stack, thresholds: Alarms, gpus: int = 1) -> EndpointAlarms:
    return EndpointAlarms(stack, "Alarms", EndpointAlarmsProps(
        endpoint_name="e", variant_name="primary", gpus_per_instance=gpus, thresholds=thresholds,
        topic=sns.Topic(stack, "Topic")))


def test_default_thresholds_make_five_alarms_and_three_roll_back():
    stack = bare_stack()
    built = alarms(stack, Alarms())
    found = Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm")
    names = {logical: a["Properties"]["AlarmName"] for logical, a in found.items()}
    assert sorted(names.values()) == ["e-4xx-rate", "e-5xx", "e-disk", "e-gpu-memory", "e-latency-p99"]
    rollback = [names[stack.resolve(a.alarm_name)["Ref"]] for a in built.rollback_alarms]
    assert rollback == ["e-5xx", "e-4xx-rate", "e-latency-p99"]


def test_thresholds_are_converted_to_sagemakers_units():
    """ModelLatency is in microseconds; GPUMemoryUtilization is summed over the instance's GPUs."""
    stack = bare_stack()
    alarms(stack, Alarms(latency_p99_ms=1500, gpu_memory_percent=95, evaluation_minutes=2), gpus=4)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": "e-latency-p99", "MetricName": "ModelLatency", "ExtendedStatistic": "p99",
        "Threshold": 1_500_000, "EvaluationPeriods": 2, "DatapointsToAlarm": 2})
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": "e-gpu-memory", "Namespace": "/aws/sagemaker/Endpoints", "Threshold": 380})


def test_no_traffic_alarm_treats_missing_data_as_breaching():
    stack = bare_stack()
    alarms(stack, Alarms(no_traffic_minutes=30))
    Template.from_stack(stack).has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": "e-no-traffic", "ComparisonOperator": "LessThanThreshold", "Threshold": 1,
        "EvaluationPeriods": 30, "TreatMissingData": "breaching"})


# --- EndpointAutoscaling ----------------------------------------------------------------------------


def autoscaling(stack: Stack, scaling: Autoscaling) -> None:
    endpoint_construct = endpoint(stack)
    EndpointAutoscaling(stack, "Autoscaling", EndpointAutoscalingProps(
        endpoint_name="e", variant_name="primary", instances=Instances(initial=1, min=1, max=3),
        autoscaling=scaling, endpoint=endpoint_construct.cfn_endpoint))


def test_invocations_per_instance_target_tracking_after_the_endpoint():
    stack = bare_stack()
    autoscaling(stack, Autoscaling(metric=ScalingMetric.INVOCATIONS_PER_INSTANCE, target=300))
    template = Template.from_stack(stack)
    (target,) = template.find_resources("AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert target["Properties"]["ResourceId"] == "endpoint/e/variant/primary"
    assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (1, 3)
    assert any(dep.startswith("Endpoint") for dep in target["DependsOn"])
    assert "ScheduledActions" not in target["Properties"]
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "TargetTrackingScalingPolicyConfiguration": Match.object_like({
            "TargetValue": 300, "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}})})


def test_a_schedule_becomes_a_scheduled_action_in_its_time_zone():
    stack = bare_stack()
    autoscaling(stack, Autoscaling(target=8, schedules=[
        ScalingSchedule(name="nights", cron="0 20 ? * * *", min=1, max=1, timezone="Asia/Tokyo"),
        ScalingSchedule(name="days", cron="0 8 ? * * *", min=1, max=3, timezone="Asia/Tokyo")]))
    (target,) = Template.from_stack(stack).find_resources("AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert target["Properties"]["ScheduledActions"][0] == {
        "ScheduledActionName": "nights", "Schedule": "cron(0 20 ? * * *)", "Timezone": "Asia/Tokyo",
        "ScalableTargetAction": {"MinCapacity": 1, "MaxCapacity": 1}}
