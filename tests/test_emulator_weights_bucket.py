"""The weights bucket as the artifacts stack deploys it: an existing weight object can be neither
overwritten nor deleted (its bucket policy requires conditional writes and denies deletes, judged
with each request's condition keys by localaws/moto_patches/s3.py), while `pin-weights`' own
uploads (If-None-Match on PutObject and CompleteMultipartUpload) still go through."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from localaws.emulator import AwsEmulator
from scripts.pinning import s3_objects, verification
from scripts.pinning.hashing import hash_file

pytestmark = pytest.mark.slow  # full tier: the emulator, and the session's synth of the example app

BUCKET = "llama-weights-dev-111111111111-us-east-1"
KEY = "llama-3-2-3b-instruct/v9/config.json"


@pytest.fixture
def s3(templates):
    template = dict(templates["llama-dev-artifacts"])
    for section in ("Parameters", "Rules"):  # the CDK bootstrap version check: no bootstrap here
        template.pop(section, None)
    with AwsEmulator(account_id="111111111111") as emu:
        emu.client("cloudformation").create_stack(StackName="llama-dev-artifacts", TemplateBody=json.dumps(template))
        client = emu.client("s3")
        yield client


def _code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def test_a_new_key_is_written_once_and_never_replaced(s3):
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"{}", IfNoneMatch="*", ChecksumAlgorithm="SHA256")
    with pytest.raises(ClientError) as unconditional:  # a plain overwrite: refused by the bucket policy
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"{x}", ChecksumAlgorithm="SHA256")
    assert _code(unconditional) == "AccessDenied"
    with pytest.raises(ClientError) as conditional:  # with the header: refused because the key exists
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"{x}", IfNoneMatch="*", ChecksumAlgorithm="SHA256")
    assert _code(conditional) == "PreconditionFailed"
    with pytest.raises(ClientError) as copied:  # CopyObject cannot carry the header's promise either
        s3.copy_object(Bucket=BUCKET, Key=KEY, CopySource={"Bucket": BUCKET, "Key": KEY}, MetadataDirective="REPLACE")
    assert _code(copied) == "AccessDenied"
    assert s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == b"{}"
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=KEY)
    assert len(versions["Versions"]) == 1 and "DeleteMarkers" not in versions


def test_a_weight_object_cannot_be_deleted_nor_any_of_its_versions(s3):
    version = s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"{}", IfNoneMatch="*",
                            ChecksumAlgorithm="SHA256")["VersionId"]
    for kwargs in ({}, {"VersionId": version}):
        with pytest.raises(ClientError) as refused:
            s3.delete_object(Bucket=BUCKET, Key=KEY, **kwargs)
        assert _code(refused) == "AccessDenied"
    result = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": KEY}]})
    assert [e["Code"] for e in result.get("Errors", [])] == ["AccessDenied"]
    assert s3.head_object(Bucket=BUCKET, Key=KEY)["VersionId"] == version


def test_pin_weights_uploads_single_and_multipart_objects_under_the_policy(s3, tmp_path: Path):
    small, big = tmp_path / "config.json", tmp_path / "model.safetensors"
    small.write_bytes(b'{"a": 1}')
    big.write_bytes(bytes(range(256)) * (6 * 4096 + 7))  # above the 5 MiB part size: a multipart upload
    part = 5 * 1024 * 1024
    uploads = [s3_objects.Upload(str(p), f"m/v1/{p.name}", hash_file(p, part)) for p in (small, big)]
    assert s3_objects.upload_all(s3, BUCKET, uploads, part, concurrency=2) == []
    assert s3_objects.confirm(s3, BUCKET, uploads, workers=2) == []
    assert s3_objects.upload_all(s3, BUCKET, uploads, part, concurrency=2)  # a second upload: both refused
    with pytest.raises(ClientError) as unconditional:  # the client is plain again after the upload
        s3.put_object(Bucket=BUCKET, Key="m/v1/config.json", Body=b"{}")
    assert _code(unconditional) == "AccessDenied"


def test_verify_sees_the_bucket_protected(s3):
    exists, findings = verification.check_bucket(s3, BUCKET)
    assert exists and [f.problem for f in findings] == []
