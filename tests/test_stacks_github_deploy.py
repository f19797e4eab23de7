"""llama-<env>-github-deploy: GitHub OIDC trust of exactly this repository, and only what deploy and promote need.

cfn-lint, cdk-nag and the snapshot cover these templates with the others (test_templates_quality.py).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT, only, resources

from config.github import OIDC_AUDIENCE, OIDC_HOST

pytestmark = pytest.mark.xdist_group("cdk")  # builds stacks in this process: see conftest.py

ENVS = {"dev": "111111111111", "staging": "222222222222", "prod": "333333333333"}
SUBJECTS = {"dev": "repo:example-org/pinned-llama:ref:refs/heads/main",
            "staging": "repo:example-org/pinned-llama:ref:refs/heads/main",
            "prod": "repo:example-org/pinned-llama:environment:prod"}
# Every action the role may take. Adding one must be a reviewed change of this list.
ACTIONS = {
    "sts:AssumeRole", "sts:TagSession",
    "sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint", "sagemaker:DescribeEndpointConfig",
    "sagemaker:DescribeModel", "sagemaker:ListTags", "sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage",
    "sagemaker:ListModelPackages", "cloudwatch:DescribeAlarms",
    "ec2:DescribeSubnets", "ec2:DescribeRouteTables", "ec2:DescribeVpcEndpoints",
    "s3:GetObject", "s3:GetObjectAttributes", "s3:ListBucket", "s3:ListBucketVersions", "s3:GetBucketVersioning",
    "s3:GetBucketObjectLockConfiguration", "s3:GetBucketPolicy", "kms:Decrypt", "ecr:DescribeImages", "ecr:BatchGetImage",
    "cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents", "cloudformation:ListStackResources",
    # promote's quota gate: the account's endpoint-usage quotas and every endpoint's instances
    "servicequotas:ListServiceQuotas", "servicequotas:ListAWSDefaultServiceQuotas", "sagemaker:ListEndpoints",
}


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def deploy_role(template: dict) -> tuple[str, dict]:
    (found,) = [(k, r["Properties"]) for k, r in resources(template, "AWS::IAM::Role").items()
                if r["Properties"].get("RoleName", "").endswith("-github-deploy")]
    return found


def statements(template: dict) -> dict[str, dict]:
    logical, _ = deploy_role(template)
    (policy,) = [r["Properties"]["PolicyDocument"] for r in resources(template, "AWS::IAM::Policy").values()
                 if r["Properties"]["Roles"] == [{"Ref": logical}]]
    return {s["Sid"]: s for s in policy["Statement"]}


@pytest.mark.parametrize("env", ENVS)
def test_the_role_trusts_exactly_this_repository_and_branch_or_environment(templates, env):
    template = templates[f"llama-{env}-github-deploy"]
    _, role = deploy_role(template)
    assert role["RoleName"] == f"llama-{env}-github-deploy"
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Principal"] == {"Federated": {"Ref": next(iter(resources(template, "AWS::IAM::OIDCProvider")))}}
    # StringEquals only: a StringLike with a wildcard would let other branches or forks in.
    assert trust["Condition"] == {"StringEquals": {f"{OIDC_HOST}:aud": OIDC_AUDIENCE,
                                                   f"{OIDC_HOST}:sub": SUBJECTS[env]}}
    provider = only(template, "AWS::IAM::OIDCProvider")["Properties"]
    assert (provider["Url"], provider["ClientIdList"]) == (f"https://{OIDC_HOST}", [OIDC_AUDIENCE])


@pytest.mark.parametrize("env", ENVS)
def test_the_role_may_do_only_the_listed_actions_on_its_own_environment(templates, env):
    account = ENVS[env]
    found = statements(templates[f"llama-{env}-github-deploy"])
    actions = {a for s in found.values() for a in _listed(s["Action"])}
    assert actions == ACTIONS
    assert all(s["Effect"] == "Allow" for s in found.values())
    everything = [r for s in found.values() for r in _listed(s["Resource"])]
    assert [sid for sid, s in found.items() if "*" in _listed(s["Resource"])] == ["ListModelPackages",
                                                                                 "ReadEndpointQuotas",
                                                                                 "ReadVpcReachability"]
    # Only this account's resources, and the AWS images' registry (read-only, pinned repositories).
    others = {a for a in ENVS.values() if a != account}
    assert not any(o in r for r in everything for o in others)
    assert _listed(found["ReadAndSmokeTestEndpoints"]["Resource"]) == [
        f"arn:aws:sagemaker:us-east-1:{account}:endpoint/{name}"
        for name in sorted({"dev": ["dev-intent-1b", "dev-intent-3b"]}.get(env, [f"{env}-intent-3b"]))]
    assert f"model-package/{env}-llama-3-2-3b-instruct/*" in str(found["ReadAndApproveModelPackages"]["Resource"])
    assert _listed(found["ReadEndpointAlarms"]["Resource"])[-1] == \
        f"arn:aws:cloudwatch:us-east-1:{account}:alarm:{env}-intent-3b-*"
    assert found["ReadOwnStacks"]["Resource"] == f"arn:aws:cloudformation:us-east-1:{account}:stack/llama-{env}-*/*"
    assert found["ReadWeightsBucket"]["Resource"] == f"arn:aws:s3:::llama-weights-{env}-{account}-us-east-1"


@pytest.mark.parametrize("env", ENVS)
def test_the_role_assumes_only_the_cdk_bootstrap_roles(templates, env):
    account = ENVS[env]
    found = statements(templates[f"llama-{env}-github-deploy"])["AssumeCdkBootstrapRoles"]
    assert found["Resource"] == [f"arn:aws:iam::{account}:role/cdk-hnb659fds-{role}-role-{account}-us-east-1"
                                 for role in ("deploy", "file-publishing", "image-publishing", "lookup")]


def test_the_key_is_usable_only_through_s3_and_only_if_it_is_the_environment_key(templates):
    found = statements(templates["llama-prod-github-deploy"])["DecryptWeightsThroughS3"]
    assert found["Action"] == "kms:Decrypt"
    assert found["Condition"] == {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"},
                                  "ForAnyValue:StringEquals": {"kms:ResourceAliases": ["alias/llama-prod"]}}
    # The alias the condition names is the one the artifacts stack gives the key.
    alias = only(templates["llama-prod-artifacts"], "AWS::KMS::Alias")["Properties"]["AliasName"]
    assert alias == "alias/llama-prod"


def test_images_readable_are_the_pinned_repositories(templates):
    found = statements(templates["llama-dev-github-deploy"])["ReadPinnedImages"]
    assert found["Resource"] == ["arn:aws:ecr:us-east-1:763104351884:repository/djl-inference",
                                 "arn:aws:ecr:us-east-1:763104351884:repository/huggingface-pytorch-tgi-inference"]


def test_an_account_with_a_provider_already_references_it_instead_of_creating_one(tmp_path):
    from aws_cdk import Environment as StackTarget

    from config.github import DeployTrust, GitHub
    from config.project import load_project
    from stacks.environment_app import new_app
    from stacks.github_deploy_stack import GitHubDeployStack, GitHubDeployStackProps

    project = load_project(ROOT, only_env="staging")
    github = GitHub(repository="example-org/pinned-llama",
                    environments={"staging": DeployTrust(branch="main", create_oidc_provider=False)})
    app = new_app(ROOT, outdir=str(tmp_path))
    stack = GitHubDeployStack(app, "s", GitHubDeployStackProps(
        environment=project.environments["staging"], github=github, pins=list(project.pins.values())),
        env=StackTarget(account="222222222222", region="us-east-1"))
    template = app.synth().get_stack_by_name(stack.stack_name).template
    assert resources(template, "AWS::IAM::OIDCProvider") == {}
    (trust,) = deploy_role(template)[1]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"]["Federated"] == \
        "arn:aws:iam::222222222222:oidc-provider/token.actions.githubusercontent.com"


@pytest.mark.slow  # full tier: the command in a subprocess, as the workflow runs it
@pytest.mark.parametrize("env", ["staging", "prod"])
def test_the_workflow_reads_the_role_arn_the_stack_creates(templates, env):
    """.github/actions/promote asks `python -m scripts deploy-role --env <env>` for the role and region."""
    result = subprocess.run([sys.executable, "-m", "scripts", "deploy-role", "--env", env], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    outputs = dict(line.split("=", 1) for line in result.stdout.splitlines())
    role = deploy_role(templates[f"llama-{env}-github-deploy"])[1]["RoleName"]
    assert outputs == {"role-arn": f"arn:aws:iam::{ENVS[env]}:role/{role}", "region": "us-east-1"}


@pytest.mark.slow  # full tier: the command in a subprocess, as the workflow runs it
def test_the_workflow_helper_refuses_an_environment_without_a_role_in_one_line():
    result = subprocess.run([sys.executable, "-m", "scripts", "deploy-role", "--env", "qa"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == ["error: environments/: (file): no environment named 'qa'; fix: use one of: dev, prod, staging"]
    assert "Traceback" not in result.stderr


# --- optional: an approval in dev's registry starts the promote workflow towards staging -------------


def test_an_approval_in_dev_dispatches_a_promotion_of_the_staging_endpoint_serving_that_model(templates):
    from stacks.constructs.approval_dispatch import DISPATCH_EVENT_TYPE

    template = templates["llama-dev-github-deploy"]
    rule = only(template, "AWS::Events::Rule")["Properties"]
    assert rule["EventPattern"] == {
        "source": ["aws.sagemaker"], "detail-type": ["SageMaker Model Package State Change"],
        "detail": {"ModelPackageGroupName": ["dev-llama-3-2-3b-instruct"], "ModelApprovalStatus": ["Approved"],
                   # only `approve`'s move to Approved: not a later update of an approved package
                   "ApprovalDescription": [{"suffix": "[newly approved]"}]}}
    (target,) = rule["Targets"]
    assert target["InputTransformer"]["InputPathsMap"] == {
        "detail-CustomerMetadataProperties-pin-version": "$.detail.CustomerMetadataProperties.pin-version"}
    payload = target["InputTransformer"]["InputTemplate"].replace("<detail-CustomerMetadataProperties-pin-version>",
                                                                   '"v2"')
    assert json.loads(payload) == {"event_type": DISPATCH_EVENT_TYPE, "client_payload": {
        "environment": "staging", "endpoint": "intent-3b", "version": "v2"}}
    destination = only(template, "AWS::Events::ApiDestination")["Properties"]
    assert destination["InvocationEndpoint"] == "https://api.github.com/repos/example-org/pinned-llama/dispatches"
    assert "AWS::Events::Rule" not in str(templates["llama-staging-github-deploy"])


def test_the_github_token_is_not_in_the_template(templates):
    from stacks.constructs.approval_dispatch import TOKEN_PLACEHOLDER

    auth = only(templates["llama-dev-github-deploy"], "AWS::Events::Connection")["Properties"]["AuthParameters"]
    assert auth["ApiKeyAuthParameters"] == {"ApiKeyName": "Authorization", "ApiKeyValue": TOKEN_PLACEHOLDER}
    assert "ghp_" not in json.dumps(templates["llama-dev-github-deploy"])


def test_the_dispatch_type_is_the_one_the_promote_workflow_listens_for():
    from ruamel.yaml import YAML

    from stacks.constructs.approval_dispatch import DISPATCH_EVENT_TYPE

    workflow = YAML(typ="safe", pure=True).load((ROOT / ".github" / "workflows" / "promote.yml").read_text())
    assert workflow["on"]["repository_dispatch"]["types"] == [DISPATCH_EVENT_TYPE]
