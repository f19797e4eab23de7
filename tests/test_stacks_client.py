"""What the stacks deploy for the application client: the routing stack and its parameter, the
serving parameter, the alarms on the client's metrics, the dashboard row, the application policy;
and the `routing` block's validation."""

from __future__ import annotations

import json

import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import App, Stack, assertions, aws_iam as iam

from conftest import resources
from pinned_llama_client.settings import Routing, Settings
from stacks.constructs.application_access import ApplicationAccess, ApplicationAccessProps

pytestmark = pytest.mark.xdist_group("cdk")  # builds stacks in this process: see conftest.py


def parameter(template: dict, name: str) -> dict:
    found = [r["Properties"] for r in resources(template, "AWS::SSM::Parameter").values()
             if r["Properties"]["Name"] == name]
    assert len(found) == 1, name
    return found[0]


def test_the_routing_stack_holds_only_the_routing_parameter(templates):
    template = templates["llama-dev-intent-3b-routing"]
    assert {r["Type"] for r in template["Resources"].values()} == {"AWS::SSM::Parameter"}
    props = parameter(template, "/llama/dev/intent-3b/routing")
    assert (props["Type"], props["Tier"]) == ("String", "Standard")
    assert Routing.from_document(json.loads(props["Value"])) == Routing()  # mode api, as configured


def test_the_serving_parameter_says_how_to_ask_the_live_version(templates):
    props = parameter(templates["llama-dev-intent-3b"], "/llama/dev/intent-3b/serving")
    routing = parameter(templates["llama-dev-intent-3b-routing"], "/llama/dev/intent-3b/routing")
    settings = Settings.from_parameters(routing["Value"], props["Value"], "template")  # what the client parses
    serving = settings.serving
    assert (serving.endpoint_name, serving.version, serving.route.value, serving.max_new_tokens) == \
        ("dev-intent-3b", "v1", "chat", 12)
    assert serving.throttle_statuses == frozenset({503}) and "cancel_order" in serving.labels
    assert len(props["Value"]) < 4096  # a standard parameter


def test_client_alarms_watch_the_fallback_rate_and_shadow_agreement(templates):
    alarms = {r["Properties"]["AlarmName"]: r["Properties"]
              for r in resources(templates["llama-dev-intent-3b"], "AWS::CloudWatch::Alarm").values()}
    fallback, agreement = alarms["dev-intent-3b-fallback-rate"], alarms["dev-intent-3b-shadow-agreement"]
    for props in (fallback, agreement):
        assert props["Namespace"] == "PinnedLlama/Client" and props["Statistic"] == "Average"
        assert props["Dimensions"] == [{"Name": "Endpoint", "Value": "dev-intent-3b"}]
        assert props["EvaluationPeriods"] == props["DatapointsToAlarm"] == 2  # dev.yaml's evaluation_minutes
        assert props["TreatMissingData"] == "notBreaching" and props["AlarmActions"]
    assert (fallback["MetricName"], fallback["Threshold"], fallback["ComparisonOperator"]) == \
        ("Fallback", 0.05, "GreaterThanThreshold")
    assert (agreement["MetricName"], agreement["Threshold"], agreement["ComparisonOperator"]) == \
        ("ShadowAgreement", 0.9, "LessThanThreshold")
    prod = {r["Properties"]["AlarmName"] for r in resources(templates["llama-prod-intent-3b"],
                                                             "AWS::CloudWatch::Alarm").values()}
    assert "prod-intent-3b-fallback-rate" in prod


def test_the_dashboard_has_the_clients_row(templates):
    (dashboard,) = resources(templates["llama-dev-intent-3b"], "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for title in ("Client: answered by (Route)", "Client: fallbacks by reason", "Client: latency per route (ms)",
                  "Client: fallback rate and shadow agreement (0-1)"):
        assert title in body
    assert "ClientAlarmsFallbackRate" in body  # the alarm status widget names its ARN


def test_the_application_policy_grants_exactly_what_the_client_uses(templates):
    (policy,) = resources(templates["llama-dev-intent-3b"], "AWS::IAM::ManagedPolicy").values()
    props = policy["Properties"]
    assert props["ManagedPolicyName"] == "llama-dev-intent-3b-client"
    statements = {s["Sid"]: s for s in props["PolicyDocument"]["Statement"]}
    assert statements["InvokeEndpoint"]["Action"] == "sagemaker:InvokeEndpoint"
    assert statements["InvokeEndpoint"]["Resource"] == \
        "arn:aws:sagemaker:us-east-1:111111111111:endpoint/dev-intent-3b"
    assert statements["ReadRouting"]["Action"] == "ssm:GetParameters"
    assert statements["ReadRouting"]["Resource"] == [
        "arn:aws:ssm:us-east-1:111111111111:parameter/llama/dev/intent-3b/routing",
        "arn:aws:ssm:us-east-1:111111111111:parameter/llama/dev/intent-3b/serving"]
    assert statements["SendMetrics"]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    (group,) = resources(templates["llama-dev-intent-3b"], "AWS::Logs::LogGroup").values()
    assert group["Properties"]["LogGroupName"] == "/llama/dev/intent-3b/client"
    # a year and the environment key: AWS Control Tower's CT.CLOUDWATCH.PR.2 and PR.3
    assert group["Properties"]["RetentionInDays"] == 365
    assert "Fn::ImportValue" in group["Properties"]["KmsKeyId"]


def test_grant_use_attaches_the_policy_to_an_application_role():
    stack = Stack(App(), "S", env={"account": "111111111111", "region": "us-east-1"})
    access = ApplicationAccess(stack, "Access", ApplicationAccessProps(
        endpoint_name="dev-e", parameter_names=("/llama/dev/e/routing", "/llama/dev/e/serving"),
        log_group_name="/llama/dev/e/client", policy_name="llama-dev-e-client", kms_key=kms.Key(stack, "Key")))
    role = iam.Role(stack, "App", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))
    access.grant_use(role)
    template = assertions.Template.from_stack(stack)
    template.has_resource_properties("AWS::IAM::ManagedPolicy", {
        "ManagedPolicyName": "llama-dev-e-client",
        "Roles": [{"Ref": assertions.Match.string_like_regexp("App")}]})


@pytest.mark.parametrize("routing, evaluation, message", [
    ({"mode": "shadow"}, False, "routing.mode: routing.mode shadow needs the evaluation block"),
    ({"mode": "canary", "canary_percent": 100}, True, "routing.canary_percent"),
    ({"mode": "sometimes"}, True, "routing.mode"),
    ({"mode": "llama", "timeout_ms": 61000}, True, "routing.timeout_ms"),
])
def test_an_invalid_routing_block_is_refused(repo_copy, routing, evaluation, message):
    from config.errors import SpecErrors
    from config.project import load_project
    from ruamel.yaml import YAML

    path = repo_copy / "environments" / "dev.yaml"
    yaml = YAML()
    data = yaml.load(path.read_text())
    endpoint = data["endpoints"]["intent-1b"]
    endpoint["routing"] = routing
    if not evaluation:
        del endpoint["evaluation"]
        del endpoint["smoke_test"]
    with path.open("w") as handle:
        yaml.dump(data, handle)
    with pytest.raises(SpecErrors) as failure:
        load_project(repo_copy, only_env="dev")
    assert any(message in str(e) for e in failure.value.errors), [str(e) for e in failure.value.errors]


def test_an_endpoint_key_that_would_take_a_routing_stacks_name_is_refused(repo_copy):
    from config.errors import SpecErrors
    from config.project import load_project

    path = repo_copy / "environments" / "dev.yaml"
    path.write_text(path.read_text().replace("  intent-1b:", "  intent-3b-routing:"))
    with pytest.raises(SpecErrors) as failure:
        load_project(repo_copy, only_env="dev")
    assert any("ends in '-routing'" in str(e) for e in failure.value.errors)


