"""EndpointExecutionRole: what one endpoint's containers may touch, and nothing else.

Reads only its model's weight prefix (all versions of that model, so both
fleets of a blue/green deployment, and a shadow variant, can load), pulls
only its image repository (and the shadow version's, if that differs), uses only the environment key, writes only its own capture
prefix and log group.

SageMaker reads the endpoint's auto-rollback alarms with this role: "Ensure that your IAM
execution role has permission to perform the cloudwatch:DescribeAlarms action on the
auto-rollback alarms you specify" (developer guide, Auto-Rollback Configuration and
Monitoring); it may describe those alarms by ARN and no others. `cloudwatch:PutMetricData`
is in the minimum CreateModel policy (developer guide, "CreateModel API: Execution Role
Permissions"); PutMetricData has no resource-level permissions, so it is limited to the
endpoint namespaces with the `cloudwatch:namespace` condition key.

The trust policy names SageMaker and this account (`aws:SourceAccount`, IAM's confused-deputy
guard for service roles). Logs statements name the log group's own ARN as well as its
streams: CreateLogGroup and DescribeLogStreams authorize on `log-group:<name>`, not
`log-group:<name>:*` (aws/aws-cdk#7096). In a VPC, CreateNetworkInterface is limited to the
endpoint's subnets and security groups (resource types `subnet`, `security-group`) and the ENI
management actions to ENIs in those subnets (`ec2:Subnet`, Service Authorization Reference for
Amazon EC2); the Describe* actions support no resource-level permissions.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Stack, aws_iam as iam, aws_kms as kms
from constructs import Construct

from stacks.constructs.nag import suppress

# The namespaces SageMaker hosting publishes endpoint metrics under (CloudWatch, "Amazon SageMaker AI
# metrics in Amazon CloudWatch": /aws/sagemaker/Endpoints and its data-metrics children).
METRIC_NAMESPACES = ["/aws/sagemaker/Endpoints", "/aws/sagemaker/Endpoints/*"]


@dataclass(frozen=True)
class EndpointExecutionRoleProps:
    endpoint_name: str
    weights_bucket_name: str
    model_prefix: str  # "<model>/"
    image_registry: str  # account id of the ECR registry
    image_repository: str
    kms_key: kms.IKey
    capture_bucket_name: str | None = None
    capture_prefix: str | None = None
    # (registry account, repository) of other images the endpoint serves: a shadow version's.
    extra_images: tuple[tuple[str, str], ...] = ()
    rollback_alarm_names: tuple[str, ...] = ()  # the AutoRollbackConfiguration alarms SageMaker reads
    subnet_ids: tuple[str, ...] = ()  # with security_group_ids: the endpoint runs in a VPC
    security_group_ids: tuple[str, ...] = ()


class EndpointExecutionRole(Construct):
    def __init__(self, scope: Construct, id: str, props: EndpointExecutionRoleProps):
        super().__init__(scope, id)
        stack = Stack.of(self)
        here = f"{stack.region}:{stack.account}"
        # Literal ARNs (bucket names are fixed per environment): reviewers read them as
        # they are, and each wildcard can be acknowledged to cdk-nag by its exact text.
        weights_bucket = f"arn:{stack.partition}:s3:::{props.weights_bucket_name}"
        weights_objects = f"{weights_bucket}/{props.model_prefix}*"
        log_group = f"arn:{stack.partition}:logs:{here}:log-group:/aws/sagemaker/Endpoints/{props.endpoint_name}"
        logs = f"{log_group}:*"
        wildcards = {weights_objects: "objects under this model's own prefix (file names vary per pinned version)",
                     logs: "log streams of this endpoint's own log group (named by SageMaker at run time)",
                     "*": "ecr:GetAuthorizationToken, cloudwatch:PutMetricData (limited by cloudwatch:namespace) and "
                          "ec2:Describe* support no resource-level permissions"}
        images = [(props.image_registry, props.image_repository)]
        images += [image for image in props.extra_images if image not in images]
        self.role = iam.Role(self, "Role", description=f"SageMaker execution role of endpoint {props.endpoint_name}",
                             assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com", conditions={
                                 "StringEquals": {"aws:SourceAccount": stack.account}}))
        statements = [
            iam.PolicyStatement(sid="ReadOwnModelWeights", actions=["s3:GetObject"],
                                resources=[weights_objects]),
            iam.PolicyStatement(sid="ListOwnModelWeights", actions=["s3:ListBucket"],
                                resources=[weights_bucket],
                                conditions={"StringLike": {"s3:prefix": [f"{props.model_prefix}*"]}}),
            iam.PolicyStatement(sid="UseEnvironmentKey", actions=["kms:Decrypt", "kms:GenerateDataKey"],
                                resources=[props.kms_key.key_arn]),
            iam.PolicyStatement(sid="PullOwnImage",
                                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                                         "ecr:BatchCheckLayerAvailability"],
                                resources=[f"arn:{stack.partition}:ecr:{stack.region}:{registry}"
                                           f":repository/{repository}" for registry, repository in images]),
            iam.PolicyStatement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
            iam.PolicyStatement(sid="WriteOwnLogs",
                                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                                         "logs:DescribeLogStreams"],
                                resources=[log_group, logs]),
            iam.PolicyStatement(sid="PublishEndpointMetrics", actions=["cloudwatch:PutMetricData"], resources=["*"],
                                conditions={"StringLike": {"cloudwatch:namespace": METRIC_NAMESPACES}}),
        ]
        if props.rollback_alarm_names:
            statements.append(iam.PolicyStatement(
                sid="ReadOwnRollbackAlarms", actions=["cloudwatch:DescribeAlarms"],
                resources=[f"arn:{stack.partition}:cloudwatch:{here}:alarm:{name}"
                           for name in props.rollback_alarm_names]))
        if props.capture_bucket_name is not None:
            capture = f"arn:{stack.partition}:s3:::{props.capture_bucket_name}/{props.capture_prefix}*"
            wildcards[capture] = "capture files under this endpoint's own prefix (named by SageMaker)"
            statements.append(iam.PolicyStatement(
                sid="WriteOwnDataCapture", actions=["s3:PutObject"], resources=[capture]))
        if props.subnet_ids:
            statements += self._vpc_statements(stack, props, wildcards)
        # A separate policy resource, so the Model can depend on it: SageMaker checks
        # the role's access when it creates the endpoint.
        self.policy = iam.Policy(self, "Policy", statements=statements)
        self.policy.attach_to_role(self.role)
        self.cfn_role: iam.CfnRole = self.role.node.default_child
        suppress(self.policy, {f"AwsSolutions-IAM5[Resource::{resource}]": reason
                               for resource, reason in wildcards.items()})

    @staticmethod
    def _vpc_statements(stack: Stack, props: EndpointExecutionRoleProps,
                        wildcards: dict[str, str]) -> list[iam.PolicyStatement]:
        ec2 = f"arn:{stack.partition}:ec2:{stack.region}:{stack.account}"
        enis = f"{ec2}:network-interface/*"
        subnets = [f"{ec2}:subnet/{subnet}" for subnet in props.subnet_ids]
        wildcards[enis] = "ENIs SageMaker creates for the endpoint (ids assigned at creation); limited to the " \
                          "endpoint's subnets by ec2:Subnet where the action supports it"
        return [
            iam.PolicyStatement(
                sid="CreateEnisInOwnSubnets", actions=["ec2:CreateNetworkInterface"],
                resources=[enis, *subnets, *[f"{ec2}:security-group/{sg}" for sg in props.security_group_ids]]),
            iam.PolicyStatement(
                sid="ManageEnisInOwnSubnets",
                actions=["ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
                         "ec2:DeleteNetworkInterfacePermission"],
                resources=[enis], conditions={"ArnEquals": {"ec2:Subnet": subnets}}),
            iam.PolicyStatement(
                sid="DescribeVpc",
                actions=["ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions",
                         "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"],
                resources=["*"]),
        ]
