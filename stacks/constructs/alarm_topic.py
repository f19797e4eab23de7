"""AlarmTopic: the KMS-encrypted, TLS-only SNS topic an endpoint's alarms notify."""

from __future__ import annotations

from aws_cdk import aws_kms as kms, aws_sns as sns, aws_sns_subscriptions as subscriptions
from constructs import Construct


class AlarmTopic(Construct):
    def __init__(self, scope: Construct, id: str, *, name: str, key: kms.IKey, emails: list[str]):
        super().__init__(scope, id)
        self.topic = sns.Topic(self, "Topic", display_name=f"{name} alarms", master_key=key,
                               enforce_ssl=True)
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

    @property
    def cfn_topic(self) -> sns.CfnTopic:
        return self.topic.node.default_child
