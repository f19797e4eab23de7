"""AWS::SageMaker::InferenceComponent for moto's CloudFormation (moto has neither the type nor the API).

Create, update and delete go through the emulator's inference-component API (`inference_components.py`),
as CloudFormation's handlers call CreateInferenceComponent, UpdateInferenceComponent (with the
template's DeploymentConfig, a write-only property) and DeleteInferenceComponent (the schema's
handler permissions, cfn-lint's schema of the type). An update changes the specification when it
changed in the template, and the copy count only when RuntimeConfig.CopyCount changed there:
otherwise the copies autoscaling reached stay (that a real stack update keeps them too is for
real AWS to show). The physical id is the component's ARN (the schema's primaryIdentifier).
Duck-typed to moto's CloudFormationModel, like the handlers of cfn_resources.py.
"""

from __future__ import annotations

from typing import ClassVar

from localaws.cfn_resources import _CfnResource


class CfnInferenceComponent(_CfnResource):
    cfn_attrs: ClassVar[dict[str, str]] = {"InferenceComponentArn": "", "InferenceComponentName": ""}
    emulator = None  # set by install(): the running AwsEmulator

    def __init__(self, physical_id: str, attrs: dict[str, str], properties: dict) -> None:
        super().__init__(physical_id, attrs)
        self.properties = properties

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SageMaker::InferenceComponent"

    @classmethod
    def _sim(cls):
        return cls.emulator.components

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        name = p.get("InferenceComponentName") or resource_name
        component = cls._sim().create(name, p["EndpointName"], p.get("VariantName"), p.get("Specification"),
                                      p.get("Specifications"), p.get("RuntimeConfig"))
        return cls(component.arn, {"InferenceComponentArn": component.arn, "InferenceComponentName": name}, p)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        p, old = cloudformation_json["Properties"], original_resource.properties
        name = original_resource.get_cfn_attribute("InferenceComponentName")
        spec = p.get("Specification") if p.get("Specification") != old.get("Specification") else None
        copies = p.get("RuntimeConfig") if p.get("RuntimeConfig") != old.get("RuntimeConfig") else None
        if spec is not None or copies is not None:
            cls._sim().update(name, spec, copies, p.get("DeploymentConfig") if spec is not None else None)
        return cls(original_resource.physical_resource_id, original_resource._attrs, p)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        sim = cls._sim()
        name = resource_name.rsplit("/", 1)[-1]
        if name in sim.components:
            sim.delete(name)


def install(emu, patcher) -> None:
    from moto.cloudformation import parsing

    patcher.patch(CfnInferenceComponent, "emulator", emu)
    orig = parsing.resource_class_from_type

    def resource_class_from_type(resource_type):
        return CfnInferenceComponent if resource_type == CfnInferenceComponent.cloudformation_type() \
            else orig(resource_type)

    patcher.patch(parsing, "resource_class_from_type", resource_class_from_type)
