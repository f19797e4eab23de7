"""Prove that a bucket and ECR hold what pins say; reused by `verify` and `promote`.

For each pin:
- every pinned file exists under the prefix with the pinned size and SHA-256:
  by S3's own full-object checksum when there is one, otherwise (multipart
  uploads carry a composite checksum, older uploads none) by streaming and
  hashing the object's current version;
- no other object is under the prefix (SageMaker would load it too);
- every pinned image digest exists in its region's ECR registry, where ECR can
  be asked (else the image is reported as unverified, not as a mismatch).
For the bucket: versioning and Object Lock are enabled, and its policy makes an existing key
impossible to replace or delete (conditional writes required, deletes denied:
stacks/constructs/secure_bucket.py). SageMaker loads the *current* version of each object at
every instance launch, so the checksums above are the current versions'; a pinned key with
more than one version, or a delete marker, was replaced or deleted after its upload and is
reported even when its current content is right.

Findings are *mismatches* (the exit code fails), *warnings* (an object with
no retention or legal hold, a bucket without default retention: the content
is right but not protected) or *unverified* (ECR could not be asked).

    report = verify(pins, bucket, s3=client("s3", region), ecr_for=lambda r: client("ecr", r))
    if not report.ok: ...
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Callable, Iterable

from scripts.lib.aws import error_code
from scripts.pinning import images, s3_objects
from scripts.pinning.hashing import FileDigest
from config.fields import DIGEST_IMAGE
from config.pin import Pin


class Severity(str, Enum):
    MISMATCH = "mismatch"
    WARNING = "warning"
    UNVERIFIED = "unverified"


@dataclass(frozen=True)
class Finding:
    pin: str  # "model/version", or "" for the bucket
    kind: str  # bucket | object | image
    subject: str  # file path under the pin's prefix, region, or bucket name
    problem: str
    expected: str = ""
    actual: str = ""
    severity: Severity = Severity.MISMATCH
    key: str = ""  # the full S3 key, for objects

    def row(self) -> list[str]:
        """A compact table row (full values are in the JSON result)."""
        return [self.severity.value, self.pin or "-", f"{self.kind} {self.subject}", self.problem,
                _short(self.expected), _short(self.actual)]


def _short(value: str) -> str:
    if len(value) > 24 and ("@sha256:" in value or all(c in "0123456789abcdef" for c in value)):
        return value[-64:][:12] + "…"
    return value


COLUMNS = ["severity", "pin", "what", "problem", "expected", "actual"]


@dataclass
class Report:
    bucket: str
    pins: list[str]
    findings: list[Finding] = field(default_factory=list)
    objects_checked: int = 0
    objects_by_checksum: int = 0
    objects_streamed: int = 0
    bytes_streamed: int = 0
    images_checked: int = 0
    images_skipped: bool = False

    @property
    def mismatches(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.MISMATCH]

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "bucket": self.bucket, "pins": self.pins,
            "mismatches": len(self.mismatches),
            "warnings": sum(f.severity is Severity.WARNING for f in self.findings),
            "unverified": sum(f.severity is Severity.UNVERIFIED for f in self.findings),
            "objects_checked": self.objects_checked, "objects_by_checksum": self.objects_by_checksum,
            "objects_streamed": self.objects_streamed, "bytes_streamed": self.bytes_streamed,
            "images_checked": self.images_checked, "images_skipped": self.images_skipped,
            "findings": [{**asdict(f), "severity": f.severity.value} for f in self.findings],
        }


def check_bucket(s3: Any, bucket: str) -> tuple[bool, list[Finding]]:
    """(bucket exists, findings) for versioning and Object Lock."""
    from botocore.exceptions import ClientError

    findings: list[Finding] = []
    try:
        versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status", "never enabled")
    except ClientError as exc:
        if error_code(exc) in ("NoSuchBucket", "404"):
            return False, [Finding("", "bucket", bucket, "bucket does not exist", "a weights bucket", "none")]
        raise
    if versioning != "Enabled":
        findings.append(Finding("", "bucket", bucket, "versioning is not enabled", "Enabled", versioning))
    try:
        lock = s3.get_object_lock_configuration(Bucket=bucket).get("ObjectLockConfiguration", {})
    except ClientError as exc:
        if error_code(exc) != "ObjectLockConfigurationNotFoundError":
            raise
        lock = {}
    findings += _policy_findings(s3, bucket)
    if lock.get("ObjectLockEnabled") != "Enabled":
        findings.append(Finding("", "bucket", bucket, "Object Lock is not enabled", "Enabled",
                                lock.get("ObjectLockEnabled", "not configured")))
    elif not lock.get("Rule", {}).get("DefaultRetention"):
        findings.append(Finding("", "bucket", bucket, "Object Lock has no default retention: new objects "
                                "are not locked", "a default retention rule", "none", Severity.WARNING))
    return True, findings


def _policy_findings(s3: Any, bucket: str) -> list[Finding]:
    """A warning unless the bucket policy denies unconditional writes and deletes of objects."""
    import json

    from botocore.exceptions import ClientError

    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as exc:
        if error_code(exc) != "NoSuchBucketPolicy":
            raise
        policy = {}
    denied = set()
    for st in policy.get("Statement", []):
        if st.get("Effect") != "Deny":
            continue
        actions = st["Action"] if isinstance(st.get("Action"), list) else [st.get("Action")]
        if "s3:PutObject" in actions and st.get("Condition", {}).get("Null", {}).get("s3:if-none-match") == "true":
            denied.add("overwrite")
        if {"s3:DeleteObject", "s3:DeleteObjectVersion"} <= set(actions) and not st.get("Condition"):
            denied.add("delete")
    missing = {"overwrite", "delete"} - denied
    if not missing:
        return []
    return [Finding("", "bucket", bucket, f"policy allows {' and '.join(sorted(missing))} of objects",
                    "denied", "allowed", Severity.WARNING)]


def _replaced(s3: Any, bucket: str, pin: Pin, keys: set[str]) -> list[Finding]:
    """Warnings for pinned keys that have more than one version or a delete marker."""
    label, versions, markers = f"{pin.model}/{pin.version}", {}, {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=pin.weights.prefix):
        for v in page.get("Versions", []):
            versions[v["Key"]] = versions.get(v["Key"], 0) + 1
        for m in page.get("DeleteMarkers", []):
            markers[m["Key"]] = markers.get(m["Key"], 0) + 1
    return [Finding(label, "object", key[len(pin.weights.prefix):],
                    "replaced or deleted after upload",
                    "1 version", f"{versions.get(key, 0)} versions" + (f", {markers[key]} deleted" if markers.get(key) else ""),
                    Severity.WARNING, key=key)
            for key in sorted(keys) if versions.get(key, 0) > 1 or markers.get(key)]


def check_objects(s3: Any, bucket: str, pin: Pin, report: Report, workers: int = 8,
                  progress: Callable[[str, int], AbstractContextManager] | None = None) -> list[Finding]:
    """Findings for the pin's weight files (and stray objects) under its prefix."""
    label = f"{pin.model}/{pin.version}"
    prefix = pin.weights.prefix
    findings: list[Finding] = []
    pinned = {prefix + f.path: f for f in pin.weights.files}
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(pinned)))) as pool:
        heads = dict(zip(pinned, pool.map(lambda key: s3_objects.head(s3, bucket, key), pinned), strict=True))
    stray = sorted(set(s3_objects.list_keys(s3, bucket, prefix)) - set(pinned))
    findings += _replaced(s3, bucket, pin, set(pinned))
    for key in stray:
        findings.append(Finding(label, "object", key[len(prefix):], "object under the prefix is not in the pin "
                                "(SageMaker would load it into /opt/ml/model)", "absent", "present", key=key))
    now = datetime.now(timezone.utc)
    to_stream: list[s3_objects.StoredObject] = []
    for key, wanted in pinned.items():
        obj = heads[key]
        report.objects_checked += 1
        if obj is None:
            findings.append(Finding(label, "object", wanted.path, "missing", f"{wanted.size} bytes", "no object",
                                    key=key))
            continue
        if obj.size != wanted.size:
            findings.append(Finding(label, "object", wanted.path, "size differs", str(wanted.size), str(obj.size),
                                    key=key))
            continue
        if obj.checksum and not obj.multipart:
            report.objects_by_checksum += 1
            expected = FileDigest(wanted.size, wanted.sha256).sha256_b64
            if obj.checksum != expected:
                findings.append(Finding(label, "object", wanted.path, "sha256 differs (S3 checksum)", wanted.sha256,
                                        _hex(obj.checksum), key=key))
        else:
            to_stream.append(obj)
        if not obj.locked(now):
            state = (f"retention ended {obj.retain_until:%Y-%m-%d}" if obj.retain_until and obj.retain_until <= now
                     else "no retention, no legal hold")
            findings.append(Finding(label, "object", wanted.path, "not protected by Object Lock", "locked", state,
                                    Severity.WARNING, key=key))
    if to_stream:
        total = sum(o.size for o in to_stream)
        description = f"hashing {len(to_stream)} object(s) of {label}"
        with (progress(description, total) if progress else nullcontext()) as ticker:
            lock = threading.Lock()

            def advance(count: int) -> None:
                if ticker is not None:
                    with lock:
                        ticker.advance(count)

            streamed = s3_objects.stream_many(s3, bucket, to_stream, workers, advance)
        for obj in to_stream:
            size, sha = streamed[obj.key]
            report.objects_streamed += 1
            report.bytes_streamed += size
            wanted = pinned[obj.key]
            if (size, sha) != (wanted.size, wanted.sha256):
                findings.append(Finding(label, "object", wanted.path, "sha256 differs (streamed)", wanted.sha256, sha,
                                        key=obj.key))
    return findings


def _hex(b64: str) -> str:
    import base64
    import binascii

    try:
        return base64.b64decode(b64).hex()
    except (binascii.Error, ValueError):
        return b64


def check_images(pin: Pin, ecr_for: Callable[[str], Any], report: Report,
                 cache: dict[str, tuple[str, str]] | None = None) -> list[Finding]:
    label = f"{pin.model}/{pin.version}"
    cache = {} if cache is None else cache
    findings: list[Finding] = []
    for region, image in sorted(pin.container.images.items()):
        if image not in cache:
            match = DIGEST_IMAGE.match(image)
            assert match is not None  # validated when the pin was loaded
            account = match["registry"].split(".")[0]
            cache[image] = images.digest_state(ecr_for(region), account, match["repository"],
                                               f"sha256:{match['digest']}")
            report.images_checked += 1
        state, detail = cache[image]
        if state == "missing":
            findings.append(Finding(label, "image", region, detail, image, "not in ECR"))
        elif state == "unverified":
            findings.append(Finding(label, "image", region, f"not checked: {detail}", image, "",
                                    Severity.UNVERIFIED))
    return findings


def verify(pins: Iterable[Pin], bucket: str, s3: Any, ecr_for: Callable[[str], Any] | None = None,
           workers: int = 8, progress: Callable[[str, int], AbstractContextManager] | None = None) -> Report:
    """Check the bucket, then every pin's objects and (unless `ecr_for` is None) images."""
    pins = list(pins)
    report = Report(bucket, [f"{p.model}/{p.version}" for p in pins], images_skipped=ecr_for is None)
    exists, report.findings = check_bucket(s3, bucket)
    image_cache: dict[str, tuple[str, str]] = {}
    for pin in pins:
        if exists:
            report.findings += check_objects(s3, bucket, pin, report, workers, progress)
        if ecr_for is not None:
            report.findings += check_images(pin, ecr_for, report, image_cache)
    return report
