"""AccessLogBucket: the target of the other buckets' server access logs."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, aws_s3 as s3
from constructs import Construct

from stacks.constructs.nag import CONTROL_TOWER, suppress
from stacks.constructs.secure_bucket import send_events_to_eventbridge


@dataclass(frozen=True)
class AccessLogBucketProps:
    retention_days: int = 365


class AccessLogBucket(Construct):
    def __init__(self, scope: Construct, id: str, props: AccessLogBucketProps):
        super().__init__(scope, id)
        self.bucket = s3.Bucket(
            self, "Bucket",
            # S3 log delivery cannot write to SSE-KMS default-encrypted target buckets.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            # No ACLs: log delivery is granted by bucket policy (@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy).
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(props.retention_days),
                                              noncurrent_version_expiration=Duration.days(30))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.cfn_bucket: s3.CfnBucket = self.bucket.node.default_child
        send_events_to_eventbridge(self.cfn_bucket)
        loop = "This is the access-log target bucket; logging it to itself would loop."
        suppress(self.bucket, {
            "AwsSolutions-S1": loop,
            f"{CONTROL_TOWER}::s3_bucket_logging_enabled_check": loop,
            # S3 User Guide, "Enabling Amazon S3 server access logging": the destination bucket may use
            # SSE-S3 only (no SSE-KMS default encryption) and no Object Lock default retention.
            f"{CONTROL_TOWER}::s3_bucket_default_encryption_kms_check": (
                "S3 server access log delivery writes only to SSE-S3 default-encrypted buckets, not SSE-KMS"),
            f"{CONTROL_TOWER}::s3_bucket_object_lock_enabled_check": (
                "S3 server access logs cannot be delivered to a bucket with an Object Lock default retention, "
                "and logs expire by lifecycle"),
        })
