"""SecureBucket: an S3 bucket with the project's baseline.

KMS-encrypted with the environment key, public access blocked, TLS 1.2+
only, versioned, access-logged, retained on stack deletion, object events sent
to EventBridge (AWS Control Tower CT.S3.PR.4). The capture bucket adds expiry.

The weights bucket adds Object Lock and `immutable_objects`. Object Lock protects each
object *version*, but SageMaker copies the *current* versions under an S3Prefix at every
instance launch, and a new version or a delete marker can become current under any lock.
So its bucket policy makes an existing key impossible to replace or delete, for every
principal: PutObject and CompleteMultipartUpload must carry `If-None-Match: *` (S3 User Guide,
"Enforce conditional writes on Amazon S3 buckets": `s3:if-none-match` is Null without the
header; `s3:ObjectCreationOperation` exempts CreateMultipartUpload, UploadPart and
UploadPartCopy, which accept no conditional header; CopyObject into the bucket is refused
as a consequence), and DeleteObject / DeleteObjectVersion are denied. COMPLIANCE mode (for
production) also takes away the GOVERNANCE bypass (`s3:BypassGovernanceRetention`): no one,
root included, can shorten a version's retention. A lifecycle rule aborts incomplete
multipart uploads (a killed `pin-weights`) after 7 days (CT.S3.PR.3/PR.6).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, aws_iam as iam, aws_kms as kms, aws_s3 as s3
from constructs import Construct

ABORT_INCOMPLETE_UPLOADS_DAYS = 7


@dataclass(frozen=True)
class SecureBucketProps:
    kms_key: kms.IKey
    access_logs: s3.IBucket
    access_log_prefix: str
    bucket_name: str | None = None
    object_lock_days: int | None = None  # default retention of every new object version
    object_lock_mode: str = "GOVERNANCE"  # or COMPLIANCE
    expire_days: int | None = None
    immutable_objects: bool = False  # no key may be overwritten or deleted (the weights)


class SecureBucket(Construct):
    def __init__(self, scope: Construct, id: str, props: SecureBucketProps):
        super().__init__(scope, id)
        lock = None
        if props.object_lock_days:
            days = Duration.days(props.object_lock_days)
            lock = (s3.ObjectLockRetention.compliance(days) if props.object_lock_mode == "COMPLIANCE"
                    else s3.ObjectLockRetention.governance(days))
        if props.expire_days:
            lifecycle = [s3.LifecycleRule(expiration=Duration.days(props.expire_days),
                                          noncurrent_version_expiration=Duration.days(1))]
        else:
            lifecycle = [s3.LifecycleRule(
                abort_incomplete_multipart_upload_after=Duration.days(ABORT_INCOMPLETE_UPLOADS_DAYS))]
        self.bucket = s3.Bucket(
            self, "Bucket",
            bucket_name=props.bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=props.kms_key,
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
        self.cfn_bucket: s3.CfnBucket = self.bucket.node.default_child
        send_events_to_eventbridge(self.cfn_bucket)
        if props.immutable_objects:
            objects = self.bucket.arn_for_objects("*")
            self.bucket.add_to_resource_policy(iam.PolicyStatement(
                sid="DenyOverwritingObjects", effect=iam.Effect.DENY, principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"], resources=[objects],
                conditions={"Null": {"s3:if-none-match": "true"}, "Bool": {"s3:ObjectCreationOperation": "true"}}))
            self.bucket.add_to_resource_policy(iam.PolicyStatement(
                sid="DenyDeletingObjects", effect=iam.Effect.DENY, principals=[iam.AnyPrincipal()],
                actions=["s3:DeleteObject", "s3:DeleteObjectVersion"], resources=[objects]))


def send_events_to_eventbridge(bucket: s3.CfnBucket) -> None:
    """S3 object events to the account's default EventBridge bus, set on the L1: the L2's
    `event_bridge_enabled` deploys a notifications Lambda for what CloudFormation sets itself."""
    bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
        event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True))
