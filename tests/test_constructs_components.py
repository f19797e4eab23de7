"""The inference-component constructs on bare stacks, one branch per test (aws-cdk's style)."""

from __future__ import annotations

import pytest
from aws_cdk import aws_iam as iam, aws_sns as sns
from aws_cdk.assertions import Match, Template
from test_constructs_endpoint import bare_stack

from config.components import ComponentInstances, ComponentScaling as ScalingConfig, Copies, CopyBatch, RollingUpdate
from config.environment import Alarms
from stacks.constructs.adapter_component import AdapterComponent, AdapterComponentProps
from stacks.constructs.base_component import BaseComponent, BaseComponentProps
from stacks.constructs.component_alarms import ComponentAlarms, ComponentAlarmsProps
from stacks.constructs.component_host import ComponentHost, ComponentHostProps
from stacks.constructs.component_scaling import ComponentScaling, ComponentScalingProps

pytestmark = pytest.mark.xdist_group("cdk")  # builds stacks in this process: see conftest.py

PACKAGE = "arn:aws:sagemaker:us-east-1:111111111111:model-package/dev-m/1"
SUBNET, GROUP = "subnet-0a1b2c3d4e5f60718", "sg-0c3d4e5f60718293a"


def role(stack):
    r = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    policy = iam.Policy(stack, "Policy", statements=[
        iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::b/m/*"])])
    policy.attach_to_role(r)
    return r, policy


def host(stack, **props) -> ComponentHost:
    r, policy = role(stack)
    defaults = dict(endpoint_name="e", variant_name="primary", role=r, role_policy=policy,
                    instance_type="ml.g5.xlarge", instances=ComponentInstances(initial=1, min=0, max=2))
    return ComponentHost(stack, "Host", ComponentHostProps(**{**defaults, **props}))


def base(stack, **props) -> BaseComponent:
    r, policy = role(stack)
    defaults = dict(component_name="e-base", endpoint_name="e", variant_name="primary", model_package_arn=PACKAGE,
                    environment={"OPTION_ENABLE_LORA": "true"}, role=r, role_policy=policy, accelerators=1,
                    min_memory_mb=1024, copies=1, startup_timeout_seconds=600, download_timeout_seconds=600,
                    deployment=RollingUpdate(), rollback_alarm_names=["e-base-5xx"])
    return BaseComponent(stack, "Base", BaseComponentProps(**{**defaults, **props}))


def only_props(template: Template, kind: str) -> dict:
    (props,) = [r["Properties"] for r in template.find_resources(kind).values()]
    return props


# --- ComponentHost ---------------------------------------------------------------------------------------


def test_the_variant_names_no_model_and_scales_its_instances_down_to_zero():
    stack = bare_stack()
    host(stack)
    config = only_props(Template.from_stack(stack), "AWS::SageMaker::EndpointConfig")
    (variant,) = config["ProductionVariants"]
    assert "ModelName" not in variant and "ExecutionRoleArn" in config and "KmsKeyId" not in config
    assert variant["ManagedInstanceScaling"] == {"Status": "ENABLED", "MinInstanceCount": 0, "MaxInstanceCount": 2}
    assert variant["InitialInstanceCount"] == 1 and "VpcConfig" not in config


def test_a_vpc_goes_on_the_endpoint_config():
    stack = bare_stack()
    host(stack, subnet_ids=[SUBNET], security_group_ids=[GROUP], instances=ComponentInstances(initial=1, min=1, max=1))
    config = only_props(Template.from_stack(stack), "AWS::SageMaker::EndpointConfig")
    assert config["VpcConfig"] == {"Subnets": [SUBNET], "SecurityGroupIds": [GROUP]}
    assert config["ProductionVariants"][0]["ManagedInstanceScaling"]["MinInstanceCount"] == 1


# --- BaseComponent ---------------------------------------------------------------------------------------


def test_the_base_component_rolls_copies_batch_by_batch_and_rolls_back_on_its_alarms():
    stack = bare_stack()
    base(stack, deployment=RollingUpdate(batch=CopyBatch(type="capacity-percent", value=25), wait_seconds=60,
                                         rollback_batch=CopyBatch(type="copy-count", value=2)),
         rollback_alarm_names=["e-base-5xx", "e-a-5xx"])
    props = only_props(Template.from_stack(stack), "AWS::SageMaker::InferenceComponent")
    policy = props["DeploymentConfig"]["RollingUpdatePolicy"]
    assert policy == {"MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 25}, "WaitIntervalInSeconds": 60,
                      "MaximumExecutionTimeoutInSeconds": 3600,
                      "RollbackMaximumBatchSize": {"Type": "COPY_COUNT", "Value": 2}}
    assert props["DeploymentConfig"]["AutoRollbackConfiguration"] == {
        "Alarms": [{"AlarmName": "e-base-5xx"}, {"AlarmName": "e-a-5xx"}]}
    spec = props["Specification"]
    assert spec["ComputeResourceRequirements"] == {"NumberOfAcceleratorDevicesRequired": 1,
                                                   "MinMemoryRequiredInMb": 1024}
    assert props["RuntimeConfig"] == {"CopyCount": 1} and props["InferenceComponentName"] == "e-base"


def test_the_base_model_comes_from_the_package_with_the_lora_environment():
    stack = bare_stack()
    base(stack, rollback_alarm_names=[])
    template = Template.from_stack(stack)
    model = only_props(template, "AWS::SageMaker::Model")
    assert model["PrimaryContainer"] == {"ModelPackageName": PACKAGE, "Environment": {"OPTION_ENABLE_LORA": "true"}}
    assert "AutoRollbackConfiguration" not in only_props(template, "AWS::SageMaker::InferenceComponent")[
        "DeploymentConfig"]


# --- AdapterComponent ------------------------------------------------------------------------------------


def test_an_adapter_component_names_its_base_and_archive_and_comes_after_the_base():
    stack = bare_stack()
    b = base(stack)
    AdapterComponent(stack, "Adapter", AdapterComponentProps(
        component_name="e-support", endpoint_name="e", base_component_name="e-base",
        artifact_url="s3://b/m/adapters/support/v1/adapter.tar.gz", base=b.cfn_component))
    template = Template.from_stack(stack)
    adapters = {k: r for k, r in template.find_resources("AWS::SageMaker::InferenceComponent").items()
                if r["Properties"]["InferenceComponentName"] == "e-support"}
    ((logical, adapter),) = adapters.items()
    assert adapter["Properties"]["Specification"] == {
        "BaseInferenceComponentName": "e-base",
        "Container": {"ArtifactUrl": "s3://b/m/adapters/support/v1/adapter.tar.gz"}}
    # no compute, copies or rolling policy of its own: it runs on the base's copies
    assert {"RuntimeConfig", "DeploymentConfig"}.isdisjoint(adapter["Properties"])
    assert stack.get_logical_id(b.cfn_component) in adapter["DependsOn"]


# --- ComponentScaling ------------------------------------------------------------------------------------


def scaling(stack, copies: Copies, names=("e-base", "e-support")) -> ComponentScaling:
    b = base(stack)
    return ComponentScaling(stack, "Scaling", ComponentScalingProps(
        endpoint_name="e", base_component_name="e-base", component_names=list(names), copies=copies,
        scaling=ScalingConfig(target=4), base=b.cfn_component))


def test_copies_scale_on_the_base_component_to_zero_and_back_by_a_step_on_no_capacity():
    stack = bare_stack()
    scaling(stack, Copies(initial=1, min=0, max=3))
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalableTarget", {
        "ResourceId": "inference-component/e-base", "ScalableDimension": "sagemaker:inference-component:DesiredCopyCount",
        "ServiceNamespace": "sagemaker", "MinCapacity": 0, "MaxCapacity": 3})
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "PolicyType": "TargetTrackingScaling", "TargetTrackingScalingPolicyConfiguration": Match.object_like({
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"},
            "TargetValue": 4})})
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "PolicyType": "StepScaling", "StepScalingPolicyConfiguration": {
            "AdjustmentType": "ChangeInCapacity", "Cooldown": 60, "MetricAggregationType": "Maximum",
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]}})
    alarm = only_props(template, "AWS::CloudWatch::Alarm")
    assert (alarm["AlarmName"], alarm["Threshold"], alarm["ComparisonOperator"]) == \
        ("e-no-capacity", 1, "GreaterThanOrEqualToThreshold")
    watched = {m["MetricStat"]["Metric"]["Dimensions"][0]["Value"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert watched == {"e-base", "e-support"}  # a request to an adapter at zero wakes the base too
    assert all(m["MetricStat"]["Metric"]["MetricName"] == "NoCapacityInvocationFailures"
               for m in alarm["Metrics"] if "MetricStat" in m)
    (policy_id,) = [k for k, r in template.find_resources("AWS::ApplicationAutoScaling::ScalingPolicy").items()
                    if r["Properties"]["PolicyType"] == "StepScaling"]
    assert alarm["AlarmActions"] == [{"Ref": policy_id}]


def test_without_scale_to_zero_there_is_no_step_policy_and_no_alarm():
    stack = bare_stack()
    scaling(stack, Copies(initial=1, min=1, max=2))
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::CloudWatch::Alarm", 0)
    template.resource_count_is("AWS::ApplicationAutoScaling::ScalingPolicy", 1)


# --- ComponentAlarms -------------------------------------------------------------------------------------


def alarms(stack, adapters: int, **thresholds) -> ComponentAlarms:
    return ComponentAlarms(stack, "Alarms", ComponentAlarmsProps(
        endpoint_name="e", variant_name="primary", base_component_name="e-base",
        adapter_component_names=[f"e-a{i}" for i in range(adapters)], gpus_per_instance=4,
        thresholds=Alarms(**thresholds), topic=sns.Topic(stack, "Topic")))


def test_every_component_has_its_own_alarms_on_its_own_metrics():
    stack = bare_stack()
    made = alarms(stack, 1, latency_p99_ms=2000, no_traffic_minutes=30)
    template = Template.from_stack(stack)
    names = {r["Properties"]["AlarmName"] for r in template.find_resources("AWS::CloudWatch::Alarm").values()}
    assert names == {"e-base-5xx", "e-base-4xx-rate", "e-base-latency-p99", "e-a0-5xx", "e-a0-4xx-rate",
                     "e-a0-latency-p99", "e-gpu-memory", "e-disk", "e-no-traffic"}
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": "e-a0-latency-p99", "Threshold": 2_000_000, "ExtendedStatistic": "p99",
        "Dimensions": [{"Name": "InferenceComponentName", "Value": "e-a0"}]})
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"AlarmName": "e-gpu-memory", "Threshold": 380})
    assert [a.node.id for a in made.rollback_alarms] == ["C0Errors5xx", "C0Errors4xxRate", "C0LatencyP99",
                                                         "C1Errors5xx"]


def test_rollback_alarms_stop_at_sagemakers_ten():
    stack = bare_stack()
    made = alarms(stack, 9)
    assert len(made.rollback_alarms) == 10
    Template.from_stack(stack)
