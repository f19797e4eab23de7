"""AlarmTopic: the KMS-encrypted, TLS-only SNS topic an endpoint's alarms notify."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_kms as kms, aws_sns as sns, aws_sns_subscriptions as subscriptions
from constructs import Construct


@dataclass(frozen=True)
class AlarmTopicProps:
    name: str  # the endpoint's
    kms_key: kms.IKey
    emails: tuple[str, ...] = ()


class AlarmTopic(Construct):
    def __init__(self, scope: Construct, id: str, props: AlarmTopicProps):
        super().__init__(scope, id)
        self.topic = sns.Topic(self, "Topic", display_name=f"{props.name} alarms", master_key=props.kms_key,
                               enforce_ssl=True)
        for email in props.emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

    @property
    def cfn_topic(self) -> sns.CfnTopic:
        return self.topic.node.default_child
