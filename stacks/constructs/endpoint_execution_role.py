"""EndpointExecutionRole: what one endpoint's containers may touch, and nothing else.

Reads only its model's weight prefix (all versions of that model, so both
fleets of a blue/green deployment, and a shadow variant, can load), pulls
only its image repository (and the shadow version's, if that differs), uses only the environment key, writes only its own capture
prefix and log group.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Stack, aws_iam as iam, aws_kms as kms
from constructs import Construct

from stacks.constructs.nag import suppress


@dataclass(frozen=True)
class EndpointExecutionRoleProps:
    endpoint_name: str
    weights_bucket_name: str
    model_prefix: str  # "<model>/"
    image_registry: str  # account id of the ECR registry
    image_repository: str
    key: kms.IKey
    capture_bucket_name: str | None = None
    capture_prefix: str | None = None
    in_vpc: bool = False
    # (registry account, repository) of other images the endpoint serves: a shadow version's.
    extra_images: tuple[tuple[str, str], ...] = ()


class EndpointExecutionRole(Construct):
    def __init__(self, scope: Construct, id: str, props: EndpointExecutionRoleProps):
        super().__init__(scope, id)
        stack = Stack.of(self)
        partition, region, account = stack.partition, stack.region, stack.account
        # Literal ARNs (bucket names are fixed per environment): reviewers read them as
        # they are, and each wildcard can be acknowledged to cdk-nag by its exact text.
        weights_bucket = f"arn:{partition}:s3:::{props.weights_bucket_name}"
        weights_objects = f"{weights_bucket}/{props.model_prefix}*"
        logs = (f"arn:{partition}:logs:{region}:{account}"
                f":log-group:/aws/sagemaker/Endpoints/{props.endpoint_name}:*")
        wildcards = {weights_objects: "objects under this model's own prefix (file names vary per pinned version)",
                     logs: "log streams of this endpoint's own log group (named by SageMaker at run time)",
                     "*": "ecr:GetAuthorizationToken and the VPC ENI actions support no resource-level permissions"}
        images = [(props.image_registry, props.image_repository)]
        images += [image for image in props.extra_images if image not in images]
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
                             description=f"SageMaker execution role of endpoint {props.endpoint_name}")
        statements = [
            iam.PolicyStatement(sid="ReadOwnModelWeights", actions=["s3:GetObject"],
                                resources=[weights_objects]),
            iam.PolicyStatement(sid="ListOwnModelWeights", actions=["s3:ListBucket"],
                                resources=[weights_bucket],
                                conditions={"StringLike": {"s3:prefix": [f"{props.model_prefix}*"]}}),
            iam.PolicyStatement(sid="UseEnvironmentKey", actions=["kms:Decrypt", "kms:GenerateDataKey"],
                                resources=[props.key.key_arn]),
            iam.PolicyStatement(sid="PullOwnImage",
                                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                                         "ecr:BatchCheckLayerAvailability"],
                                resources=[f"arn:{partition}:ecr:{region}:{registry}"
                                           f":repository/{repository}" for registry, repository in images]),
            iam.PolicyStatement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
            iam.PolicyStatement(sid="WriteOwnLogs",
                                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                                         "logs:DescribeLogStreams"],
                                resources=[logs]),
        ]
        if props.capture_bucket_name is not None:
            capture = f"arn:{partition}:s3:::{props.capture_bucket_name}/{props.capture_prefix}*"
            wildcards[capture] = "capture files under this endpoint's own prefix (named by SageMaker)"
            statements.append(iam.PolicyStatement(
                sid="WriteOwnDataCapture", actions=["s3:PutObject"], resources=[capture]))
        if props.in_vpc:
            statements.append(iam.PolicyStatement(
                sid="AttachToVpc",
                actions=["ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission",
                         "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission",
                         "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions",
                         "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"],
                resources=["*"]))
        # A separate policy resource, so the Model can depend on it: SageMaker checks
        # the role's access when it creates the endpoint.
        self.policy = iam.Policy(self, "Policy", statements=statements)
        self.policy.attach_to_role(self.role)
        suppress(self.policy, {f"AwsSolutions-IAM5[Resource::{resource}]": reason
                               for resource, reason in wildcards.items()})

    @property
    def cfn_role(self) -> iam.CfnRole:
        return self.role.node.default_child
