"""EnvironmentKey: the KMS key that encrypts an environment's weights, captures, alarm topics and the
application client's log groups."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy, Stack, aws_iam as iam, aws_kms as kms
from constructs import Construct


@dataclass(frozen=True)
class EnvironmentKeyProps:
    alias: str  # how roles outside the artifacts stack (GitHub deploy) find it without its id
    environment: str


class EnvironmentKey(Construct):
    def __init__(self, scope: Construct, id: str, props: EnvironmentKeyProps):
        super().__init__(scope, id)
        self.key = kms.Key(
            self, "Key",
            alias=props.alias,
            description=f"Pinned Llama weights, data capture and alarm topics ({props.environment})",
            enable_key_rotation=True,
            # The weights bucket is retained (Object Lock); its key must outlive the stack too.
            removal_policy=RemovalPolicy.RETAIN,
        )
        # CloudWatch alarms publish to KMS-encrypted SNS topics only if the key allows it.
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToEncryptedTopics",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],  # in a key policy "*" means this key
        ))
        # CloudWatch Logs encrypts the client's log groups (AWS Control Tower CT.CLOUDWATCH.PR.3) with it, for
        # this account's log groups only ("Encrypt log data in CloudWatch Logs using AWS KMS", CloudWatch Logs
        # User Guide: the logs.<region> principal and the aws:logs:arn encryption context).
        stack = Stack.of(self)
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowCloudWatchLogsForThisAccountsLogGroups",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            # the guide's Encrypt*, Decrypt*, ReEncrypt*, GenerateDataKey*, Describe*, spelled out (no wildcard actions)
            actions=["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey",
                     "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"],
            resources=["*"],
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                    f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:*"}},
        ))
        # Grants only for AWS resources (SageMaker's own grants for data capture, EBS and the like),
        # never to a principal directly (AWS Control Tower CT.KMS.PR.3).
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="DenyGrantsExceptForAwsResources", effect=iam.Effect.DENY, principals=[iam.AnyPrincipal()],
            actions=["kms:CreateGrant"], resources=["*"],
            conditions={"BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}},
        ))
        self.cfn_key: kms.CfnKey = self.key.node.default_child
