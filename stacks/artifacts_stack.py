"""ArtifactsStack: per environment, the key, the buckets and the Model Registry.

The versions the environment keeps (config/registry_retention.py: live, shadow and the newest
`keep_versions` per model) are registered and exported, not only the live one, so a promotion
changes only the endpoint stack; a retired version leaves the template and its package stays
in the registry (DeletionPolicy Retain).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Stack, Tags
from constructs import Construct

from config import naming
from config.environment import Environment
from config.pin import Pin
from config.registry_content import registry_content
from stacks.constructs.access_log_bucket import AccessLogBucket, AccessLogBucketProps
from stacks.constructs.environment_key import EnvironmentKey, EnvironmentKeyProps
from stacks.constructs.model_package_group import ModelPackageGroup, ModelPackageGroupProps
from stacks.constructs.nag import CONTROL_TOWER, suppress
from stacks.constructs.pinned_model_package import PinnedModelPackage, PinnedModelPackageProps
from stacks.constructs.secure_bucket import SecureBucket, SecureBucketProps

CAPTURE_EXPIRY_DAYS = 90


@dataclass(frozen=True)
class ArtifactsStackProps:
    environment: Environment
    pins: list[Pin]  # the versions it registers: config/registry_retention.py registered_pins


class ArtifactsStack(Stack):
    def __init__(self, scope: Construct, id: str, props: ArtifactsStackProps, **kwargs):
        super().__init__(scope, id, **kwargs)
        env = props.environment
        Tags.of(self).add("environment", env.name)
        self.kms_key = EnvironmentKey(self, "Key", EnvironmentKeyProps(alias=naming.key_alias(env.name),
                                                                      environment=env.name)).key
        logs = AccessLogBucket(self, "AccessLogs", AccessLogBucketProps()).bucket
        self.weights_bucket = SecureBucket(self, "Weights", SecureBucketProps(
            kms_key=self.kms_key, access_logs=logs, access_log_prefix="weights/",
            bucket_name=env.weights_bucket_name, object_lock_days=env.object_lock_days,
            object_lock_mode=env.object_lock_mode.upper(), immutable_objects=True)).bucket
        self.capture_bucket = SecureBucket(self, "DataCapture", SecureBucketProps(
            kms_key=self.kms_key, access_logs=logs, access_log_prefix="data-capture/",
            bucket_name=env.capture_bucket_name, expire_days=CAPTURE_EXPIRY_DAYS)).bucket
        suppress(self.capture_bucket, {f"{CONTROL_TOWER}::s3_bucket_object_lock_enabled_check": (
            f"Captured requests and answers may hold user data that must be deletable, and expire after "
            f"{CAPTURE_EXPIRY_DAYS} days: Object Lock would keep them")})

        self.groups: dict[str, ModelPackageGroup] = {}
        self.packages: dict[tuple[str, str], PinnedModelPackage] = {}
        for pin in sorted(props.pins, key=lambda p: p.ref):
            if env.region not in pin.container.images:
                continue  # not deployable here; validation refuses it as a live version
            group = self.groups.get(pin.model)
            if group is None:
                group = self.groups[pin.model] = ModelPackageGroup(self, f"Group-{pin.model}", ModelPackageGroupProps(
                    name=env.package_group(pin.model), model=pin.model, hub_repo=pin.source.hub_repo))
            self.packages[pin.ref] = PinnedModelPackage(
                self, f"Package-{pin.model}-{pin.version}", PinnedModelPackageProps(
                    pin=pin, group=group, region=env.region, weights_bucket_name=env.weights_bucket_name,
                    content=registry_content(pin)))
            # Export every version's ARN, live or not: a promotion then only switches which
            # export the endpoint stack imports, and never removes one still in use.
            self.export_value(self.packages[pin.ref].arn)
