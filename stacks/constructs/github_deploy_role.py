"""GitHubDeployRole: what a GitHub Actions job may do in one environment's account, and nothing else.

Trust: GitHub OIDC tokens for AWS (`aud`) of exactly one repository and branch or GitHub
environment (`sub`), both StringEquals. Permissions: assume the CDK bootstrap roles
(CloudFormation does the deploying with those), and read or approve exactly what
`promote`, `status` and `verify` touch: this environment's endpoints, registry groups,
alarms, weights bucket and key, pinned image repositories and stacks.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, Stack, aws_iam as iam
from constructs import Construct

from config.github import OIDC_AUDIENCE, OIDC_HOST
from stacks.constructs.nag import suppress

# `cdk bootstrap`'s default qualifier; its roles trust the account, so an IAM allow here suffices.
BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_ROLES = ("deploy", "file-publishing", "image-publishing", "lookup")
# A promotion watches a blue/green deployment (canary wait + baking); the workflow's job
# timeout and role-duration-seconds match this.
SESSION_HOURS = 3


@dataclass(frozen=True)
class GitHubDeployRoleProps:
    role_name: str
    provider_arn: str
    subject: str  # the exact OIDC sub claim: repo:<owner>/<name>:ref:refs/heads/<branch> or :environment:<name>
    endpoint_names: tuple[str, ...]  # <env>-<endpoint>
    package_groups: tuple[str, ...]  # <env>-<model>
    weights_bucket_name: str
    key_alias: str  # alias/llama-<env>
    images: tuple[tuple[str, str], ...]  # (registry account, repository) of every pinned image
    stack_prefix: str  # llama-<env>-


class GitHubDeployRole(Construct):
    def __init__(self, scope: Construct, id: str, props: GitHubDeployRoleProps):
        super().__init__(scope, id)
        stack = Stack.of(self)
        region, account = stack.region, stack.account
        arn = f"arn:{stack.partition}"
        here = f"{region}:{account}"
        sagemaker = f"{arn}:sagemaker:{here}"
        bucket = f"{arn}:s3:::{props.weights_bucket_name}"
        stacks = f"{arn}:cloudformation:{here}:stack/{props.stack_prefix}*/*"
        packages = [f"{sagemaker}:model-package/{group}/*" for group in props.package_groups]
        alarms = [f"{arn}:cloudwatch:{here}:alarm:{name}-*" for name in props.endpoint_names]
        keys = f"{arn}:kms:{here}:key/*"
        # Every wildcard, with why it cannot be narrower (acknowledged to cdk-nag by its exact text).
        wildcards = {
            f"{sagemaker}:endpoint-config/*": "endpoint configs are named by CloudFormation (create-only "
                                              "properties: a fixed name would break replacement); read-only",
            f"{sagemaker}:model/*": "models are named by CloudFormation (create-only properties: a fixed name "
                                    "would break replacement); read-only",
            f"{bucket}/*": "weight files of every pinned version of this environment's bucket, read-only",
            stacks: "this environment's own stacks (llama-<env>-*); the stack id suffix is assigned by "
                    "CloudFormation; read-only",
            keys: "the environment key is found by its alias (kms:ResourceAliases) and used only through S3 "
                  "(kms:ViaService): its key id is not known before the artifacts stack exists",
            "*": "sagemaker:ListModelPackages, sagemaker:ListEndpoints, the Service Quotas List calls and the EC2 "
                 "Describe* calls support no resource-level permissions",
            f"{sagemaker}:endpoint/*": "promote's quota gate counts the instances of every endpoint in the account "
                                       "and region (read-only)",
            **{p: "versions of this environment's own model package group, numbered by the registry"
               for p in packages},
            **{a: "this endpoint's own alarms (<endpoint>-<check>)" for a in alarms},
        }
        self.role = iam.Role(
            self, "Role", role_name=props.role_name, max_session_duration=Duration.hours(SESSION_HOURS),
            description=f"GitHub Actions deploy and promote ({props.subject})",
            assumed_by=iam.WebIdentityPrincipal(props.provider_arn, conditions={"StringEquals": {
                f"{OIDC_HOST}:aud": OIDC_AUDIENCE, f"{OIDC_HOST}:sub": props.subject}}))
        statements = [
            iam.PolicyStatement(
                sid="AssumeCdkBootstrapRoles", actions=["sts:AssumeRole", "sts:TagSession"],
                resources=[f"{arn}:iam::{account}:role/cdk-{BOOTSTRAP_QUALIFIER}-{role}-role-"
                           f"{account}-{region}" for role in BOOTSTRAP_ROLES]),
            iam.PolicyStatement(
                sid="ReadAndSmokeTestEndpoints",
                actions=["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"],
                resources=[f"{sagemaker}:endpoint/{name}" for name in props.endpoint_names]),
            iam.PolicyStatement(
                sid="ReadEndpointConfigsAndModels",
                actions=["sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel", "sagemaker:ListTags"],
                resources=[f"{sagemaker}:endpoint-config/*", f"{sagemaker}:model/*"]),
            iam.PolicyStatement(
                sid="ReadAndApproveModelPackages",
                actions=["sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage"],
                resources=packages),
            iam.PolicyStatement(sid="ListModelPackages", actions=["sagemaker:ListModelPackages"], resources=["*"]),
            # promote's quota gate (scripts/promotion/capacity.py): the account's endpoint-usage quotas and what
            # every endpoint of the account runs against them
            iam.PolicyStatement(sid="ReadEndpointQuotas", resources=["*"], actions=[
                "servicequotas:ListServiceQuotas", "servicequotas:ListAWSDefaultServiceQuotas", "sagemaker:ListEndpoints"]),
            iam.PolicyStatement(sid="CountEndpointInstances", actions=["sagemaker:DescribeEndpoint"],
                                resources=[f"{sagemaker}:endpoint/*"]),
            # `status`: can an endpoint in private subnets reach S3, ECR and Logs (scripts/promotion/vpc_endpoints.py)
            iam.PolicyStatement(sid="ReadVpcReachability", resources=["*"],
                                actions=["ec2:DescribeSubnets", "ec2:DescribeRouteTables", "ec2:DescribeVpcEndpoints"]),
            iam.PolicyStatement(sid="ReadEndpointAlarms", actions=["cloudwatch:DescribeAlarms"], resources=alarms),
            iam.PolicyStatement(sid="ReadWeights", actions=["s3:GetObject", "s3:GetObjectAttributes"],
                                resources=[f"{bucket}/*"]),
            iam.PolicyStatement(
                sid="ReadWeightsBucket",
                actions=["s3:ListBucket", "s3:ListBucketVersions", "s3:GetBucketVersioning",
                         "s3:GetBucketObjectLockConfiguration", "s3:GetBucketPolicy"],
                resources=[bucket]),
            iam.PolicyStatement(
                sid="DecryptWeightsThroughS3", actions=["kms:Decrypt"], resources=[keys],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
                            "ForAnyValue:StringEquals": {"kms:ResourceAliases": [props.key_alias]}}),
            iam.PolicyStatement(
                sid="ReadPinnedImages", actions=["ecr:DescribeImages", "ecr:BatchGetImage"],
                resources=[f"{arn}:ecr:{region}:{registry}:repository/{repository}"
                           for registry, repository in props.images]),
            iam.PolicyStatement(
                sid="ReadOwnStacks",
                actions=["cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents",
                         "cloudformation:ListStackResources"],
                resources=[stacks]),
        ]
        self.policy = iam.Policy(self, "Policy", statements=statements)
        self.policy.attach_to_role(self.role)
        suppress(self.policy, {f"AwsSolutions-IAM5[Resource::{resource}]": reason
                               for resource, reason in wildcards.items()})
