"""OneEndpointStack: what the two kinds of endpoint stack share (EndpointStack, ComponentEndpointStack).

Both deploy one endpoint of one environment from the environment's artifacts stack (registry
packages, KMS key); both are tagged with what they serve and notify one encrypted alarm topic.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Stack, Tags, aws_sns as sns

from config.environment import Environment
from config.pin import Pin
from stacks.artifacts_stack import ArtifactsStack
from stacks.constructs.alarm_topic import AlarmTopic, AlarmTopicProps


@dataclass(frozen=True)
class OneEndpointStackProps:
    environment: Environment
    endpoint_id: str  # the key under `endpoints:` or `component_endpoints:` in environments/<env>.yaml
    artifacts: ArtifactsStack  # the environment's registry packages and key, imported from its stack


class OneEndpointStack(Stack):
    def _tag_and_alert(self, props: OneEndpointStackProps, pin: Pin, notify: list[str]) -> tuple[str, Tags, sns.Topic]:
        """The endpoint's name, the stack's tags (one jsii object for every tag) and its alarm topic,
        which mails the environment's and the endpoint's `notify` lists."""
        env = props.environment
        name = env.endpoint_name(props.endpoint_id)
        tags = Tags.of(self)
        for tag, value in (("environment", env.name), ("endpoint", name), ("model", pin.model),
                           ("model-version", pin.version)):
            tags.add(tag, value)
        topic = AlarmTopic(self, "AlarmTopic", AlarmTopicProps(
            name=name, kms_key=props.artifacts.kms_key, emails=tuple(sorted(set(env.notify) | set(notify))))).topic
        return name, tags, topic
