"""The artifacts and access constructs on their own: a bare Stack, the smallest props, one branch each
(as aws-cdk's own construct tests do), independent of the example environments."""

from __future__ import annotations

import json

import pytest
from aws_cdk import Environment as StackTarget
from aws_cdk import Stack
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template
from conftest import ROOT

from config.pin import RegistryContent
from config.project import load_project
from stacks.constructs.access_log_bucket import AccessLogBucket, AccessLogBucketProps
from stacks.constructs.alarm_topic import AlarmTopic, AlarmTopicProps
from stacks.constructs.endpoint_execution_role import (
    EndpointExecutionRole,
    EndpointExecutionRoleProps,
)
from stacks.constructs.environment_key import EnvironmentKey, EnvironmentKeyProps
from stacks.constructs.model_package_group import (
    ModelPackageGroup,
    ModelPackageGroupProps,
)
from stacks.constructs.pinned_model_package import (
    PinnedModelPackage,
    PinnedModelPackageProps,
)
from stacks.constructs.secure_bucket import SecureBucket, SecureBucketProps
from stacks.environment_app import new_app

pytestmark = pytest.mark.xdist_group("cdk")  # builds stacks in this process: see conftest.py


def bare_stack() -> Stack:
    """A Stack of its own in an App with the project's feature flags (cdk.json), as every stack here has."""
    return Stack(new_app(ROOT), "Test", env=StackTarget(account="111111111111", region="us-east-1"))


def secure_bucket(stack: Stack, **props) -> None:
    key = kms.Key(stack, "Key")
    logs = AccessLogBucket(stack, "Logs", AccessLogBucketProps()).bucket
    SecureBucket(stack, "Bucket", SecureBucketProps(kms_key=key, access_logs=logs, access_log_prefix="b/", **props))


def bucket_properties(template: Template) -> dict:
    """The SecureBucket's properties (the one with KMS encryption)."""
    return next(b["Properties"] for b in template.find_resources("AWS::S3::Bucket").values()
                if "KMSMasterKeyID" in str(b["Properties"].get("BucketEncryption")))


def test_a_minimal_secure_bucket_is_encrypted_versioned_private_and_logged_without_lock_or_expiry():
    stack = bare_stack()
    secure_bucket(stack)
    props = bucket_properties(Template.from_stack(stack))
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                                       "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert props["LoggingConfiguration"]["LogFilePrefix"] == "b/"
    assert not props.get("ObjectLockEnabled") and "ObjectLockConfiguration" not in props
    # a killed multipart upload does not linger (Control Tower CT.S3.PR.3/PR.6), nothing else expires
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule == {"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}, "Status": "Enabled"}
    assert props["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}


def test_object_lock_days_lock_every_new_object_version():
    stack = bare_stack()
    secure_bucket(stack, object_lock_days=30)
    props = bucket_properties(Template.from_stack(stack))
    assert props["ObjectLockEnabled"] is True
    assert props["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]["Days"] == 30


def test_compliance_mode_locks_versions_beyond_any_bypass():
    stack = bare_stack()
    secure_bucket(stack, object_lock_days=365, object_lock_mode="COMPLIANCE")
    retention = bucket_properties(Template.from_stack(stack))["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
    assert retention == {"Days": 365, "Mode": "COMPLIANCE"}


def test_immutable_objects_cannot_be_replaced_or_deleted_by_anyone():
    """S3 User Guide, "Enforce conditional writes": writes need If-None-Match (the multipart calls that take
    no header are exempted by s3:ObjectCreationOperation); deletes of objects and versions are denied."""
    stack = bare_stack()
    secure_bucket(stack, immutable_objects=True)
    policies = Template.from_stack(stack).find_resources("AWS::S3::BucketPolicy").values()
    by_sid = {s.get("Sid"): s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]}
    overwrite, delete = by_sid["DenyOverwritingObjects"], by_sid["DenyDeletingObjects"]
    assert (overwrite["Effect"], overwrite["Principal"], overwrite["Action"]) == ("Deny", {"AWS": "*"}, "s3:PutObject")
    assert overwrite["Condition"] == {"Null": {"s3:if-none-match": "true"}, "Bool": {"s3:ObjectCreationOperation": "true"}}
    assert (delete["Effect"], delete["Action"], "Condition" in delete) == \
        ("Deny", ["s3:DeleteObject", "s3:DeleteObjectVersion"], False)
    assert "/*" in json.dumps(overwrite["Resource"]) and "/*" in json.dumps(delete["Resource"])


def test_expiry_days_expire_current_and_noncurrent_versions():
    stack = bare_stack()
    secure_bucket(stack, expire_days=90)
    (rule,) = bucket_properties(Template.from_stack(stack))["LifecycleConfiguration"]["Rules"]
    assert (rule["ExpirationInDays"], rule["NoncurrentVersionExpiration"]["NoncurrentDays"], rule["Status"]) == \
        (90, 1, "Enabled")


def test_secure_bucket_policy_refuses_plain_http_and_old_tls():
    stack = bare_stack()
    secure_bucket(stack)
    policies = Template.from_stack(stack).find_resources("AWS::S3::BucketPolicy")
    conditions = [s.get("Condition", {}) for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    assert {"Bool": {"aws:SecureTransport": "false"}} in conditions
    assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in conditions


def test_environment_key_rotates_is_retained_and_takes_its_alias():
    stack = bare_stack()
    EnvironmentKey(stack, "Key", EnvironmentKeyProps(alias="alias/llama-x", environment="x"))
    template = Template.from_stack(stack)
    template.has_resource("AWS::KMS::Key", {"Properties": Match.object_like({"EnableKeyRotation": True}),
                                            "DeletionPolicy": "Retain"})
    template.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/llama-x"})
    (key,) = template.find_resources("AWS::KMS::Key").values()
    (deny,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "DenyGrantsExceptForAwsResources"]
    assert (deny["Effect"], deny["Action"], deny["Principal"]) == ("Deny", "kms:CreateGrant", {"AWS": "*"})
    assert deny["Condition"] == {"BoolIfExists": {"kms:GrantIsForAWSResource": "false",
                                                  "aws:PrincipalIsAWSService": "false"}}


def test_alarm_topic_without_emails_has_no_subscription_and_is_encrypted():
    stack = bare_stack()
    AlarmTopic(stack, "Topic", AlarmTopicProps(name="e", kms_key=kms.Key(stack, "Key")))
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SNS::Subscription", 0)
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})


def test_a_model_package_is_the_pin_by_digest_with_uncompressed_weights_and_its_provenance():
    pin = load_project(ROOT).pins[("llama-3-2-3b-instruct", "v2")]
    stack = bare_stack()
    group = ModelPackageGroup(stack, "Group", ModelPackageGroupProps(name="x-m", model=pin.model, hub_repo="o/r"))
    PinnedModelPackage(stack, "Package", PinnedModelPackageProps(
        pin=pin, group=group, region="us-east-1", weights_bucket_name="b", content=RegistryContent(
            description="d", environment={"A": "1"}, content_types=["application/json"],
            instance_types=["ml.g5.xlarge"])))
    template = Template.from_stack(stack)
    template.has_resource("AWS::SageMaker::ModelPackageGroup", {"DeletionPolicy": "Retain"})
    (package,) = template.find_resources("AWS::SageMaker::ModelPackage").values()
    assert package["DeletionPolicy"] == "Retain"
    props = package["Properties"]
    (container,) = props["InferenceSpecification"]["Containers"]
    assert container["Image"] == pin.container.images["us-east-1"]
    assert container["ImageDigest"] == "sha256:" + pin.container.images["us-east-1"].rsplit("@sha256:", 1)[1]
    assert container["ModelDataSource"]["S3DataSource"] == {
        "S3Uri": "s3://b/llama-3-2-3b-instruct/v2/", "S3DataType": "S3Prefix", "CompressionType": "None"}
    assert props["ModelApprovalStatus"] == "Approved"
    assert props["CustomerMetadataProperties"]["pin-manifest-sha256"] == pin.manifest_sha256


def test_a_minimal_execution_role_reads_its_model_and_image_only():
    stack = bare_stack()
    role = EndpointExecutionRole(stack, "Role", EndpointExecutionRoleProps(
        endpoint_name="e", weights_bucket_name="b", model_prefix="m/", image_registry="763104351884",
        image_repository="djl-inference", kms_key=kms.Key(stack, "Key")))
    template = Template.from_stack(stack)
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    sids = {s["Sid"] for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert not {"WriteOwnDataCapture", "CreateEnisInOwnSubnets", "ReadOwnRollbackAlarms"} & sids
    template.has_resource_properties("AWS::IAM::Role", {"AssumeRolePolicyDocument": Match.object_like({
        "Statement": [Match.object_like({"Principal": {"Service": "sagemaker.amazonaws.com"}})]})})
    assert role.role is not None
