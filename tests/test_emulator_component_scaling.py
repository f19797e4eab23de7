"""The emulator's copies to zero and back (localaws/component_scaling.py), and inference components
deployed by CloudFormation (localaws/cfn_components.py) from the reviewed dev intents-lora template.

The clock moves only by advance(); each test starts and stops its own emulator.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from component_emulator_helpers import (RUNTIME_NO_RETRIES, copies, invoke, ready, served_by, status,
                                        versioned_model)
from emulator_helpers import NO_RETRIES, ROLE, TIMINGS, trimmed_template_of
from emulator_helpers import cw, emu, sm  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow  # full tier: starts the emulator (moto server in this process)

DIMENSION = "sagemaker:inference-component:DesiredCopyCount"


@pytest.fixture
def runtime(emu):
    return emu.test_client("sagemaker-runtime", config=RUNTIME_NO_RETRIES)


def scaling_to_zero(emu, cw, watched: tuple[str, ...] = ("ep-base", "ep-support")) -> str:
    """What the stacks register (stacks/constructs/component_scaling.py), by API: min 0, target tracking,
    a +1 step policy on an alarm for NoCapacityInvocationFailures of `watched`."""
    aas = emu.test_client("application-autoscaling", config=NO_RETRIES)
    aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId="inference-component/ep-base",
                                 ScalableDimension=DIMENSION, MinCapacity=0, MaxCapacity=2)
    aas.put_scaling_policy(PolicyName="track", ServiceNamespace="sagemaker", ResourceId="inference-component/ep-base",
                           ScalableDimension=DIMENSION, PolicyType="TargetTrackingScaling",
                           TargetTrackingScalingPolicyConfiguration={"TargetValue": 4, "PredefinedMetricSpecification": {
                               "PredefinedMetricType": "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"}})
    step = aas.put_scaling_policy(
        PolicyName="from-zero", ServiceNamespace="sagemaker", ResourceId="inference-component/ep-base",
        ScalableDimension=DIMENSION, PolicyType="StepScaling", StepScalingPolicyConfiguration={
            "AdjustmentType": "ChangeInCapacity", "MetricAggregationType": "Maximum", "Cooldown": 60,
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]})["PolicyARN"]
    metrics = [{"Id": f"c{i}", "ReturnData": False, "MetricStat": {"Period": 60, "Stat": "Sum", "Metric": {
        "Namespace": "AWS/SageMaker", "MetricName": "NoCapacityInvocationFailures",
        "Dimensions": [{"Name": "InferenceComponentName", "Value": name}]}}} for i, name in enumerate(watched)]
    cw.put_metric_alarm(AlarmName="ep-no-capacity", AlarmActions=[step], EvaluationPeriods=1, Threshold=1,
                        ComparisonOperator="GreaterThanOrEqualToThreshold", Metrics=[
                            {"Id": "total", "Expression": f"SUM([{','.join(m['Id'] for m in metrics)}])",
                             "ReturnData": True}, *metrics])
    return step


def instances(sm) -> int:
    return sm.describe_endpoint(EndpointName="ep")["ProductionVariants"][0]["CurrentInstanceCount"]


def alarm_state(cw) -> str:
    return cw.describe_alarms(AlarmNames=["ep-no-capacity"])["MetricAlarms"][0]["StateValue"]


def test_idle_copies_go_to_zero_then_the_instances_and_a_request_brings_them_back(emu, sm, cw, runtime):
    ready(emu, sm)
    scaling_to_zero(emu, cw)
    t = emu.components.timings
    invoke(runtime, "ep-support")
    emu.advance(t.idle_to_zero_s - 1)
    assert copies(sm) == (1, 1)
    emu.advance(1)  # 15 minutes without a request: target tracking scales in to the minimum
    assert copies(sm) == (0, 0) and instances(sm) == 1
    emu.advance(t.instance_idle_s)  # the idle instance goes too (MinInstanceCount 0)
    assert instances(sm) == 0

    with pytest.raises(ClientError) as caught:  # the first request wakes it and fails
        invoke(runtime, "ep-support")
    assert "no capacity" in caught.value.response["Error"]["Message"]
    emu.advance(t.alarm_s - 1)
    assert alarm_state(cw) != "ALARM" and copies(sm) == (0, 0)
    emu.advance(1)  # one datapoint: ALARM, and the step policy asks for a copy
    assert alarm_state(cw) == "ALARM" and copies(sm) == (1, 0)
    assert status(sm, "ep-base") == "Updating"
    emu.advance(t.instance_s + t.load_s - 1)  # an instance, then the model: minutes of failing requests
    with pytest.raises(ClientError):
        invoke(runtime, "ep-support")
    emu.advance(1)
    assert copies(sm) == (1, 1) and instances(sm) == 1 and status(sm, "ep-base") == "InService"
    assert invoke(runtime, "ep-support") and served_by(emu)["adapter"] == "support-intents"
    emu.advance(2 * t.alarm_s)  # a minute without a failure after the one that had the last
    assert alarm_state(cw) == "OK"


def test_a_request_to_a_component_the_alarm_does_not_read_wakes_nothing(emu, sm, cw, runtime):
    ready(emu, sm, adapters=("support", "orders"))
    scaling_to_zero(emu, cw, watched=("ep-base", "ep-support"))
    sm.update_inference_component_runtime_config(InferenceComponentName="ep-base", DesiredRuntimeConfig={"CopyCount": 0})
    with pytest.raises(ClientError):
        invoke(runtime, "ep-orders")
    emu.advance(600)
    assert copies(sm) == (0, 0) and alarm_state(cw) != "ALARM"


def test_without_target_tracking_idle_copies_stay(emu, sm, runtime):
    ready(emu, sm)
    emu.test_client("application-autoscaling", config=NO_RETRIES).register_scalable_target(
        ServiceNamespace="sagemaker", ResourceId="inference-component/ep-base", ScalableDimension=DIMENSION,
        MinCapacity=0, MaxCapacity=2)
    emu.advance(3 * emu.components.timings.idle_to_zero_s)
    assert copies(sm) == (1, 1)


def test_more_copies_need_another_instance_first(emu, sm):
    ready(emu, sm)
    t = emu.components.timings
    sm.update_inference_component_runtime_config(InferenceComponentName="ep-base", DesiredRuntimeConfig={"CopyCount": 2})
    emu.advance(t.load_s)
    assert copies(sm) == (2, 1)  # ml.g5.xlarge holds one copy: a second instance comes first
    emu.advance(t.instance_s)
    assert copies(sm) == (2, 2) and instances(sm) == 2
    with pytest.raises(ClientError) as caught:  # ManagedInstanceScaling.MaxInstanceCount 2 holds no third
        sm.update_inference_component_runtime_config(InferenceComponentName="ep-base",
                                                     DesiredRuntimeConfig={"CopyCount": 3})
    assert "Insufficient capacity" in caught.value.response["Error"]["Message"]


# ----- CloudFormation: the reviewed dev intents-lora template
def trimmed_template(package_arn: str, adapter_version: str = "v1") -> dict:
    """The reviewed llama-dev-intents-lora template with imports, role and topics replaced by literals."""
    def edit(resource: dict) -> dict:
        resource = json.loads(json.dumps(resource).replace("support-intents/v1/", f"support-intents/{adapter_version}/"))
        props = resource["Properties"]
        if resource["Type"] == "AWS::CloudWatch::Alarm" and "no-capacity" not in props["AlarmName"]:
            props.pop("AlarmActions", None)
            props.pop("OKActions", None)
        if resource["Type"] == "AWS::SageMaker::EndpointConfig":
            props["ExecutionRoleArn"] = ROLE
        resource.pop("DependsOn", None) if resource["Type"] == "AWS::SageMaker::Model" else None
        return resource

    return trimmed_template_of("llama-dev-intents-lora", ("AWS::CloudWatch::Alarm", "AWS::SageMaker::Model",
                                                          "AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Endpoint",
                                                          "AWS::SageMaker::InferenceComponent",
                                                          "AWS::ApplicationAutoScaling::ScalableTarget",
                                                          "AWS::ApplicationAutoScaling::ScalingPolicy"),
                               package_arn, edit)


def package_of(sm, version: str) -> str:
    model = versioned_model(sm, version)
    return sm.describe_model(ModelName=model)["PrimaryContainer"]["ModelPackageName"]


def test_the_stack_deploys_the_components_and_a_stack_update_swaps_one_adapter(emu, sm, runtime):
    cfn = emu.test_client("cloudformation", config=NO_RETRIES)
    v1 = package_of(sm, "v1")
    cfn.create_stack(StackName="llama-dev-intents-lora", TemplateBody=json.dumps(trimmed_template(v1)))
    t = emu.components.timings
    emu.advance(TIMINGS.create_s)
    emu.advance(t.load_s)
    emu.advance(t.adapter_s)
    names = ["dev-intents-lora-base", "dev-intents-lora-orders", "dev-intents-lora-support"]
    assert [(c["InferenceComponentName"], c["InferenceComponentStatus"]) for c in
            sm.list_inference_components(EndpointNameEquals="dev-intents-lora")["InferenceComponents"]] == \
        [(n, "InService") for n in names]
    targets = emu.test_client("application-autoscaling", config=NO_RETRIES).describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=["inference-component/dev-intents-lora-base"])["ScalableTargets"]
    assert [(x["ScalableDimension"], x["MinCapacity"]) for x in targets] == [(DIMENSION, 0)]
    sm.update_inference_component_runtime_config(InferenceComponentName="dev-intents-lora-base",
                                                 DesiredRuntimeConfig={"CopyCount": 0})

    cfn.update_stack(StackName="llama-dev-intents-lora", TemplateBody=json.dumps(trimmed_template(v1, "v2")))
    assert status(sm, "dev-intents-lora-support") == "Updating" and status(sm, "dev-intents-lora-orders") == "InService"
    emu.advance(t.adapter_s)
    spec = sm.describe_inference_component(InferenceComponentName="dev-intents-lora-support")["Specification"]
    assert spec["Container"]["ArtifactUrl"].endswith("/support-intents/v2/adapter.tar.gz")
    assert copies(sm, "dev-intents-lora-base") == (0, 0)  # CopyCount did not change in the template: left as is

    cfn.delete_stack(StackName="llama-dev-intents-lora")
    assert sm.list_inference_components()["InferenceComponents"] == []
