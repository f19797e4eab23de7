"""SecureBucket: an S3 bucket with the project's baseline.

KMS-encrypted with the environment key, public access blocked, TLS 1.2+
only, versioned, access-logged, retained on stack deletion. The weights
bucket adds Object Lock so a pinned object version cannot be overwritten or
deleted during its retention; the capture bucket adds expiry instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, aws_kms as kms, aws_s3 as s3
from constructs import Construct


@dataclass(frozen=True)
class SecureBucketProps:
    key: kms.IKey
    access_logs: s3.IBucket
    access_log_prefix: str
    bucket_name: str | None = None
    object_lock_days: int | None = None  # governance-mode default retention
    expire_days: int | None = None


class SecureBucket(Construct):
    def __init__(self, scope: Construct, id: str, props: SecureBucketProps):
        super().__init__(scope, id)
        lock = (s3.ObjectLockRetention.governance(Duration.days(props.object_lock_days))
                if props.object_lock_days else None)
        lifecycle = ([s3.LifecycleRule(expiration=Duration.days(props.expire_days),
                                       noncurrent_version_expiration=Duration.days(1))]
                     if props.expire_days else None)
        self.bucket = s3.Bucket(
            self, "Bucket",
            bucket_name=props.bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=props.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            object_lock_enabled=bool(lock),
            object_lock_default_retention=lock,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=props.access_logs,
            server_access_logs_prefix=props.access_log_prefix,
            lifecycle_rules=lifecycle,
            removal_policy=RemovalPolicy.RETAIN,
        )

    @property
    def cfn_bucket(self) -> s3.CfnBucket:
        return self.bucket.node.default_child
