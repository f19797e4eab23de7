"""The example's component endpoint (dev intents-lora): two intent adapters on one 3B base, scaling to
zero and back, and its alarms, read from the session's synthesized templates."""

from __future__ import annotations

from conftest import resources

STACK = "llama-dev-intents-lora"
BUCKET = "llama-weights-dev-111111111111-us-east-1"


def components(templates) -> dict[str, dict]:
    return {r["Properties"]["InferenceComponentName"]: r for r in
            resources(templates[STACK], "AWS::SageMaker::InferenceComponent").values()}


def test_two_intent_adapters_share_one_3b_base_component(templates):
    found = components(templates)
    assert set(found) == {"dev-intents-lora-base", "dev-intents-lora-support", "dev-intents-lora-orders"}
    for name, adapter in (("support", "support-intents"), ("orders", "order-intents")):
        spec = found[f"dev-intents-lora-{name}"]["Properties"]["Specification"]
        assert spec == {"BaseInferenceComponentName": "dev-intents-lora-base", "Container": {
            "ArtifactUrl": f"s3://{BUCKET}/llama-3-2-3b-instruct/adapters/{adapter}/v1/adapter.tar.gz"}}
    base = found["dev-intents-lora-base"]["Properties"]
    (model,) = resources(templates[STACK], "AWS::SageMaker::Model").values()
    environment = model["Properties"]["PrimaryContainer"]["Environment"]
    assert (environment["OPTION_ENABLE_LORA"], environment["OPTION_MAX_LORAS"], environment["OPTION_MAX_LORA_RANK"]) \
        == ("true", "2", "16")
    assert base["Specification"]["ComputeResourceRequirements"]["NumberOfAcceleratorDevicesRequired"] == 1
    outputs = {k: v["Value"] for k, v in templates[STACK]["Outputs"].items()}
    assert outputs["AdapterSupportVersion"] == "support-intents v1" and outputs["ModelVersion"] == "v1"


def test_dev_scales_to_zero_instances_and_copies_and_back_on_requests_that_found_no_capacity(templates):
    template = templates[STACK]
    (config,) = resources(template, "AWS::SageMaker::EndpointConfig").values()
    assert config["Properties"]["ProductionVariants"][0]["ManagedInstanceScaling"]["MinInstanceCount"] == 0
    (target,) = resources(template, "AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert (target["Properties"]["ResourceId"], target["Properties"]["MinCapacity"]) == \
        ("inference-component/dev-intents-lora-base", 0)
    policies = {r["Properties"]["PolicyType"]: r for r in
                resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values()}
    assert set(policies) == {"TargetTrackingScaling", "StepScaling"}
    alarms = {r["Properties"]["AlarmName"]: r["Properties"] for r in resources(template, "AWS::CloudWatch::Alarm").values()}
    wake = alarms["dev-intents-lora-no-capacity"]
    step_id = next(k for k, r in resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").items()
                   if r["Properties"]["PolicyType"] == "StepScaling")
    assert wake["AlarmActions"] == [{"Ref": step_id}]
    assert {m["MetricStat"]["Metric"]["Dimensions"][0]["Value"] for m in wake["Metrics"] if "MetricStat" in m} == \
        set(components(templates))


def test_the_base_rolls_back_on_the_components_alarms_and_each_component_has_its_alarms(templates):
    template = templates[STACK]
    alarms = {r["Properties"]["AlarmName"] for r in resources(template, "AWS::CloudWatch::Alarm").values()}
    for component in ("base", "support", "orders"):
        assert {f"dev-intents-lora-{component}-{s}" for s in ("5xx", "4xx-rate", "latency-p99")} <= alarms
    logical = {k: r["Properties"]["AlarmName"] for k, r in resources(template, "AWS::CloudWatch::Alarm").items()}
    base = components(templates)["dev-intents-lora-base"]["Properties"]
    rollback = [logical[a["AlarmName"]["Ref"]] for a in base["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]]
    assert rollback == ["dev-intents-lora-base-5xx", "dev-intents-lora-base-4xx-rate", "dev-intents-lora-base-latency-p99",
                        "dev-intents-lora-support-5xx", "dev-intents-lora-orders-5xx"]


def test_the_execution_role_reads_only_the_base_models_prefix_and_writes_the_components_logs(templates):
    template = templates[STACK]
    statements = [s for r in resources(template, "AWS::IAM::Policy").values()
                  for s in r["Properties"]["PolicyDocument"]["Statement"]]
    reads = next(s for s in statements if s["Sid"] == "ReadOwnModelWeights")
    assert reads["Resource"] == f"arn:aws:s3:::{BUCKET}/llama-3-2-3b-instruct/*"  # adapters live under it
    logs = next(s for s in statements if s["Sid"] == "WriteOwnComponentLogs")
    assert all("/aws/sagemaker/InferenceComponents/dev-intents-lora-" in str(r) for r in logs["Resource"])


def test_the_other_stacks_of_the_example_are_unchanged_by_component_endpoints(templates):
    assert not any(resources(t, "AWS::SageMaker::InferenceComponent") for name, t in templates.items() if name != STACK)
