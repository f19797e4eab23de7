"""The emulator's CloudFormation (localaws/moto_patches/cloudformation.py, localaws/cfn_resources.py):
stack updates as UpdateEndpoint, the dev stacks deployed by change sets as the CDK CLI does.

Every test drives the simulated clock explicitly (speed 0: it moves only by advance()),
so nothing races the wall clock; each starts and stops its own emulator.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from emulator_helpers import DIGESTS, NO_RETRIES, TIMINGS, package, resolved, reviewed_template, trimmed_template_of
from emulator_helpers import cw, emu, sm  # noqa: F401 (fixtures)
from localaws.emulator import AwsEmulator

pytestmark = pytest.mark.slow  # full tier: starts the emulator (moto server in this process)


# ----- CloudFormation
def trimmed_template(package_arn: str, version: str) -> dict:
    """The reviewed dev-intent-3b template cut to what the SageMaker path needs:
    alarms, model, endpoint config, endpoint (imports and the role replaced by literals)."""
    def edit(resource: dict) -> dict:
        props = resource["Properties"]
        props.pop("AlarmActions", None)
        props.pop("OKActions", None)
        if resource["Type"] == "AWS::SageMaker::EndpointConfig":
            props["DataCaptureConfig"].pop("KmsKeyId")
        for tag in props.get("Tags", []):
            if tag["Key"] == "model-version":
                tag["Value"] = version
        return resource

    return trimmed_template_of("llama-dev-intent-3b", ("AWS::CloudWatch::Alarm", "AWS::SageMaker::Model",
                                                       "AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Endpoint"),
                               package_arn, edit)


@pytest.mark.parametrize("alarm_fires", [False, True])
def test_cloudformation_update_becomes_an_update_endpoint(emu, sm, cw, alarm_fires):
    cfn = emu.test_client("cloudformation", config=NO_RETRIES)
    v1, v2 = package(sm, 1), package(sm, 2)
    cfn.create_stack(StackName="llama-dev-intent-3b", TemplateBody=json.dumps(trimmed_template(v1, "v1")))
    alarms = sorted(a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"])
    assert alarms == sorted(["dev-intent-3b-disk", "dev-intent-3b-4xx-rate", "dev-intent-3b-5xx",
                             "dev-intent-3b-gpu-memory", "dev-intent-3b-latency-p99",
                             "dev-intent-3b-fallback-rate", "dev-intent-3b-shadow-agreement"])  # the client's
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
            deploy_by_change_set(cfn, "llama-dev-artifacts", reviewed_template("llama-dev-artifacts"), "CREATE")
            exports = {e["Name"]: e["Value"] for e in cfn.list_exports()["Exports"]}
            v1 = next(v for k, v in exports.items() if "323binstructv1" in k)
            v2 = next(v for k, v in exports.items() if "323binstructv2" in k)
            assert v1.endswith("model-package/dev-llama-3-2-3b-instruct/1")
            assert sm.describe_model_package(ModelPackageName=v2)["ModelApprovalStatus"] == "Approved"

            template = reviewed_template("llama-dev-intent-3b")
            deploy_by_change_set(cfn, "llama-dev-intent-3b", template, "CREATE")
            described = sm.describe_endpoint(EndpointName="dev-intent-3b")
            assert described["EndpointStatus"] == "Creating"
            digest_v1 = sm.describe_model_package(ModelPackageName=v1)["InferenceSpecification"]["Containers"][0]["ImageDigest"]
            assert resolved(sm, "dev-intent-3b").endswith(digest_v1)
            assert len(cw.describe_alarms(AlarmNamePrefix="dev-intent-3b-")["MetricAlarms"]) == 7  # 5 on the endpoint, 2 on the client's metrics
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
