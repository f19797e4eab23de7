"""EnvironmentKey: the KMS key that encrypts an environment's weights, captures and alarm topics."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy, aws_iam as iam, aws_kms as kms
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
        # Grants only for AWS resources (SageMaker's own grants for data capture, EBS and the like),
        # never to a principal directly (AWS Control Tower CT.KMS.PR.3).
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="DenyGrantsExceptForAwsResources", effect=iam.Effect.DENY, principals=[iam.AnyPrincipal()],
            actions=["kms:CreateGrant"], resources=["*"],
            conditions={"BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}},
        ))
        self.cfn_key: kms.CfnKey = self.key.node.default_child
