"""LlmEndpoint: Model -> EndpointConfig -> Endpoint for one pinned version, updated blue/green.

Model and EndpointConfig carry no names: all their properties are
create-only, so a version change replaces them and CloudFormation's new
name flows into the Endpoint, which then updates in place (UpdateEndpoint)
under the DeploymentConfig guardrails. The Endpoint keeps a fixed name so
clients never change.

Each Model comes from its version's registry package when the version is Approved, and
from the pin itself otherwise (`ModelSource`): SageMaker deploys a versioned package only
when it is Approved ("For versioned models, the value of [ModelApprovalStatus] must be set
to Approved to deploy the model", CreateModelPackage), and dev (`require_approved_versions:
false`) and shadow versions are deployed before approval, by design. A pin-built Model has
the package's image (by digest), weights prefix and container environment, and carries the
pin's identity as tags (`config/naming.py pin_identity`; DescribeModel has no tags, so
`scripts/promotion/live.py` reads them with ListTags). Approving a version changes its Model
from the pin-built one to the package one: the next deployment replaces the Model (same
image, weights and environment) through the endpoint's blue/green update.

With a shadow, a second unnamed Model (from the shadow version's package or pin)
serves the config's one ShadowProductionVariant: SageMaker copies every
request to it and captures both variants' requests and answers, but only
the production variant answers clients. config/environment.py allows a
shadow only with all-at-once blue/green (see docs/evaluation.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jsii
from aws_cdk import aws_iam as iam, aws_sagemaker as sagemaker
from constructs import Construct, IValidation

from config.environment import Deployment, Strategy

# Least outstanding requests suits LLMs: request durations vary with output length.
ROUTING = "LEAST_OUTSTANDING_REQUESTS"


@dataclass(frozen=True)
class DataCapture:
    destination_uri: str
    percent: int
    kms_key_arn: str


@dataclass(frozen=True)
class ModelSource:
    """What one variant's Model is built from: `package_arn` when the version is Approved, else the
    pin's own image, weights prefix and environment (the same as its package's)."""

    package_arn: str | None
    image: str  # repo@sha256:digest
    model_data_uri: str  # s3://bucket/prefix/ (S3Prefix, uncompressed)
    environment: dict[str, str]
    identity: dict[str, str]  # pin-model, pin-version, pin-manifest-sha256: tags of the Model


@dataclass(frozen=True)
class ShadowVariant:
    variant_name: str
    model: ModelSource
    instance_type: str
    initial_instance_count: int


@dataclass(frozen=True)
class LlmEndpointProps:
    endpoint_name: str
    variant_name: str
    model: ModelSource
    role: iam.IRole
    role_policy: iam.Policy
    instance_type: str
    initial_instance_count: int
    startup_timeout_seconds: int
    download_timeout_seconds: int
    deployment: Deployment
    rollback_alarm_names: list[str]
    network_isolation: bool = True
    subnet_ids: list[str] = field(default_factory=list)
    security_group_ids: list[str] = field(default_factory=list)
    data_capture: DataCapture | None = None
    shadow: ShadowVariant | None = None
    # False only for `rollback`: its deployment must not be reverted by the very alarms that
    # made someone roll back.
    auto_rollback: bool = True


class LlmEndpoint(Construct):
    def __init__(self, scope: Construct, id: str, props: LlmEndpointProps):
        super().__init__(scope, id)
        self.props = props
        if props.auto_rollback:
            self.node.add_validation(_RollbackAlarmsValidation(props.rollback_alarm_names))
        vpc = (sagemaker.CfnModel.VpcConfigProperty(subnets=props.subnet_ids,
                                                    security_group_ids=props.security_group_ids)
               if props.subnet_ids else None)
        self.cfn_model = self._model("Model", props.model, vpc)
        self.cfn_shadow_model = self._model("ShadowModel", props.shadow.model, vpc) if props.shadow else None

        # No EndpointConfig KmsKeyId: g5 (and every GPU type in config/catalog.py) has local
        # NVMe storage, for which CreateEndpointConfig rejects it; that volume is
        # hardware-encrypted. Captured data is encrypted by its own KmsKeyId below.
        shadow = props.shadow
        self.cfn_endpoint_config = sagemaker.CfnEndpointConfig(
            self, "Config",
            production_variants=[self._variant(props.variant_name, self.cfn_model, props.instance_type,
                                               props.initial_instance_count)],
            # Exactly one production and one shadow variant: SageMaker's limit for shadow variants.
            shadow_production_variants=[self._variant(shadow.variant_name, self.cfn_shadow_model,
                                                      shadow.instance_type, shadow.initial_instance_count)]
            if shadow else None,
            data_capture_config=_capture(props.data_capture),
        )

        self.cfn_endpoint = sagemaker.CfnEndpoint(
            self, "Endpoint",
            endpoint_name=props.endpoint_name,
            endpoint_config_name=self.cfn_endpoint_config.attr_endpoint_config_name,
            deployment_config=_deployment_config(props.deployment,
                                                 props.rollback_alarm_names if props.auto_rollback else []),
            # Keep the instance count autoscaling reached (aws/aws-cdk#23151) ...
            retain_all_variant_properties=True,
            # ... but apply data-capture changes from the new config.
            exclude_retained_variant_properties=[
                sagemaker.CfnEndpoint.VariantPropertyProperty(variant_property_type="DataCaptureConfig")],
        )

    def _model(self, id: str, source: ModelSource, vpc) -> sagemaker.CfnModel:
        if source.package_arn is not None:
            container = sagemaker.CfnModel.ContainerDefinitionProperty(model_package_name=source.package_arn)
        else:
            container = sagemaker.CfnModel.ContainerDefinitionProperty(
                image=source.image, environment=source.environment,
                model_data_source=sagemaker.CfnModel.ModelDataSourceProperty(
                    s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
                        s3_uri=source.model_data_uri, s3_data_type="S3Prefix", compression_type="None")))
        model = sagemaker.CfnModel(
            self, id,
            execution_role_arn=self.props.role.role_arn,
            primary_container=container,
            enable_network_isolation=self.props.network_isolation,
            vpc_config=vpc,
        )
        for key, value in source.identity.items():
            model.tags.set_tag(key, value)
        model.node.add_dependency(self.props.role_policy)
        return model

    def _variant(self, name: str, model: sagemaker.CfnModel, instance_type: str, count: int):
        # Weight 1.0 on both: the shadow gets a copy of every request the production variant serves.
        return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
            variant_name=name,
            model_name=model.attr_model_name,
            instance_type=instance_type,
            initial_instance_count=count,
            initial_variant_weight=1.0 if self.props.shadow else None,
            container_startup_health_check_timeout_in_seconds=self.props.startup_timeout_seconds,
            model_data_download_timeout_in_seconds=self.props.download_timeout_seconds,
            routing_config=sagemaker.CfnEndpointConfig.RoutingConfigProperty(routing_strategy=ROUTING),
        )

    @property
    def endpoint_name(self) -> str:
        return self.cfn_endpoint.attr_endpoint_name


def _capture(capture: DataCapture | None):
    if capture is None or capture.percent == 0:
        return None
    return sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
        enable_capture=True,
        initial_sampling_percentage=capture.percent,
        destination_s3_uri=capture.destination_uri,
        kms_key_id=capture.kms_key_arn,
        capture_options=[sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode=m)
                         for m in ("Input", "Output")],
        capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
            json_content_types=["application/json"]),
    )


def _deployment_config(d: Deployment, alarm_names: list[str]):
    size = d.canary_size or d.linear_step
    capacity = (sagemaker.CfnEndpoint.CapacitySizeProperty(type=size.cfn_type, value=size.value)
                if size else None)
    routing = sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
        type=d.strategy.traffic_routing_type,
        wait_interval_in_seconds=d.wait_seconds,
        canary_size=capacity if d.strategy is Strategy.CANARY else None,
        linear_step_size=capacity if d.strategy is Strategy.LINEAR else None,
    )
    return sagemaker.CfnEndpoint.DeploymentConfigProperty(
        blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
            traffic_routing_configuration=routing,
            termination_wait_in_seconds=d.baking_seconds,
            maximum_execution_timeout_in_seconds=d.max_execution_seconds,
        ),
        auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
            alarms=[sagemaker.CfnEndpoint.AlarmProperty(alarm_name=n) for n in alarm_names]) if alarm_names else None,
    )


@jsii.implements(IValidation)
class _RollbackAlarmsValidation:
    """SageMaker takes 1-10 rollback alarms; reported at synth with every other validation."""

    def __init__(self, names: list[str]):
        self.names = names

    def validate(self) -> list[str]:
        if not 1 <= len(self.names) <= 10:
            return [f"AutoRollbackConfiguration takes 1-10 alarms, got {len(self.names)}"]
        return []
