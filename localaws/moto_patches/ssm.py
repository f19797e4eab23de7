"""moto's SSM, patched for `AWS::SSM::Parameter` as CloudFormation handles it (the resource's schema
in cfn-lint's `cfnlint/data/schemas`, aws-ssm-parameter.json, and the PutParameter API reference):

- `Tags` is a JSON object of key -> value in the template (moto expected PutParameter's list of
  {Key, Value} and crashed with a TypeError half way through the create);
- an update that keeps `Name` changes the parameter in place (PutParameter with Overwrite: a new
  version of the same parameter, as the client's routing and serving parameters change); only a new
  `Name` replaces it (create the new one, then delete the old). moto deleted and re-created, and a
  failed create left "ParameterAlreadyExists" for every later update.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localaws.moto_patches import Patcher

if TYPE_CHECKING:
    from localaws.emulator import AwsEmulator


def install(emu: AwsEmulator, patcher: Patcher) -> None:
    from moto.ssm.models import Parameter, ssm_backends

    def put(properties: dict[str, Any], account_id: str, region_name: str, overwrite: bool) -> Any:
        tags = properties.get("Tags") or {}
        return ssm_backends[account_id][region_name].put_parameter(
            name=properties.get("Name"), description=properties.get("Description"), value=properties.get("Value"),
            parameter_type=properties.get("Type"), allowed_pattern=properties.get("AllowedPattern"), keyid=None,
            overwrite=overwrite, tags=None if overwrite else [{"Key": k, "Value": v} for k, v in tags.items()],
            data_type=properties.get("DataType", "text"), tier=properties.get("Tier"),
            policies=properties.get("Policies"))

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        put(cloudformation_json["Properties"], account_id, region_name, overwrite=False)
        return ssm_backends[account_id][region_name].get_parameter(cloudformation_json["Properties"]["Name"])

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        properties = cloudformation_json["Properties"]
        backend = ssm_backends[account_id][region_name]
        if properties.get("Name") == original_resource.name:
            put(properties, account_id, region_name, overwrite=True)
            return backend.get_parameter(original_resource.name)
        created = create(cls, new_resource_name, cloudformation_json, account_id, region_name)
        backend.delete_parameter(original_resource.name)
        return created

    patcher.patch(Parameter, "create_from_cloudformation_json", classmethod(create))
    patcher.patch(Parameter, "update_from_cloudformation_json", classmethod(update))
