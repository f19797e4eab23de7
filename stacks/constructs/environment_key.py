"""EnvironmentKey: the KMS key that encrypts an environment's weights, captures and alarm topics."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, aws_iam as iam, aws_kms as kms
from constructs import Construct


def key_alias(environment: str) -> str:
    """The key's alias: how roles outside the artifacts stack (GitHub deploy) find it without its id."""
    return f"alias/llama-{environment}"


class EnvironmentKey(Construct):
    def __init__(self, scope: Construct, id: str, *, environment: str):
        super().__init__(scope, id)
        self.key = kms.Key(
            self, "Key",
            alias=key_alias(environment),
            description=f"Pinned Llama weights, data capture and alarm topics ({environment})",
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

    @property
    def cfn_key(self) -> kms.CfnKey:
        return self.key.node.default_child
