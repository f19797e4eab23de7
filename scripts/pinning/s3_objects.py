"""S3 objects with SHA-256 checksums: look, upload, confirm, stream-hash.

S3 keeps the checksum an object was uploaded with:
- a single PUT with `ChecksumSHA256` stores the full-object SHA-256 (S3
  rejects the upload if the bytes do not match it);
- a multipart upload with `ChecksumAlgorithm=SHA256` stores a *composite*
  checksum, base64(SHA-256 of the parts' SHA-256s) + "-<parts>" (S3 checks
  each part). SHA-256 has no full-object checksum for multipart uploads.

So a stored object is compared with a local file by its full checksum, or by
the composite computed locally from the same part size; anything else
(no checksum, another part size) is decided by downloading and hashing it.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

from scripts.pinning.hashing import CHUNK, MIB, FileDigest, OnBytes

DEFAULT_PART_SIZE = 64 * MIB
MIN_PART_SIZE = 5 * MIB  # S3's minimum for all parts but the last


def part_size_for(size: int, part_size: int) -> int | None:
    """The part size s3transfer will upload a file of `size` bytes with, or None for a single PUT.

    s3transfer uses multipart from `multipart_threshold` (= `part_size` here)
    and doubles the chunk size until the upload fits in 10,000 parts.
    """
    if size < part_size:
        return None
    from s3transfer.utils import ChunksizeAdjuster

    return ChunksizeAdjuster().adjust_chunksize(part_size, size)


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    checksum: str | None  # base64 SHA-256, without any "-N" suffix
    parts: int | None  # part count for a multipart object
    version_id: str | None
    lock_mode: str | None
    retain_until: datetime | None
    legal_hold: bool

    @property
    def multipart(self) -> bool:
        return self.parts is not None

    def locked(self, now: datetime | None = None) -> bool:
        now = now or datetime.now(timezone.utc)
        return self.legal_hold or bool(self.lock_mode and self.retain_until and self.retain_until > now)


def _is_not_found(exc: Exception) -> bool:
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


def head(s3: Any, bucket: str, key: str) -> StoredObject | None:
    """The current version of `key` with its checksum, or None if there is none."""
    from botocore.exceptions import ClientError

    try:
        response = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except ClientError as exc:
        if _is_not_found(exc):
            return None
        raise
    return stored_object(key, response)


def stored_object(key: str, response: dict) -> StoredObject:
    checksum = response.get("ChecksumSHA256")
    etag = str(response.get("ETag", "")).strip('"')
    parts: int | None = None
    if checksum and "-" in checksum:
        checksum, _, count = checksum.partition("-")
        parts = int(count) if count.isdigit() else 0
    elif "-" in etag:  # a multipart upload's ETag is "<md5 of md5s>-<parts>"
        tail = etag.rsplit("-", 1)[1]
        parts = int(tail) if tail.isdigit() else 0
    elif response.get("ChecksumType") == "COMPOSITE":
        parts = 0  # composite, part count unknown
    retain = response.get("ObjectLockRetainUntilDate")
    if isinstance(retain, datetime) and retain.tzinfo is None:
        retain = retain.replace(tzinfo=timezone.utc)
    return StoredObject(key=key, size=int(response.get("ContentLength", -1)), checksum=checksum or None,
                        parts=parts, version_id=response.get("VersionId"),
                        lock_mode=response.get("ObjectLockMode"), retain_until=retain,
                        legal_hold=response.get("ObjectLockLegalHoldStatus") == "ON")


def list_keys(s3: Any, bucket: str, prefix: str) -> dict[str, int]:
    """{key: size} of the current objects under `prefix`."""
    keys: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            keys[item["Key"]] = item["Size"]
    return keys


def matches_local(obj: StoredObject, digest: FileDigest) -> bool | None:
    """True/False when S3's own checksum decides; None when only a download can tell."""
    if obj.size != digest.size:
        return False
    if not obj.checksum:
        return None
    if not obj.multipart:
        return obj.checksum == digest.sha256_b64
    if digest.composite_b64 and obj.parts in (digest.parts, 0) and obj.checksum == digest.composite_b64:
        return True
    return None  # another part size, or a different object: hash the bytes to know


def stream_sha256(s3: Any, bucket: str, key: str, version_id: str | None = None,
                  on_bytes: OnBytes | None = None) -> tuple[int, str]:
    """(size, hex SHA-256) of the object's bytes, streamed in 8 MiB chunks."""
    args = {"Bucket": bucket, "Key": key}
    if version_id and version_id != "null":
        args["VersionId"] = version_id
    body = s3.get_object(**args)["Body"]
    digest = hashlib.sha256()
    size = 0
    try:
        for chunk in body.iter_chunks(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if on_bytes:
                on_bytes(len(chunk))
    finally:
        body.close()
    return size, digest.hexdigest()


def stream_many(s3: Any, bucket: str, objects: Iterable[StoredObject], workers: int,
                on_bytes: OnBytes | None = None) -> dict[str, tuple[int, str]]:
    """stream_sha256 for several objects at once: {key: (size, hex)}."""
    objects = list(objects)
    if not objects:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(objects))), thread_name_prefix="s3hash") as pool:
        results = pool.map(lambda o: (o.key, stream_sha256(s3, bucket, o.key, o.version_id, on_bytes)), objects)
        return dict(results)


@dataclass(frozen=True)
class Upload:
    path: str
    key: str
    digest: FileDigest


def upload_args(digest: FileDigest) -> dict[str, str]:
    """ExtraArgs for one file: S3 checks a single PUT against our own SHA-256, and each part of a multipart."""
    if digest.part_size:
        return {"ChecksumAlgorithm": "SHA256"}
    # ChecksumAlgorithm also sends x-amz-sdk-checksum-algorithm, which buckets with a
    # default Object Lock retention require on PutObject.
    return {"ChecksumAlgorithm": "SHA256", "ChecksumSHA256": digest.sha256_b64}


@contextmanager
def only_new_objects(s3: Any) -> Iterator[Any]:
    """`s3` sending `If-None-Match: *` on every PutObject and CompleteMultipartUpload while the block
    runs: S3 refuses to replace an existing key (412), and the weights bucket's policy refuses any
    write without it (stacks/constructs/secure_bucket.py). s3transfer passes no such argument, so
    it is set on the request; the client (shared, cached) is as before afterwards."""

    def if_none_match(params: dict, **_: Any) -> None:
        params["IfNoneMatch"] = "*"

    events = [(f"before-parameter-build.s3.{op}", f"pinned-llama-if-none-match-{op}")
              for op in ("PutObject", "CompleteMultipartUpload")]
    for event, unique_id in events:
        s3.meta.events.register(event, if_none_match, unique_id=unique_id)
    try:
        yield s3
    finally:
        for event, unique_id in events:
            s3.meta.events.unregister(event, unique_id=unique_id)


def upload_all(s3: Any, bucket: str, uploads: list[Upload], part_size: int, concurrency: int,
               on_bytes: OnBytes | None = None) -> list[tuple[str, BaseException]]:
    """Upload files concurrently (parts of large files too); returns the (key, error) of failed ones.

    A failed file does not stop the others: what was uploaded stays, and a
    re-run skips it after checking its checksum.
    """
    from boto3.s3.transfer import TransferConfig, create_transfer_manager
    from s3transfer.subscribers import BaseSubscriber

    class Progress(BaseSubscriber):
        def on_progress(self, future: Any, bytes_transferred: int, **kwargs: Any) -> None:
            if on_bytes:
                on_bytes(bytes_transferred)

    config = TransferConfig(multipart_threshold=part_size, multipart_chunksize=part_size,
                            max_concurrency=concurrency, use_threads=True, preferred_transfer_client="classic")
    failures: list[tuple[str, BaseException]] = []
    # The manager as a context: an exception leaving the block (Ctrl-C, SIGTERM as Interrupted)
    # cancels what is still running, and s3transfer aborts each started multipart upload. Not
    # `shutdown(cancel=True)`: it passes its arguments to `_shutdown` in the wrong order and raises
    # TypeError (boto/s3transfer#143, #312; open fixes #105, #144, #331; still so in 0.19.3).
    with only_new_objects(s3), create_transfer_manager(s3, config) as manager:
        futures = [(u.key, manager.upload(u.path, bucket, u.key, extra_args=upload_args(u.digest),
                                          subscribers=[Progress()])) for u in uploads]
        for key, future in futures:
            try:
                future.result()
            except Exception as exc:  # noqa: BLE001 - collected and reported per file
                failures.append((key, exc))
    return failures


def confirm(s3: Any, bucket: str, uploads: list[Upload], workers: int) -> list[str]:
    """Problems with what S3 now holds for each file (empty when every object is confirmed)."""
    problems: list[str] = []
    unsure: list[tuple[Upload, StoredObject]] = []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(uploads) or 1))) as pool:
        heads = list(pool.map(lambda u: (u, head(s3, bucket, u.key)), uploads))
    for upload, obj in heads:
        if obj is None:
            problems.append(f"s3://{bucket}/{upload.key} is missing after the upload")
            continue
        verdict = matches_local(obj, upload.digest)
        if verdict is None:
            unsure.append((upload, obj))
        elif not verdict:
            problems.append(f"s3://{bucket}/{upload.key} holds other content than the local file "
                            f"(size {obj.size}, checksum {obj.checksum})")
    streamed = stream_many(s3, bucket, [o for _, o in unsure], workers)
    for upload, obj in unsure:
        size, sha = streamed[obj.key]
        if (size, sha) != (upload.digest.size, upload.digest.sha256):
            problems.append(f"s3://{bucket}/{upload.key} holds other content than the local file (sha256 {sha})")
    return problems

