"""EndpointStack: one endpoint of one environment, serving its configured live version.

Outputs name what is deployed (version, image digest, weights URI, manifest
hash), so the review summary and `promote` read them from the template
instead of recomputing them.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnOutput
from constructs import Construct

from config import naming
from config.catalog import INSTANCES
from config.environment import SHADOW_VARIANT_NAME, VARIANT_NAME, Endpoint
from config.pin import Pin
from stacks.constructs.client_integration import ClientIntegration, ClientIntegrationProps
from stacks.constructs.endpoint_alarms import EndpointAlarms, EndpointAlarmsProps
from stacks.constructs.endpoint_autoscaling import EndpointAutoscaling, EndpointAutoscalingProps
from stacks.constructs.endpoint_dashboard import EndpointDashboard, EndpointDashboardProps
from stacks.constructs.endpoint_execution_role import EndpointExecutionRole, EndpointExecutionRoleProps
from stacks.constructs.llm_endpoint import DataCapture, LlmEndpoint, LlmEndpointProps, ShadowVariant
from stacks.one_endpoint_stack import OneEndpointStack, OneEndpointStackProps


@dataclass(frozen=True)
class EndpointStackProps(OneEndpointStackProps):
    endpoint: Endpoint
    pin: Pin
    shadow_pin: Pin | None = None
    # Per-deployment overrides (config/deploy_override.py): scaling suspended by `promote` for an
    # instance-type change, which SageMaker refuses on a variant registered for autoscaling
    # (deregister, change, register again: 3 deploys); no auto-rollback for `rollback`.
    autoscaling_suspended: bool = False
    auto_rollback: bool = True


class EndpointStack(OneEndpointStack):
    def __init__(self, scope: Construct, id: str, props: EndpointStackProps, **kwargs):
        super().__init__(scope, id, **kwargs)
        env, endpoint, pin, artifacts = props.environment, props.endpoint, props.pin, props.artifacts
        name, tags, topic = self._tag_and_alert(props, pin, endpoint.notify)
        package = artifacts.packages[pin.ref]
        registry, repository = pin.container.repository_of(env.region)
        capture_prefix = naming.capture_prefix(name)
        shadow_pin = props.shadow_pin
        shadow = None
        if shadow_pin is not None:
            tags.add("shadow-version", shadow_pin.version)
            shadow = ShadowVariant(
                variant_name=SHADOW_VARIANT_NAME, model=artifacts.packages[shadow_pin.ref].model_source(),
                instance_type=endpoint.shadow_instance_type or endpoint.instance_type,
                initial_instance_count=endpoint.instances.initial)

        self.alarms = EndpointAlarms(self, "Alarms", EndpointAlarmsProps(
            endpoint_name=name, variant_name=VARIANT_NAME,
            gpus_per_instance=INSTANCES[endpoint.instance_type].gpus,
            thresholds=endpoint.alarms, topic=topic))
        role = EndpointExecutionRole(self, "ExecutionRole", EndpointExecutionRoleProps(
            endpoint_name=name, weights_bucket_name=env.weights_bucket_name, model_prefix=f"{pin.model}/",
            image_registry=registry, image_repository=repository, kms_key=artifacts.kms_key,
            capture_bucket_name=env.capture_bucket_name if endpoint.data_capture_percent else None,
            capture_prefix=capture_prefix,
            extra_images=(shadow_pin.container.repository_of(env.region),) if shadow_pin else (),
            # Every rollback alarm, also for `rollback`'s deployment (which has none): the role stays
            # the same across deployments, so the next promotion finds it ready.
            rollback_alarm_names=tuple(self.alarms.rollback_alarm_names),
            subnet_ids=tuple(endpoint.network.subnet_ids), security_group_ids=tuple(endpoint.network.security_group_ids)))
        self.endpoint = LlmEndpoint(self, "Endpoint", LlmEndpointProps(
            endpoint_name=name, variant_name=VARIANT_NAME, model=package.model_source(),
            role=role.role, role_policy=role.policy,
            instance_type=endpoint.instance_type, initial_instance_count=endpoint.instances.initial,
            startup_timeout_seconds=endpoint.timeouts.container_startup_seconds,
            download_timeout_seconds=endpoint.timeouts.model_download_seconds,
            deployment=endpoint.deployment,
            rollback_alarm_names=[a.alarm_name for a in self.alarms.rollback_alarms],
            network_isolation=endpoint.network.network_isolation,
            subnet_ids=endpoint.network.subnet_ids, security_group_ids=endpoint.network.security_group_ids,
            data_capture=DataCapture(
                destination_uri=f"s3://{env.capture_bucket_name}/{capture_prefix}",
                percent=endpoint.data_capture_percent, kms_key_arn=artifacts.kms_key.key_arn),
            shadow=shadow, auto_rollback=props.auto_rollback))
        self.autoscaling = None if props.autoscaling_suspended else EndpointAutoscaling(
            self, "Autoscaling", EndpointAutoscalingProps(
                endpoint_name=name, variant_name=VARIANT_NAME, instances=endpoint.instances,
                autoscaling=endpoint.autoscaling, endpoint=self.endpoint.cfn_endpoint))
        # The application client's serving parameter, alarms and role policy (its routing: RoutingStack).
        self.client = ClientIntegration(self, "Client", ClientIntegrationProps(
            environment=env, endpoint_id=props.endpoint_id, endpoint=endpoint, pin=pin, topic=topic,
            kms_key=artifacts.kms_key))
        EndpointDashboard(self, "Dashboard", EndpointDashboardProps(name=name, alarms=self.alarms,
                                                                    client=self.client.alarms))

        for output, value in (("EndpointName", name), ("ModelVersion", pin.version), ("Model", pin.model),
                              ("Image", package.image), ("WeightsUri", package.model_data_uri),
                              ("ManifestSha256", pin.manifest_sha256),
                              ("InstanceType", endpoint.instance_type)):
            CfnOutput(self, output, value=value)
        if shadow_pin is not None:
            shadow_package = artifacts.packages[shadow_pin.ref]
            for output, value in (("ShadowVersion", shadow_pin.version), ("ShadowImage", shadow_package.image),
                                  ("ShadowWeightsUri", shadow_package.model_data_uri),
                                  ("ShadowManifestSha256", shadow_pin.manifest_sha256)):
                CfnOutput(self, output, value=value)
