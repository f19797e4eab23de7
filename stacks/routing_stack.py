"""RoutingStack: one endpoint's routing mode for the application client, alone in its stack.

`python -m scripts route` deploys only this stack (`llama-<env>-<endpoint>-routing`): a route
change never touches the endpoint, its alarms or its scaling, and a promotion never touches the
route. Its one resource is the `<prefix>routing` SSM parameter (mode, canary share, shadow sample,
deadline) that every client reads, cached, at run time; the endpoint stack holds the `serving`
parameter that changes with the live version. Nothing here depends on another stack.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct
from pinned_llama_client.settings import ROUTING_PARAMETER, encode

from config import naming
from config.environment import Endpoint, Environment
from config.routing import routing_document
from stacks.constructs.client_parameter import ClientParameter, ClientParameterProps


@dataclass(frozen=True)
class RoutingStackProps:
    environment: Environment
    endpoint_id: str
    endpoint: Endpoint


class RoutingStack(Stack):
    def __init__(self, scope: Construct, id: str, props: RoutingStackProps, **kwargs):
        super().__init__(scope, id, **kwargs)
        env, routing = props.environment, props.endpoint.routing
        name = env.endpoint_name(props.endpoint_id)
        for tag, value in (("environment", env.name), ("endpoint", name), ("routing-mode", routing.mode.value)):
            Tags.of(self).add(tag, value)
        parameter_name = naming.client_parameter_prefix(env.name, props.endpoint_id) + ROUTING_PARAMETER
        self.parameter = ClientParameter(self, "Routing", ClientParameterProps(
            parameter_name=parameter_name, value=encode(routing_document(routing)),
            description=f"{name}: who answers the applications (pinned-llama-client); changed by `route`"))
        CfnOutput(self, "RoutingParameter", value=parameter_name)
        CfnOutput(self, "RoutingMode", value=routing.mode.value)
