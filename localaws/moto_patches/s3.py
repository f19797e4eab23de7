"""moto's S3, patched for versioning and Object Lock from CloudFormation, and for bucket policies
judged with the request's condition keys.

- AWS::S3::Bucket: moto ignores VersioningConfiguration and Object Lock, so `verify` (and the
  promotion gate that runs it) would report the weights bucket unprotected.
- Bucket policies on object requests: moto judges a policy without the request's context (a
  statement with a Condition never matches, and a non-matching Allow reads as a Deny), so the
  weights bucket's conditional-write rule could not work. Here each object request is named by
  the action S3 authorizes it as (S3 User Guide, "Amazon S3 actions" / "Policy actions for
  Amazon S3": PutObject covers PutObject, CopyObject and the multipart upload calls;
  DeleteObject with a versionId is DeleteObjectVersion) and judged with its condition keys by
  `localaws/iam_policy.py`: `s3:if-none-match` and `s3:if-match` from the request's headers,
  `s3:ObjectCreationOperation` true for PutObject, CopyObject and CompleteMultipartUpload and
  false for CreateMultipartUpload and UploadPart ("Enforce conditional writes on Amazon S3
  buckets"), `s3:x-amz-copy-source` from its header; `aws:SecureTransport` and `s3:TlsVersion`
  as if the request came over TLS 1.2 (the emulator listens on plain HTTP). An explicit Deny
  answers 403 AccessDenied, as S3 does.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

from localaws.iam_policy import ALLOW, DENY, evaluate
from localaws.moto_patches import Patcher

if TYPE_CHECKING:
    from localaws.emulator import AwsEmulator

_REQUEST = threading.local()  # the object request being answered: its action and condition keys
TLS = {"aws:SecureTransport": "true", "s3:TlsVersion": "1.2"}


def install(emu: AwsEmulator, patcher: Patcher) -> None:
    _buckets_from_cloudformation(patcher)
    _bucket_policies_with_context(patcher)


def _buckets_from_cloudformation(patcher: Patcher) -> None:
    from moto.s3.models import FakeBucket, s3_backends

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


def _bucket_policies_with_context(patcher: Patcher) -> None:
    from moto.iam.access_control import PermissionResult
    from moto.s3.exceptions import S3AccessDeniedError
    from moto.s3.models import FakeBucket
    from moto.s3.responses import S3Response

    def get_permission(self, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        verdict = evaluate(self.policy.decode(), getattr(_REQUEST, "action", None) or action, resource,
                           getattr(_REQUEST, "context", TLS), resource_policy=True)
        return {DENY: PermissionResult.DENIED, ALLOW: PermissionResult.PERMITTED}.get(verdict,
                                                                                     PermissionResult.NEUTRAL)

    orig_key_response = S3Response._key_response

    def key_response(self, request, full_url):
        action, context = object_request(request.method, parse_qs(urlparse(full_url).query, keep_blank_values=True),
                                         request.headers)
        _REQUEST.action, _REQUEST.context = action, context
        try:
            if action is not None:
                bucket_name = self.parse_bucket_name_from_url(request, full_url)
                bucket = self.backend.buckets.get(bucket_name)
                resource = f"arn:aws:s3:::{bucket_name}/{self.parse_key_name()}"
                if bucket is not None and get_permission(bucket, action, resource) == PermissionResult.DENIED:
                    raise S3AccessDeniedError()
            return orig_key_response(self, request, full_url)
        finally:
            _REQUEST.action, _REQUEST.context = None, TLS

    patcher.patch(FakeBucket, "get_permission", get_permission)
    patcher.patch(S3Response, "_key_response", key_response)


def object_request(method: str, query: dict, headers: Any) -> tuple[str | None, dict[str, str]]:
    """(the action S3 authorizes an object request as, its condition keys); None for requests no
    bucket policy of ours judges (reads, tagging, ACLs, retention)."""
    context = dict(TLS)
    for header, key in (("If-None-Match", "s3:if-none-match"), ("If-Match", "s3:if-match"),
                        ("x-amz-copy-source", "s3:x-amz-copy-source")):
        if headers.get(header) is not None:
            context[key] = headers.get(header)
    method = method.upper()
    if method == "PUT" and not set(query) & {"tagging", "acl", "retention", "legal-hold"}:
        context["s3:ObjectCreationOperation"] = "false" if "partNumber" in query else "true"
        return "s3:PutObject", context
    if method == "POST" and ("uploads" in query or "uploadId" in query):
        context["s3:ObjectCreationOperation"] = "true" if "uploadId" in query else "false"
        return "s3:PutObject", context
    if method == "DELETE" and "uploadId" in query:
        return "s3:AbortMultipartUpload", context
    if method == "DELETE" and "tagging" not in query:
        return ("s3:DeleteObjectVersion" if "versionId" in query else "s3:DeleteObject"), context
    return None, context
