"""The gates and verdicts that read AWS, on answers checked against botocore's service models
(Stubber): the endpoint-usage quota (Service Quotas + the account's endpoints), which alarms gate,
a deployment in flight in CloudFormation, a stack whose endpoint config is not the one serving,
and how a watch ends when the CLI lost a race with another deployment."""

from __future__ import annotations

import datetime

import boto3
import pytest
from botocore.stub import Stubber

from config import naming
from config.project import load_project
from conftest import ROOT
from scripts.lib.output import Output
from scripts.promotion import capacity, gates
from scripts.promotion import stack as stacks
from scripts.promotion.live import Deployed, EndpointState
from scripts.promotion.stack import StackState
from scripts.promotion.watch import DEPLOY_FAILED, IN_FLIGHT, PROMOTED, ROLLED_BACK, _decide

NOW = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
QUOTA = "ml.g5.xlarge for endpoint usage"


def stubbed(service: str):
    client = boto3.client(service, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    return client, Stubber(client)


@pytest.fixture(scope="module")
def endpoint():
    return load_project(ROOT, "dev").environments["dev"].endpoints["intent-3b"]  # ml.g5.xlarge, 1 instance


def account_with(sm: Stubber, endpoints: dict[str, tuple[str, int]], denied: tuple[str, ...] = ()) -> None:
    """ListEndpoints -> DescribeEndpoint -> DescribeEndpointConfig for {name: (instance type, count)};
    DescribeEndpoint of the `denied` ones answers AccessDeniedException."""
    sm.add_response("list_endpoints", {"Endpoints": [
        {"EndpointName": n, "EndpointArn": f"arn:aws:sagemaker:us-east-1:1:endpoint/{n}", "CreationTime": NOW,
         "LastModifiedTime": NOW, "EndpointStatus": "InService"} for n in [*endpoints, *denied]]}, {})
    for name, (instance_type, count) in endpoints.items():
        sm.add_response("describe_endpoint", {
            "EndpointName": name, "EndpointArn": f"arn:aws:sagemaker:us-east-1:1:endpoint/{name}",
            "EndpointConfigName": f"{name}-config", "EndpointStatus": "InService", "CreationTime": NOW,
            "LastModifiedTime": NOW, "ProductionVariants": [
                {"VariantName": "primary", "CurrentInstanceCount": count, "DesiredInstanceCount": count}]},
            {"EndpointName": name})
        sm.add_response("describe_endpoint_config", {
            "EndpointConfigName": f"{name}-config", "EndpointConfigArn": f"arn:aws:sagemaker:us-east-1:1:endpoint-config/{name}-config",
            "CreationTime": NOW, "ProductionVariants": [
                {"VariantName": "primary", "ModelName": "m", "InstanceType": instance_type, "InitialInstanceCount": count}]},
            {"EndpointConfigName": f"{name}-config"})
    for name in denied:
        sm.add_client_error("describe_endpoint", "AccessDeniedException", "not yours", 400,
                            expected_params={"EndpointName": name})


def quota(value: float, name: str = QUOTA, **extra) -> dict:
    return {"ServiceCode": "sagemaker", "QuotaCode": "L-1234ABCD", "QuotaName": name, "Value": value, **extra}


def run_gate(endpoint, endpoints, quota_answers, live_count=1):
    sagemaker, sm = stubbed("sagemaker")
    quotas, sq = stubbed("service-quotas")
    account_with(sm, endpoints)
    for operation, answer in quota_answers:
        if isinstance(answer, str):
            sq.add_client_error(operation, service_error_code=answer, service_message="denied")
        else:
            sq.add_response(operation, answer, {"ServiceCode": "sagemaker"})
    with sm, sq:
        return capacity.quota_gate(quotas, sagemaker, endpoint, live_count)


def test_quota_gate_passes_when_both_fleets_fit(endpoint):
    gate = run_gate(endpoint, {"dev-intent-3b": ("ml.g5.xlarge", 1), "other": ("ml.g5.2xlarge", 4)},
                    [("list_service_quotas", {"Quotas": [quota(8, "ml.g5.2xlarge for endpoint usage"), quota(2)]})])
    assert gate.result == gates.PASS
    assert "ml.g5.xlarge for endpoint usage (L-1234ABCD) 2: in use 1 (dev-intent-3b 1) + new fleet 1 = 2" in gate.detail


def test_quota_gate_refuses_with_the_numbers_when_the_new_fleet_does_not_fit(endpoint):
    gate = run_gate(endpoint, {"dev-intent-3b": ("ml.g5.xlarge", 3), "batch": ("ml.g5.xlarge", 2)},
                    [("list_service_quotas", {"Quotas": [quota(6)]})], live_count=3)
    assert gate.result == gates.FAIL
    assert "6: in use 5 (batch 2, dev-intent-3b 3) + new fleet 3 = 8" in gate.detail
    assert "both fleets" in gate.detail and "Service Quotas" in gate.fix


def test_a_quota_never_raised_is_read_from_the_aws_defaults(endpoint):
    """ListServiceQuotas leaves out quotas with no applied value (API reference)."""
    gate = run_gate(endpoint, {"dev-intent-3b": ("ml.g5.xlarge", 1)},
                    [("list_service_quotas", {"Quotas": []}),
                     ("list_aws_default_service_quotas", {"Quotas": [quota(1)]})])
    assert gate.result == gates.FAIL and "AWS default" in gate.detail and "= 2" in gate.detail


@pytest.mark.parametrize("answers, said", [
    ([("list_service_quotas", "AccessDeniedException")], "AccessDeniedException"),
    ([("list_service_quotas", {"Quotas": [quota(4, ErrorReason={"ErrorCode": "DEPENDENCY_ACCESS_DENIED_ERROR",
                                                                "ErrorMessage": "no access"})]})],
     "DEPENDENCY_ACCESS_DENIED_ERROR"),
    ([("list_service_quotas", {"Quotas": []}), ("list_aws_default_service_quotas", {"Quotas": []})],
     f"no quota named '{QUOTA}'"),
])
def test_an_unreadable_quota_is_unknown_never_pass(endpoint, answers, said):
    gate = run_gate(endpoint, {"dev-intent-3b": ("ml.g5.xlarge", 1)}, answers)
    assert gate.result == gates.UNKNOWN and said in gate.detail and "in use 1" in gate.detail
    assert gate.row()[1] == "UNKNOWN"


def test_endpoints_the_role_may_not_describe_make_the_count_a_lower_bound(endpoint):
    sagemaker, sm = stubbed("sagemaker")
    quotas, sq = stubbed("service-quotas")
    account_with(sm, {"dev-intent-3b": ("ml.g5.xlarge", 1)}, denied=("team-b",))
    sq.add_response("list_service_quotas", {"Quotas": [quota(4)]}, {"ServiceCode": "sagemaker"})
    with sm, sq:
        gate = capacity.quota_gate(quotas, sagemaker, endpoint, 1)
    assert gate.result == gates.UNKNOWN and "at least" in gate.detail and "team-b" in gate.detail


def test_a_shadow_variant_needs_its_own_new_fleet(endpoint):
    shadowed = endpoint.model_copy(update={"shadow_version": "v2"})
    assert capacity.new_fleets(shadowed, 3) == {"ml.g5.xlarge": 6}
    assert capacity.new_fleets(endpoint, None) == {"ml.g5.xlarge": endpoint.instances.initial}


# ----- alarms (12.8)
def test_only_rollback_alarms_refuse_and_the_others_are_listed_as_ignored():
    rollback = naming.rollback_alarms("prod-e")
    refused = gates.no_alarms(["prod-e-5xx", "prod-e-no-traffic"], rollback)
    assert refused.result == gates.FAIL and "prod-e-5xx" in refused.detail
    assert "ignored (notify only): prod-e-no-traffic" in refused.detail
    quiet_hours = gates.no_alarms(["prod-e-no-traffic", "prod-e-gpu-memory"], rollback)
    assert quiet_hours.result == gates.PASS
    assert "ignored (notify only): prod-e-no-traffic, prod-e-gpu-memory" in quiet_hours.detail


def test_the_gating_alarms_are_the_ones_the_endpoint_rolls_back_on(templates):
    """naming.rollback_alarms is what every synthesized endpoint's AutoRollbackConfiguration names."""
    checked = 0
    for template in templates.values():
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::SageMaker::Endpoint" or "DeploymentConfig" not in resource["Properties"]:
                continue  # a component endpoint rolls back on its base component's update (test_stacks_components)
            name = resource["Properties"]["EndpointName"]
            alarms = resource["Properties"]["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
            names = [template["Resources"][a["AlarmName"]["Ref"]]["Properties"]["AlarmName"]
                     if isinstance(a["AlarmName"], dict) else a["AlarmName"] for a in alarms]
            assert sorted(names) == sorted(naming.rollback_alarms(name))
            checked += 1
    assert checked >= 3


# ----- CloudFormation: in flight (item 1), deployed config (12.11)
def live(config="cfg-b", version="v1", status="InService", pending=None) -> EndpointState:
    return EndpointState("dev-e", True, status, None, Deployed(config, version, config_arn=f"arn:x:endpoint-config/{config}"),
                         Deployed("cfg-c", pending) if pending else None)


def test_stack_read_names_status_deployed_config_and_version():
    cloudformation, cf = stubbed("cloudformation")
    cf.add_response("describe_stacks", {"Stacks": [{
        "StackName": "llama-dev-e", "CreationTime": NOW, "StackStatus": "UPDATE_IN_PROGRESS",
        "Outputs": [{"OutputKey": "ModelVersion", "OutputValue": "v2"}]}]}, {"StackName": "llama-dev-e"})
    cf.add_response("list_stack_resources", {"StackResourceSummaries": [
        {"LogicalResourceId": "Config", "PhysicalResourceId": "arn:aws:sagemaker:us-east-1:1:endpoint-config/cfg-c",
         "ResourceType": "AWS::SageMaker::EndpointConfig", "LastUpdatedTimestamp": NOW,
         "ResourceStatus": "UPDATE_COMPLETE"}]}, {"StackName": "llama-dev-e"})
    with cf:
        state = stacks.read(cloudformation, "llama-dev-e")
    assert (state.in_progress, state.version, state.deployed("CFG-C"), state.deployed("cfg-b")) == \
        (True, "v2", True, False)


def test_a_stack_in_progress_is_a_deployment_in_flight_even_with_nothing_pending():
    stack = StackState("llama-dev-e", True, "UPDATE_IN_PROGRESS", endpoint_config="arn:x:endpoint-config/cfg-b")
    in_flight = next(g for g in gates.endpoint_ready(live(), stack, "v1", False) if g.name == "in-flight")
    assert in_flight.result == gates.FAIL and "UPDATE_IN_PROGRESS" in in_flight.detail
    settled = StackState("llama-dev-e", True, "UPDATE_COMPLETE", endpoint_config="arn:x:endpoint-config/cfg-b")
    assert next(g for g in gates.endpoint_ready(live(), settled, "v1", False) if g.name == "in-flight").result == gates.PASS


def test_a_stack_that_deployed_another_config_than_the_one_serving_is_reported():
    rolled_back = StackState("llama-dev-e", True, "UPDATE_COMPLETE", endpoint_config="arn:x:endpoint-config/cfg-c",
                             version="v2")
    same_again = gates.stack_matches(live(), rolled_back, "v2")
    assert same_again.result == gates.FAIL and "would change nothing" in same_again.detail
    assert "rollback --to v1" in same_again.fix
    assert gates.stack_matches(live(), rolled_back, "v3").result == gates.PASS


@pytest.mark.parametrize("tail", [
    "❌ llama-dev-e failed: ChangeSetNotFoundException: ChangeSet [cdk-deploy-change-set] does not exist",
    "ValidationError: Stack:arn:aws:cloudformation:us-east-1:1:stack/llama-dev-e/x is in UPDATE_IN_PROGRESS "
    "state and can not be updated.",
])
def test_a_cli_that_lost_a_race_with_another_deployment_is_in_flight(tail):
    """Item 9: two checkouts: the second CLI's failure is exit 4, not a failed deployment."""
    outcome = _decide(live(version="v2"), "v2", 1, ["Updating", "InService"], lambda: tail)
    assert outcome.kind == IN_FLIGHT and "another deployment" in outcome.reason


def test_a_sagemaker_rollback_after_cloudformation_success_is_rolled_back_not_promoted():
    stack = StackState("llama-dev-e", True, "UPDATE_COMPLETE", endpoint_config="arn:x:endpoint-config/cfg-c")
    outcome = _decide(live(version="v1"), "v2", 0, ["Updating", "InService"], lambda: "", stack)
    assert outcome.kind == ROLLED_BACK and "after CloudFormation reported success" in outcome.reason
    assert _decide(live("cfg-c", "v2"), "v2", 0, ["InService"], lambda: "", stack).kind == PROMOTED
    assert _decide(live(version="v1"), "v2", 1, [], lambda: "Internal failure", None).kind == DEPLOY_FAILED


def test_gate_table_never_cuts_the_key_column_and_goes_to_blocks_when_narrow():
    from rich.console import Console

    out = Output(json_mode=False)
    out.console = Console(width=100, record=True, highlight=False, soft_wrap=True)
    rows = [["dev-intent-3b", "v2", "promote v1→v2 promoted (2025-01-01T00:00Z) " * 2],
            ["dev-intent-1b", "v1", "-"]]
    out.table("status", ["endpoint", "config", "last promotion"], rows, key_column=True)
    text = out.console.export_text()
    assert "dev-intent-3b\n" in text and "dev-intent-1b\n" in text and "…" not in text
    assert "  last promotion: promote v1→v2" in text
    out.console = Console(width=200, record=True, highlight=False, soft_wrap=True)
    out.table("status", ["endpoint", "config", "last promotion"], rows, key_column=True)
    assert "│ dev-intent-3b │" in out.console.export_text()
