"""ComponentEndpointStack: an endpoint hosting inference components, a pinned base and its LoRA adapters.

    ComponentHost     EndpointConfig (ExecutionRoleArn, ManagedInstanceScaling) -> Endpoint
    BaseComponent     Model (registry package + LMI LoRA options) -> inference component <endpoint>-base
    AdapterComponent  one per adapter: <endpoint>-<id>, BaseInferenceComponentName + ArtifactUrl
    ComponentScaling  copies of the base: target tracking, and from zero a step policy on an alarm
    ComponentAlarms   per component 5XX / 4XX rate / p99 latency; GPU memory and disk; rollback set

Outputs name what is deployed (base version, image, weights, manifest hash; each adapter's
version, archive and manifest hash), so the review summary and `promote` read them from the
template.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import CfnOutput, aws_iam as iam
from constructs import Construct

from config import naming
from config.adapter_pin import AdapterPin
from config.catalog import INSTANCES
from config.components import BASE_COMPONENT, ComponentEndpoint, base_container_environment
from config.environment import VARIANT_NAME
from config.pin import Pin
from stacks.constructs.adapter_component import AdapterComponent, AdapterComponentProps
from stacks.constructs.base_component import BaseComponent, BaseComponentProps
from stacks.constructs.component_alarms import ComponentAlarms, ComponentAlarmsProps
from stacks.constructs.component_host import ComponentHost, ComponentHostProps
from stacks.constructs.component_scaling import ComponentScaling, ComponentScalingProps
from stacks.constructs.endpoint_execution_role import EndpointExecutionRole, EndpointExecutionRoleProps
from stacks.constructs.nag import suppress
from stacks.one_endpoint_stack import OneEndpointStack, OneEndpointStackProps


@dataclass(frozen=True)
class ComponentEndpointStackProps(OneEndpointStackProps):
    endpoint: ComponentEndpoint
    base_pin: Pin
    adapter_pins: dict[str, AdapterPin] = field(default_factory=dict)  # adapter component id -> its pin


class ComponentEndpointStack(OneEndpointStack):
    def __init__(self, scope: Construct, id: str, props: ComponentEndpointStackProps, **kwargs):
        super().__init__(scope, id, **kwargs)
        env, endpoint, pin, artifacts = props.environment, props.endpoint, props.base_pin, props.artifacts
        name, _, topic = self._tag_and_alert(props, pin, endpoint.notify)
        base_name = naming.inference_component(name, BASE_COMPONENT)
        adapter_names = {c: naming.inference_component(name, c) for c in endpoint.adapters}
        package = artifacts.packages[pin.ref]
        registry, repository = pin.container.repository_of(env.region)

        self.alarms = ComponentAlarms(self, "Alarms", ComponentAlarmsProps(
            endpoint_name=name, variant_name=VARIANT_NAME, base_component_name=base_name,
            adapter_component_names=list(adapter_names.values()),
            gpus_per_instance=INSTANCES[endpoint.instance_type].gpus, thresholds=endpoint.alarms, topic=topic))
        # SageMaker reads the base's rolling-update rollback alarms with this role (the role's
        # ReadOwnRollbackAlarms statement, as for an endpoint's blue/green deployment).
        role = EndpointExecutionRole(self, "ExecutionRole", EndpointExecutionRoleProps(
            endpoint_name=name, weights_bucket_name=env.weights_bucket_name, model_prefix=f"{pin.model}/",
            image_registry=registry, image_repository=repository, kms_key=artifacts.kms_key,
            rollback_alarm_names=tuple(a.alarm_name for a in self.alarms.rollback_alarms),
            subnet_ids=tuple(endpoint.network.subnet_ids), security_group_ids=tuple(endpoint.network.security_group_ids)))
        self._component_permissions(role, name)

        self.host = ComponentHost(self, "Endpoint", ComponentHostProps(
            endpoint_name=name, variant_name=VARIANT_NAME, role=role.role, role_policy=role.policy,
            instance_type=endpoint.instance_type, instances=endpoint.instances,
            network_isolation=endpoint.network.network_isolation, subnet_ids=endpoint.network.subnet_ids,
            security_group_ids=endpoint.network.security_group_ids))
        base = endpoint.base
        self.base = BaseComponent(self, "Base", BaseComponentProps(
            component_name=base_name, endpoint_name=self.host.endpoint_name, variant_name=VARIANT_NAME,
            model_package_arn=package.arn,
            environment=base_container_environment(pin, base.lora, with_adapters=bool(endpoint.adapters)),
            role=role.role, role_policy=role.policy, accelerators=pin.serving.tensor_parallel_degree,
            min_memory_mb=base.min_memory_mb, copies=base.copies.initial,
            startup_timeout_seconds=endpoint.timeouts.container_startup_seconds,
            download_timeout_seconds=endpoint.timeouts.model_download_seconds, deployment=base.deployment,
            rollback_alarm_names=[a.alarm_name for a in self.alarms.rollback_alarms]))
        self.adapters = {
            component: AdapterComponent(self, f"Adapter-{component}", AdapterComponentProps(
                component_name=adapter_names[component], endpoint_name=self.host.endpoint_name,
                base_component_name=base_name, artifact_url=props.adapter_pins[component].artifact_url(
                    env.weights_bucket_name), base=self.base.cfn_component))
            for component in endpoint.adapters}
        self.scaling = ComponentScaling(self, "Scaling", ComponentScalingProps(
            endpoint_name=name, base_component_name=base_name, component_names=[base_name, *adapter_names.values()],
            copies=base.copies, scaling=base.scaling, base=self.base.cfn_component))

        outputs = {"EndpointName": name, "BaseComponent": base_name, "Model": pin.model, "ModelVersion": pin.version,
                   "Image": package.image, "WeightsUri": package.model_data_uri, "ManifestSha256": pin.manifest_sha256,
                   "InstanceType": endpoint.instance_type, "ScalesToZero": str(endpoint.scales_to_zero).lower()}
        for component, adapter in props.adapter_pins.items():
            key = "".join(part.title() for part in component.split("-"))
            outputs.update({f"Adapter{key}Component": adapter_names[component],
                            f"Adapter{key}Version": f"{adapter.adapter} {adapter.version}",
                            f"Adapter{key}ArtifactUrl": adapter.artifact_url(env.weights_bucket_name),
                            f"Adapter{key}ManifestSha256": adapter.manifest_sha256})
        for output, value in outputs.items():
            CfnOutput(self, output, value=value)

    def _component_permissions(self, role: EndpointExecutionRole, name: str) -> None:
        """What the execution role needs beyond a model endpoint's: the components' own log groups
        (/aws/sagemaker/InferenceComponents/<component>)."""
        logs = (f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:"
                f"/aws/sagemaker/InferenceComponents/{naming.alarm_prefix(name)}*")
        policy = iam.Policy(self, "ComponentPolicy", statements=[
            iam.PolicyStatement(sid="WriteOwnComponentLogs", resources=[logs, f"{logs}:*"],
                                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                                         "logs:DescribeLogStreams"])])
        policy.attach_to_role(role.role)
        suppress(policy, {f"AwsSolutions-IAM5[Resource::{r}]": "log groups and streams of this endpoint's own "
                          "components, named by SageMaker after the component" for r in (logs, f"{logs}:*")})
