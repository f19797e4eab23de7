"""Endpoint stacks: role, model, blue/green endpoint, autoscaling, alarms, topic, dashboard."""

from __future__ import annotations

from scripts.lib.review_diff import render
from conftest import ROOT, dumps, only, resources

from config.project import load_project

PROJECT = load_project(ROOT)


def endpoint(template):
    return only(template, "AWS::SageMaker::Endpoint")["Properties"]


def variant(template):
    return only(template, "AWS::SageMaker::EndpointConfig")["Properties"]["ProductionVariants"][0]


def alarms_by_name(template):
    return {a["Properties"]["AlarmName"]: a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()}


def test_model_and_config_are_unnamed_so_a_version_change_replaces_them_and_updates_the_endpoint(templates):
    t = templates["llama-prod-intent-3b"]
    assert "ModelName" not in only(t, "AWS::SageMaker::Model")["Properties"]
    assert "EndpointConfigName" not in only(t, "AWS::SageMaker::EndpointConfig")["Properties"]
    assert endpoint(t)["EndpointName"] == "prod-intent-3b"
    assert endpoint(t)["EndpointConfigName"] == {"Fn::GetAtt": [next(iter(resources(t, "AWS::SageMaker::EndpointConfig"))), "EndpointConfigName"]}


def test_model_is_built_from_the_live_versions_registry_package_isolated_and_in_the_vpc(templates):
    t = templates["llama-prod-intent-3b"]
    model = only(t, "AWS::SageMaker::Model")["Properties"]
    assert "ImportValue" in dumps(model["PrimaryContainer"]["ModelPackageName"])
    assert "Packagellama323binstructv1" in dumps(model["PrimaryContainer"]["ModelPackageName"])
    assert model["EnableNetworkIsolation"] is True
    assert model["VpcConfig"]["Subnets"] == PROJECT.environments["prod"].endpoints["intent-3b"].network.subnet_ids
    assert "VpcConfig" not in only(templates["llama-dev-intent-3b"], "AWS::SageMaker::Model")["Properties"]


def test_endpoint_config_is_g5_with_llm_timeouts_and_no_kms_or_volume_on_local_nvme(templates):
    t = templates["llama-prod-intent-3b"]
    config = only(t, "AWS::SageMaker::EndpointConfig")["Properties"]
    v = variant(t)
    assert v["InstanceType"] == "ml.g5.2xlarge" and v["InitialInstanceCount"] == 2 and v["VariantName"] == "primary"
    assert v["ContainerStartupHealthCheckTimeoutInSeconds"] == 1800
    assert v["ModelDataDownloadTimeoutInSeconds"] == 1800
    assert "VolumeSizeInGB" not in v
    assert "KmsKeyId" not in config  # CreateEndpointConfig rejects it for local-storage g5
    capture = config["DataCaptureConfig"]
    assert capture["InitialSamplingPercentage"] == 10 and "KmsKeyId" in capture
    assert capture["DestinationS3Uri"] == f"s3://{PROJECT.environments['prod'].capture_bucket_name}/prod-intent-3b/"


def test_deployment_config_matches_each_environments_strategy(templates):
    prod = endpoint(templates["llama-prod-intent-3b"])["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert prod["TrafficRoutingConfiguration"] == {"Type": "CANARY", "WaitIntervalInSeconds": 600,
                                                   "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1}}
    assert prod["TerminationWaitInSeconds"] == 900 and prod["MaximumExecutionTimeoutInSeconds"] == 5400
    staging = endpoint(templates["llama-staging-intent-3b"])["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert staging["TrafficRoutingConfiguration"]["CanarySize"] == {"Type": "CAPACITY_PERCENT", "Value": 50}
    dev = endpoint(templates["llama-dev-intent-3b"])["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert dev["TrafficRoutingConfiguration"] == {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 120}


def test_endpoint_rolls_back_on_its_own_error_and_latency_alarms_and_keeps_scaled_capacity(templates):
    t = templates["llama-prod-intent-3b"]
    e = endpoint(t)
    logical = {k: a["Properties"]["AlarmName"] for k, a in resources(t, "AWS::CloudWatch::Alarm").items()}
    rollback = [logical[a["AlarmName"]["Ref"]] for a in e["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]]
    assert rollback == ["prod-intent-3b-5xx", "prod-intent-3b-4xx-rate", "prod-intent-3b-latency-p99"]
    assert e["RetainAllVariantProperties"] is True
    assert e["ExcludeRetainedVariantProperties"] == [{"VariantPropertyType": "DataCaptureConfig"}]


def test_autoscaling_targets_the_variant_after_the_endpoint_exists(templates):
    t = templates["llama-prod-intent-3b"]
    (target_id, target), = resources(t, "AWS::ApplicationAutoScaling::ScalableTarget").items()
    p = target["Properties"]
    assert p["ResourceId"] == "endpoint/prod-intent-3b/variant/primary"
    assert p["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert (p["MinCapacity"], p["MaxCapacity"]) == (2, 8)
    assert next(iter(resources(t, "AWS::SageMaker::Endpoint"))) in target["DependsOn"]
    assert "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint" in dumps(p["RoleARN"])
    policy = only(t, "AWS::ApplicationAutoScaling::ScalingPolicy")["Properties"]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == \
        "SageMakerVariantConcurrentRequestsPerModelHighResolution"
    assert tracking["TargetValue"] == 8 and tracking["ScaleInCooldown"] == 900
    dev_1b = only(templates["llama-dev-intent-1b"], "AWS::ApplicationAutoScaling::ScalingPolicy")["Properties"]
    assert dev_1b["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"][
        "PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"


def test_alarm_thresholds_use_sagemakers_units(templates):
    alarms = alarms_by_name(templates["llama-prod-intent-3b"])
    latency = alarms["prod-intent-3b-latency-p99"]
    assert latency["MetricName"] == "ModelLatency" and latency["ExtendedStatistic"] == "p99"
    assert latency["Threshold"] == 3000 * 1000  # config ms -> CloudWatch microseconds
    gpu = alarms["prod-intent-3b-gpu-memory"]
    assert gpu["Namespace"] == "/aws/sagemaker/Endpoints" and gpu["Threshold"] == 95  # 1 GPU on g5.2xlarge
    assert alarms["prod-intent-3b-5xx"]["Threshold"] == 3
    rate = alarms["prod-intent-3b-4xx-rate"]
    assert rate["Threshold"] == 2 and any("Expression" in m for m in rate["Metrics"])
    assert alarms["prod-intent-3b-disk"]["Threshold"] == 85
    for props in alarms.values():
        dims = {d["Name"]: d["Value"] for d in props.get("Dimensions", [])}
        if dims and props["Namespace"] != "PinnedLlama/Client":  # the client's alarms: test_stacks_client.py
            assert dims == {"EndpointName": "prod-intent-3b", "VariantName": "primary"}


def test_only_production_has_a_no_traffic_alarm_that_treats_silence_as_breaching(templates):
    prod = alarms_by_name(templates["llama-prod-intent-3b"])["prod-intent-3b-no-traffic"]
    assert prod["ComparisonOperator"] == "LessThanThreshold" and prod["TreatMissingData"] == "breaching"
    assert prod["EvaluationPeriods"] == 30
    for name in ("llama-dev-intent-3b", "llama-staging-intent-3b"):
        assert not any(n.endswith("no-traffic") for n in alarms_by_name(templates[name]))


def test_every_alarm_notifies_the_encrypted_topic(templates):
    t = templates["llama-prod-intent-3b"]
    (topic_id, topic), = resources(t, "AWS::SNS::Topic").items()
    assert "KmsMasterKeyId" in topic["Properties"]
    for props in alarms_by_name(t).values():
        assert props["AlarmActions"] == [{"Ref": topic_id}] and props["OKActions"] == [{"Ref": topic_id}]
    subscriptions = [s["Properties"] for s in resources(t, "AWS::SNS::Subscription").values()]
    assert [s["Endpoint"] for s in subscriptions] == ["ml-platform-oncall@example.com"]
    policy = dumps(only(t, "AWS::SNS::TopicPolicy")["Properties"])
    assert '"aws:SecureTransport": "false"' in policy


def test_execution_role_is_least_privilege(templates):
    t = templates["llama-prod-intent-3b"]
    role = only(t, "AWS::IAM::Role")["Properties"] if len(resources(t, "AWS::IAM::Role")) == 1 else None
    assert role is not None, "the endpoint stack creates exactly one role: the execution role"
    assert "ManagedPolicyArns" not in role and "Policies" not in role
    statements = only(t, "AWS::IAM::Policy")["Properties"]["PolicyDocument"]["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    for s in statements:
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        assert all("*" not in a for a in actions), f"wildcard action in {s['Sid']}"
    bucket = PROJECT.environments["prod"].weights_bucket_name
    assert by_sid["ReadOwnModelWeights"]["Resource"] == f"arn:aws:s3:::{bucket}/llama-3-2-3b-instruct/*"
    assert by_sid["ListOwnModelWeights"]["Condition"] == {"StringLike": {"s3:prefix": ["llama-3-2-3b-instruct/*"]}}
    assert by_sid["PullOwnImage"]["Resource"] == "arn:aws:ecr:us-east-1:763104351884:repository/djl-inference"
    assert "ImportValue" in dumps(by_sid["UseEnvironmentKey"]["Resource"])
    star = [s["Sid"] for s in statements if s["Resource"] == "*"]
    assert sorted(star) == ["DescribeVpc", "EcrLogin", "PublishEndpointMetrics"]
    assert by_sid["PublishEndpointMetrics"]["Condition"] == {
        "StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/Endpoints", "/aws/sagemaker/Endpoints/*"]}}
    # the rollback alarms SageMaker reads with this role, by ARN, and no other alarm
    assert sorted(by_sid["ReadOwnRollbackAlarms"]["Resource"]) == sorted(
        f"arn:aws:cloudwatch:us-east-1:333333333333:alarm:prod-intent-3b-{s}" for s in ("5xx", "4xx-rate", "latency-p99"))
    # logs on the log group itself (CreateLogGroup, DescribeLogStreams) and on its streams (aws/aws-cdk#7096)
    group = "arn:aws:logs:us-east-1:333333333333:log-group:/aws/sagemaker/Endpoints/prod-intent-3b"
    assert [render(r) for r in by_sid["WriteOwnLogs"]["Resource"]] == [group, group + ":*"]
    # ENIs only in the endpoint's own subnets and security groups
    subnets = [f"arn:aws:ec2:us-east-1:333333333333:subnet/{s}" for s in ("subnet-0a1b2c3d4e5f60718",
                                                                          "subnet-0b2c3d4e5f6071829")]
    assert sorted(render(r) for r in by_sid["CreateEnisInOwnSubnets"]["Resource"]) == sorted([
        "arn:aws:ec2:us-east-1:333333333333:network-interface/*", *subnets,
        "arn:aws:ec2:us-east-1:333333333333:security-group/sg-0c3d4e5f60718293a"])
    assert {render(k): v for k, v in by_sid["ManageEnisInOwnSubnets"]["Condition"]["ArnEquals"].items()} == {
        "ec2:Subnet": subnets}
    dev = {s["Sid"] for s in only(templates["llama-dev-intent-1b"], "AWS::IAM::Policy")["Properties"]["PolicyDocument"]["Statement"]}
    assert not {"CreateEnisInOwnSubnets", "ManageEnisInOwnSubnets", "DescribeVpc"} & dev


def test_only_sagemaker_in_this_account_may_assume_the_execution_role(templates):
    role = only(templates["llama-prod-intent-3b"], "AWS::IAM::Role")["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "333333333333"}}
    tgi = {s["Sid"]: s for s in only(templates["llama-dev-intent-1b"], "AWS::IAM::Policy")["Properties"]["PolicyDocument"]["Statement"]}
    assert tgi["PullOwnImage"]["Resource"].endswith(":repository/huggingface-pytorch-tgi-inference")


def test_model_waits_for_its_role_policy(templates):
    t = templates["llama-prod-intent-3b"]
    (model_id, model), = resources(t, "AWS::SageMaker::Model").items()
    assert next(iter(resources(t, "AWS::IAM::Policy"))) in model["DependsOn"]


def test_everything_is_tagged_for_cost_allocation(templates):
    t = templates["llama-prod-intent-3b"]
    for kind in ("AWS::SageMaker::Endpoint", "AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Model",
                 "AWS::IAM::Role", "AWS::SNS::Topic", "AWS::CloudWatch::Alarm"):
        for r in resources(t, kind).values():
            tags = {x["Key"]: x["Value"] for x in r["Properties"].get("Tags", [])}
            assert {"environment": "prod", "model": "llama-3-2-3b-instruct", "model-version": "v1",
                    "endpoint": "prod-intent-3b"}.items() <= tags.items(), kind


def test_outputs_name_what_is_deployed(templates):
    outputs = {k: v["Value"] for k, v in templates["llama-staging-intent-3b"]["Outputs"].items()}
    pin = PROJECT.pins[("llama-3-2-3b-instruct", "v1")]
    assert outputs["ModelVersion"] == "v1" and outputs["Image"] == pin.container.images["us-east-1"]
    assert outputs["ManifestSha256"] == pin.manifest_sha256


def test_dashboard_shows_the_endpoints_metrics(templates):
    body = dumps(only(templates["llama-prod-intent-3b"], "AWS::CloudWatch::Dashboard")["Properties"])
    for metric in ("ModelLatency", "Invocation5XXErrors", "GPUMemoryUtilization", "ConcurrentRequestsPerModel"):
        assert metric in body
