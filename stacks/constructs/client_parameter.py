"""ClientParameter: one SSM parameter the application client reads at run time (routing or serving).

A String parameter in the standard tier (4 KB, free; config/routing.py keeps the serving document
under that), its value the client's own JSON document (pinned_llama_client.settings: `encode` of a
`Routing` or `Serving` document), so what the stack writes is what the client parses. Not a
SecureString: a routing mode and a label set are not secrets, and a customer key would add a
kms:Decrypt grant to every application role.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_ssm as ssm
from constructs import Construct


@dataclass(frozen=True)
class ClientParameterProps:
    parameter_name: str  # config/naming.py client_parameter_prefix + routing | serving
    value: str  # pinned_llama_client.settings.encode(<document>)
    description: str


class ClientParameter(Construct):
    def __init__(self, scope: Construct, id: str, props: ClientParameterProps):
        super().__init__(scope, id)
        self.parameter = ssm.StringParameter(self, "Parameter", parameter_name=props.parameter_name,
                                             string_value=props.value, description=props.description,
                                             tier=ssm.ParameterTier.STANDARD)
        self.cfn_parameter: ssm.CfnParameter = self.parameter.node.default_child
