"""The artifacts stack: key, buckets and Model Registry, as reviewers read them in the template."""

from __future__ import annotations

from conftest import ROOT, dumps, only, resources

from config.project import load_project

PROJECT = load_project(ROOT)


def weights_bucket(template: dict) -> dict:
    return next(r for r in resources(template, "AWS::S3::Bucket").values()
                if r["Properties"].get("ObjectLockEnabled"))


def test_environment_key_rotates_and_lets_cloudwatch_use_encrypted_topics(templates):
    key = only(templates["llama-prod-artifacts"], "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    principals = dumps(key["Properties"]["KeyPolicy"])
    assert "cloudwatch.amazonaws.com" in principals


def test_weights_bucket_is_locked_encrypted_private_and_named_per_environment(templates):
    for env in ("dev", "staging", "prod"):
        bucket = weights_bucket(templates[f"llama-{env}-artifacts"])
        props = bucket["Properties"]
        assert props["BucketName"] == PROJECT.environments[env].weights_bucket_name
        retention = props["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
        assert retention == {"Mode": "GOVERNANCE", "Days": PROJECT.environments[env].object_lock_days}
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
        assert "LoggingConfiguration" in props
        assert bucket["DeletionPolicy"] == "Retain"


def test_every_bucket_refuses_plain_http_and_old_tls(templates):
    for name, template in templates.items():
        if not name.endswith("artifacts"):
            continue
        buckets = set(resources(template, "AWS::S3::Bucket"))
        policies = resources(template, "AWS::S3::BucketPolicy").values()
        guarded = set()
        for policy in policies:
            text = dumps(policy["Properties"]["PolicyDocument"])
            if '"aws:SecureTransport": "false"' in text and '"s3:TlsVersion": 1.2' in text:
                guarded.add(policy["Properties"]["Bucket"]["Ref"])
        assert guarded == buckets, f"{name}: buckets without TLS-only policy: {buckets - guarded}"


def test_one_package_group_per_model_and_one_package_per_pinned_version(templates):
    template = templates["llama-dev-artifacts"]
    groups = {g["Properties"]["ModelPackageGroupName"] for g in resources(template, "AWS::SageMaker::ModelPackageGroup").values()}
    assert groups == {"dev-llama-3-2-3b-instruct", "dev-llama-3-2-1b-instruct"}
    packages = resources(template, "AWS::SageMaker::ModelPackage").values()
    versions = {(p["Properties"]["CustomerMetadataProperties"]["pin-model"],
                 p["Properties"]["CustomerMetadataProperties"]["pin-version"]) for p in packages}
    assert versions == set(PROJECT.pins)


def test_model_package_carries_exactly_the_pin(templates):
    pin = PROJECT.pins[("llama-3-2-3b-instruct", "v2")]
    template = templates["llama-prod-artifacts"]
    package = next(p["Properties"] for p in resources(template, "AWS::SageMaker::ModelPackage").values()
                   if p["Properties"]["CustomerMetadataProperties"]["pin-version"] == "v2"
                   and p["Properties"]["CustomerMetadataProperties"]["pin-model"] == pin.model)
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["Image"] == pin.container.images["us-east-1"]
    assert container["ImageDigest"] == "sha256:" + container["Image"].split("@sha256:")[1]
    assert container["ModelDataSource"]["S3DataSource"] == {
        "S3Uri": f"s3://{PROJECT.environments['prod'].weights_bucket_name}/{pin.weights.prefix}",
        "S3DataType": "S3Prefix", "CompressionType": "None"}
    assert container["Environment"]["HF_MODEL_ID"] == "/opt/ml/model"
    assert container["Environment"]["OPTION_MAX_MODEL_LEN"] == str(pin.serving.max_model_len)
    assert len(container["Environment"]) <= 16
    assert package["ModelApprovalStatus"] == pin.approval.status.value
    meta = package["CustomerMetadataProperties"]
    assert meta["pin-manifest-sha256"] == pin.manifest_sha256
    assert meta["source-revision"] == pin.source.revision
    assert all(t.startswith("ml.g5.") for t in package["InferenceSpecification"]["SupportedRealtimeInferenceInstanceTypes"])


def test_tgi_pin_gets_tgi_environment(templates):
    template = templates["llama-dev-artifacts"]
    package = next(p["Properties"] for p in resources(template, "AWS::SageMaker::ModelPackage").values()
                   if p["Properties"]["CustomerMetadataProperties"]["pin-model"] == "llama-3-2-1b-instruct")
    env = package["InferenceSpecification"]["Containers"][0]["Environment"]
    assert env["MAX_TOTAL_TOKENS"] == "8192" and env["MAX_INPUT_TOKENS"] == "7680" and env["SM_NUM_GPUS"] == "1"
    assert "OPTION_ROLLING_BATCH" not in env


def test_every_package_arn_is_exported_so_promotion_never_removes_an_export_in_use(templates):
    template = templates["llama-prod-artifacts"]
    packages = set(resources(template, "AWS::SageMaker::ModelPackage"))
    exported = {o["Value"]["Fn::GetAtt"][0] for o in template["Outputs"].values()
                if "Export" in o and isinstance(o["Value"], dict) and "Fn::GetAtt" in o["Value"]
                and o["Value"]["Fn::GetAtt"][1] == "ModelPackageArn"}
    assert exported == packages


def test_registry_and_packages_are_retained_as_audit_records(templates):
    template = templates["llama-staging-artifacts"]
    for kind in ("AWS::SageMaker::ModelPackageGroup", "AWS::SageMaker::ModelPackage"):
        assert {r["DeletionPolicy"] for r in resources(template, kind).values()} == {"Retain"}
