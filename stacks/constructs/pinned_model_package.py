"""PinnedModelPackage: one Model Registry version built from one pin manifest.

The image is referenced by digest and the weights as an uncompressed S3
prefix; the manifest hash and source revision travel as metadata so anyone
can trace a registry version back to its file in git. InferenceSpecification
and the description are create-only, which matches pins being immutable: they
come from the pin alone (config/registry_content.py), never from code that may
change; ModelApprovalStatus updates in place.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy, Tags, aws_sagemaker as sagemaker
from constructs import Construct

from config import naming
from config.pin import Pin, RegistryContent
from stacks.constructs.llm_endpoint import ModelSource
from stacks.constructs.model_package_group import ModelPackageGroup

@dataclass(frozen=True)
class PinnedModelPackageProps:
    pin: Pin
    group: ModelPackageGroup
    region: str
    weights_bucket_name: str
    content: RegistryContent  # config/registry_content.py registry_content(pin)


class PinnedModelPackage(Construct):
    def __init__(self, scope: Construct, id: str, props: PinnedModelPackageProps):
        super().__init__(scope, id)
        pin = self.pin = props.pin
        self.environment = props.content.environment
        image = pin.container.images[props.region]
        self.image = image
        self.model_data_uri = f"s3://{props.weights_bucket_name}/{pin.weights.prefix}"
        self.cfn_package = sagemaker.CfnModelPackage(
            self, "Package",
            model_package_group_name=props.group.name,
            model_package_description=props.content.description,
            model_approval_status=pin.approval.status.value,
            approval_description=pin.approval.description,
            inference_specification=sagemaker.CfnModelPackage.InferenceSpecificationProperty(
                containers=[sagemaker.CfnModelPackage.ModelPackageContainerDefinitionProperty(
                    image=image,
                    image_digest="sha256:" + image.rsplit("@sha256:", 1)[1],
                    environment=props.content.environment,
                    model_data_source=sagemaker.CfnModelPackage.ModelDataSourceProperty(
                        s3_data_source=sagemaker.CfnModelPackage.S3ModelDataSourceProperty(
                            s3_uri=self.model_data_uri,
                            s3_data_type="S3Prefix",
                            compression_type="None",
                        )),
                )],
                supported_content_types=props.content.content_types,
                supported_response_mime_types=props.content.content_types,
                supported_realtime_inference_instance_types=props.content.instance_types,
            ),
            customer_metadata_properties={
                **naming.pin_identity(pin.model, pin.version, pin.manifest_sha256),
                "source-repo": pin.source.hub_repo,
                "source-revision": pin.source.revision,
                "container-tag": pin.container.tag,
            },
        )
        self.cfn_package.add_resource_dependency(props.group.cfn_group)
        self.cfn_package.apply_removal_policy(RemovalPolicy.RETAIN)
        tags = Tags.of(self)
        tags.add("model", pin.model)
        tags.add("model-version", pin.version)
        # Read once: the artifacts stack exports it and every endpoint stack imports it.
        self.arn: str = self.cfn_package.attr_model_package_arn

    def model_source(self) -> ModelSource:
        """How an endpoint builds this version's Model: from the package once the version is Approved,
        from the same image, weights and environment otherwise (see stacks/constructs/llm_endpoint.py)."""
        return ModelSource(package_arn=self.arn if self.pin.is_approved else None, image=self.image,
                           model_data_uri=self.model_data_uri, environment=dict(self.environment),
                           identity=naming.pin_identity(self.pin.model, self.pin.version, self.pin.manifest_sha256))

