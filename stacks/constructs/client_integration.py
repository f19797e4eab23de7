"""ClientIntegration: the endpoint stack's part of the application client (client/pinned_llama_client).

- the `<prefix>serving` parameter: how to ask the live version's container and its label set,
  written from the pin this stack deploys, so it changes with the version (`promote`);
- the alarms on the client's metrics (client_alarms.py) and the managed policy + log group an
  application role needs (application_access.py);
- outputs an application team copies into its configuration: the parameter prefix, the policy
  ARN and the log group.

The routing mode itself is in the routing stack (stacks/routing_stack.py), changed by `route`.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnOutput, aws_kms as kms, aws_sns as sns
from constructs import Construct
from pinned_llama_client.settings import ROUTING_PARAMETER, SERVING_PARAMETER, encode

from config import naming
from config.environment import Endpoint, Environment
from config.pin import Pin
from config.routing import serving_document
from stacks.constructs.application_access import ApplicationAccess, ApplicationAccessProps
from stacks.constructs.client_alarms import ClientAlarms, ClientAlarmsProps
from stacks.constructs.client_parameter import ClientParameter, ClientParameterProps


@dataclass(frozen=True)
class ClientIntegrationProps:
    environment: Environment
    endpoint_id: str
    endpoint: Endpoint
    pin: Pin  # the live version this stack deploys
    topic: sns.ITopic
    kms_key: kms.IKey  # encrypts the client's log group


class ClientIntegration(Construct):
    def __init__(self, scope: Construct, id: str, props: ClientIntegrationProps):
        super().__init__(scope, id)
        env, key = props.environment, props.endpoint_id
        name = env.endpoint_name(key)
        prefix = naming.client_parameter_prefix(env.name, key)
        self.serving = ClientParameter(self, "Serving", ClientParameterProps(
            parameter_name=prefix + SERVING_PARAMETER, value=encode(serving_document(name, props.endpoint, props.pin)),
            description=f"{name}: how pinned-llama-client asks {props.pin.model} {props.pin.version}"))
        self.alarms = ClientAlarms(self, "Alarms", ClientAlarmsProps(
            endpoint_name=name, thresholds=props.endpoint.routing.alarms, topic=props.topic))
        self.access = ApplicationAccess(self, "Access", ApplicationAccessProps(
            endpoint_name=name, parameter_names=(prefix + ROUTING_PARAMETER, prefix + SERVING_PARAMETER),
            log_group_name=naming.client_log_group(env.name, key), policy_name=naming.client_policy(env.name, key),
            kms_key=props.kms_key))
        for output, value in (("ParameterPrefix", prefix), ("PolicyArn", self.access.policy.managed_policy_arn),
                              ("LogGroup", self.access.log_group.log_group_name)):
            CfnOutput(self, output, value=value)
