"""AccessLogBucket: the target of the other buckets' server access logs."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, aws_s3 as s3
from constructs import Construct

from stacks.constructs.nag import suppress


class AccessLogBucket(Construct):
    def __init__(self, scope: Construct, id: str, *, retention_days: int = 365):
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
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(retention_days),
                                              noncurrent_version_expiration=Duration.days(30))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        suppress(self.bucket, {"AwsSolutions-S1": "This is the access-log target bucket; logging it to "
                                                  "itself would loop."})

    @property
    def cfn_bucket(self) -> s3.CfnBucket:
        return self.bucket.node.default_child
