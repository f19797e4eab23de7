"""ComponentHost: the EndpointConfig and Endpoint that host inference components.

An endpoint for inference components names no model on its variant: the models come with the
components (CreateInferenceComponent). The execution role moves from the Model to the
EndpointConfig (`ExecutionRoleArn`), and the variant scales its instances itself to place the
components' copies (`ManagedInstanceScaling`, MinInstanceCount 0 to scale to zero: developer
guide, "Scale an endpoint to zero instances"). No KmsKeyId: ml.g5 has local NVMe storage, for which
CreateEndpointConfig refuses it (see llm_endpoint.py). No data capture: where SageMaker would write
a component's captured traffic is not documented; the endpoint config is left without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import aws_iam as iam, aws_sagemaker as sagemaker
from constructs import Construct

from config.components import ComponentInstances
from stacks.constructs.llm_endpoint import ROUTING


@dataclass(frozen=True)
class ComponentHostProps:
    endpoint_name: str
    variant_name: str
    role: iam.IRole
    role_policy: iam.Policy
    instance_type: str
    instances: ComponentInstances
    network_isolation: bool = True
    subnet_ids: list[str] = field(default_factory=list)
    security_group_ids: list[str] = field(default_factory=list)


class ComponentHost(Construct):
    def __init__(self, scope: Construct, id: str, props: ComponentHostProps):
        super().__init__(scope, id)
        self.props = props
        variant = sagemaker.CfnEndpointConfig.ProductionVariantProperty(
            variant_name=props.variant_name,
            instance_type=props.instance_type,
            initial_instance_count=props.instances.initial,
            managed_instance_scaling=sagemaker.CfnEndpointConfig.ManagedInstanceScalingProperty(
                status="ENABLED", min_instance_count=props.instances.min, max_instance_count=props.instances.max),
            routing_config=sagemaker.CfnEndpointConfig.RoutingConfigProperty(routing_strategy=ROUTING),
        )
        self.cfn_endpoint_config = sagemaker.CfnEndpointConfig(
            self, "Config",
            execution_role_arn=props.role.role_arn,
            production_variants=[variant],
            enable_network_isolation=props.network_isolation,
            vpc_config=sagemaker.CfnEndpointConfig.VpcConfigProperty(
                subnets=props.subnet_ids, security_group_ids=props.security_group_ids) if props.subnet_ids else None,
        )
        # SageMaker checks the role's access when the endpoint's instances start.
        self.cfn_endpoint_config.node.add_dependency(props.role_policy)
        self.cfn_endpoint = sagemaker.CfnEndpoint(
            self, "Endpoint",
            endpoint_name=props.endpoint_name,
            endpoint_config_name=self.cfn_endpoint_config.attr_endpoint_config_name,
        )

    @property
    def endpoint_name(self) -> str:
        """The endpoint's name as a reference: a component using it is created after the endpoint."""
        return self.cfn_endpoint.attr_endpoint_name
