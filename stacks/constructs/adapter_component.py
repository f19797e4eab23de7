"""AdapterComponent: one pinned LoRA adapter loaded on the base component.

`Specification.BaseInferenceComponentName` names the base, `Container.ArtifactUrl` the adapter's
pinned archive (API reference, InferenceComponentSpecification). No model, compute or copies of
its own: it runs on every copy of the base. A new adapter version is an UpdateInferenceComponent
with a new ArtifactUrl, which SageMaker swaps on every copy of the base in place: there is no batch
of copies to roll, so no DeploymentConfig here (docs/operations.md, "Promoting a component").
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct, IConstruct


@dataclass(frozen=True)
class AdapterComponentProps:
    component_name: str
    endpoint_name: str
    base_component_name: str
    artifact_url: str  # s3://<weights bucket>/<model>/adapters/<adapter>/<version>/adapter.tar.gz
    base: IConstruct  # the base component's resource: created first, deleted last


class AdapterComponent(Construct):
    def __init__(self, scope: Construct, id: str, props: AdapterComponentProps):
        super().__init__(scope, id)
        self.cfn_component = sagemaker.CfnInferenceComponent(
            self, "Component",
            inference_component_name=props.component_name,
            endpoint_name=props.endpoint_name,
            specification=sagemaker.CfnInferenceComponent.InferenceComponentSpecificationProperty(
                base_inference_component_name=props.base_component_name,
                container=sagemaker.CfnInferenceComponent.InferenceComponentContainerSpecificationProperty(
                    artifact_url=props.artifact_url)),
        )
        self.cfn_component.node.add_dependency(props.base)
