"""moto's KMS keys from CloudFormation, patched for the shape of CloudFormation's tags."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from localaws.moto_patches import Patcher

if TYPE_CHECKING:
    from localaws.emulator import AwsEmulator


def install(emu: AwsEmulator, patcher: Patcher) -> None:
    from moto.kms.models import Key as KmsKey

    # moto's AWS::KMS::Key passes CloudFormation's Tags ({Key, Value}) to a tagger that
    # wants {TagKey, TagValue}: KeyError, and the change set stops half applied.
    orig_kms_create = KmsKey.create_from_cloudformation_json.__func__

    def kms_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        cloudformation_json = copy.deepcopy(cloudformation_json)
        props = cloudformation_json.setdefault("Properties", {})
        props["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} if "Key" in t else t
                         for t in props.get("Tags", [])]
        return orig_kms_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    patcher.patch(KmsKey, "create_from_cloudformation_json", classmethod(kms_create))
