"""moto's S3 buckets from CloudFormation, patched for versioning and Object Lock."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localaws.moto_patches import Patcher

if TYPE_CHECKING:
    from localaws.emulator import AwsEmulator


def install(emu: AwsEmulator, patcher: Patcher) -> None:
    from moto.s3.models import FakeBucket, s3_backends

    # AWS::S3::Bucket: moto ignores VersioningConfiguration and Object Lock, so `verify` (and the
    # promotion gate that runs it) would report the weights bucket unprotected.
    orig_bucket_create = FakeBucket.create_from_cloudformation_json.__func__

    def cfn_create_bucket(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        bucket = orig_bucket_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        props = cloudformation_json.get("Properties", {})
        backend = s3_backends[account_id]["aws"]
        if props.get("VersioningConfiguration", {}).get("Status") == "Enabled" or props.get("ObjectLockEnabled"):
            backend.put_bucket_versioning(bucket.name, "Enabled")
        if props.get("ObjectLockEnabled"):
            rule = props.get("ObjectLockConfiguration", {}).get("Rule", {}).get("DefaultRetention", {})
            # 0, not None, for the unit left out: moto adds both to compute a retention date
            backend.put_object_lock_configuration(bucket.name, True, rule.get("Mode"), rule.get("Days") or 0,
                                                  rule.get("Years") or 0)
        return bucket

    patcher.patch(FakeBucket, "create_from_cloudformation_json", classmethod(cfn_create_bucket))
