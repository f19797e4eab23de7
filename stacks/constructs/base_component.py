"""BaseComponent: the base model as one inference component, updated by a rolling deployment.

The Model comes from the pinned version's registry package (as LlmEndpoint's does) with the
container environment given again in full, LMI's LoRA options added when adapters are served
(OPTION_ENABLE_LORA, OPTION_MAX_LORAS, OPTION_MAX_LORA_RANK, OPTION_MAX_CPU_LORAS; djl-serving
serving/docs/adapters.md). The Model is unnamed: a new version replaces it, and the component,
which keeps its fixed name, is updated in place (UpdateInferenceComponent; the resource type has
no create-only property) under its DeploymentConfig: copies replaced batch by batch, alarms
watched `WaitIntervalInSeconds` after each, all rolled back if one fires
(InferenceComponentRollingUpdatePolicy, AutoRollbackConfiguration).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_iam as iam, aws_sagemaker as sagemaker
from constructs import Construct

from config.components import RollingUpdate


@dataclass(frozen=True)
class BaseComponentProps:
    component_name: str  # naming.inference_component(endpoint, "base")
    endpoint_name: str  # a reference to the endpoint (so the component comes after it)
    variant_name: str
    model_package_arn: str
    environment: dict[str, str]
    role: iam.IRole
    role_policy: iam.Policy
    accelerators: int  # NumberOfAcceleratorDevicesRequired: the pin's tensor parallel degree
    min_memory_mb: int
    copies: int  # RuntimeConfig.CopyCount
    startup_timeout_seconds: int
    download_timeout_seconds: int
    deployment: RollingUpdate
    rollback_alarm_names: list[str]


class BaseComponent(Construct):
    def __init__(self, scope: Construct, id: str, props: BaseComponentProps):
        super().__init__(scope, id)
        self.cfn_model = sagemaker.CfnModel(
            self, "Model",
            execution_role_arn=props.role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                model_package_name=props.model_package_arn, environment=props.environment),
        )
        self.cfn_model.node.add_dependency(props.role_policy)
        d = props.deployment
        self.cfn_component = sagemaker.CfnInferenceComponent(
            self, "Component",
            inference_component_name=props.component_name,
            endpoint_name=props.endpoint_name,
            variant_name=props.variant_name,
            specification=sagemaker.CfnInferenceComponent.InferenceComponentSpecificationProperty(
                model_name=self.cfn_model.attr_model_name,
                compute_resource_requirements=sagemaker.CfnInferenceComponent
                .InferenceComponentComputeResourceRequirementsProperty(
                    number_of_accelerator_devices_required=props.accelerators,
                    min_memory_required_in_mb=props.min_memory_mb),
                startup_parameters=sagemaker.CfnInferenceComponent.InferenceComponentStartupParametersProperty(
                    container_startup_health_check_timeout_in_seconds=props.startup_timeout_seconds,
                    model_data_download_timeout_in_seconds=props.download_timeout_seconds),
            ),
            runtime_config=sagemaker.CfnInferenceComponent.InferenceComponentRuntimeConfigProperty(
                copy_count=props.copies),
            deployment_config=sagemaker.CfnInferenceComponent.InferenceComponentDeploymentConfigProperty(
                rolling_update_policy=sagemaker.CfnInferenceComponent.InferenceComponentRollingUpdatePolicyProperty(
                    maximum_batch_size=_size(d.batch),
                    wait_interval_in_seconds=d.wait_seconds,
                    maximum_execution_timeout_in_seconds=d.max_execution_seconds,
                    rollback_maximum_batch_size=_size(d.rollback_batch) if d.rollback_batch else None),
                auto_rollback_configuration=sagemaker.CfnInferenceComponent.AutoRollbackConfigurationProperty(
                    alarms=[sagemaker.CfnInferenceComponent.AlarmProperty(alarm_name=n)
                            for n in props.rollback_alarm_names]) if props.rollback_alarm_names else None),
        )

    @property
    def component_name(self) -> str:
        return self.cfn_component.inference_component_name


def _size(batch):
    return sagemaker.CfnInferenceComponent.InferenceComponentCapacitySizeProperty(type=batch.cfn_type,
                                                                                  value=batch.value)
