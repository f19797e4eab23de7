"""ApplicationAccess: what an application role needs to use the client on one endpoint, as one
customer managed policy (named, so a role in another stack or repo attaches it by name), and the
log group the client may send its EMF lines to.

Least privilege, resource by resource:
- `sagemaker:InvokeEndpoint` on this endpoint only;
- `ssm:GetParameters` on its two client parameters (routing, serving) only;
- `logs:CreateLogStream` + `logs:PutLogEvents` on the client's log group (its streams are named by
  each application instance, hence the one `log-stream:*` wildcard, acknowledged below).
The OpenAI key is the application's own and is not granted here.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy, Stack, aws_iam as iam, aws_kms as kms, aws_logs as logs
from constructs import Construct

from stacks.constructs.nag import CONTROL_TOWER, suppress


@dataclass(frozen=True)
class ApplicationAccessProps:
    endpoint_name: str
    parameter_names: tuple[str, ...]  # the client's SSM parameters (each starts with '/')
    log_group_name: str
    policy_name: str
    # the environment key (its policy lets CloudWatch Logs use it): AWS Control Tower CT.CLOUDWATCH.PR.3
    kms_key: kms.IKey
    # a year: AWS Control Tower's CT.CLOUDWATCH.PR.2 (stacks/control_tower_rules.py) refuses less
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR


class ApplicationAccess(Construct):
    def __init__(self, scope: Construct, id: str, props: ApplicationAccessProps):
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.log_group = logs.LogGroup(self, "ClientLogs", log_group_name=props.log_group_name,
                                       retention=props.log_retention, encryption_key=props.kms_key,
                                       removal_policy=RemovalPolicy.RETAIN)
        suppress(self.log_group, {f"{CONTROL_TOWER}::cloudwatch_log_group_encrypted_check": (
            "encrypted with the environment key, imported from the artifacts stack: the rule's static check accepts "
            "only a literal ARN or a key in the same template (tests/test_stacks_client.py asserts the KmsKeyId)")})
        endpoint_arn = stack.format_arn(service="sagemaker", resource="endpoint", resource_name=props.endpoint_name)
        parameter_arns = [stack.format_arn(service="ssm", resource="parameter", resource_name=name.lstrip("/"))
                          for name in props.parameter_names]
        self.policy = iam.ManagedPolicy(
            self, "Policy", managed_policy_name=props.policy_name,
            description=f"Use pinned-llama-client on {props.endpoint_name}: invoke it, read its routing, send metrics",
            statements=[
                iam.PolicyStatement(sid="InvokeEndpoint", actions=["sagemaker:InvokeEndpoint"],
                                    resources=[endpoint_arn]),
                iam.PolicyStatement(sid="ReadRouting", actions=["ssm:GetParameters"], resources=parameter_arns),
                iam.PolicyStatement(sid="SendMetrics", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                                    resources=[self.log_group.log_group_arn]),
            ])
        suppress(self.policy, {
            f"AwsSolutions-IAM5[Resource::<{stack.get_logical_id(self.log_group.node.default_child)}.Arn>]":
                "log-group:<name>:* covers the log streams each application instance creates in this one group"})
        self.cfn_policy: iam.CfnManagedPolicy = self.policy.node.default_child
        self.cfn_log_group: logs.CfnLogGroup = self.log_group.node.default_child

    def grant_use(self, role: iam.IRole) -> None:
        """Let an application role (in this app) use the client on this endpoint."""
        self.policy.attach_to_role(role)
