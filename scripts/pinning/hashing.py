"""SHA-256 of snapshot files: streamed in chunks, files hashed in parallel threads.

hashlib releases the GIL while it hashes a buffer (and `readinto` while it
reads), so a thread pool spreads the work over every core without the cost
of processes. Largest files are started first, so that one big shard does not
run alone at the end.

For a file that will be uploaded in several parts, the same pass also hashes
each part: S3 stores a *composite* SHA-256 for multipart objects (the SHA-256
of the parts' SHA-256s, suffixed with the part count), and the part digests
let `pin-weights` confirm such an object without downloading it again.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

MIB = 1024 * 1024
CHUNK = 8 * MIB

OnBytes = Callable[[int], None]


class FileChanged(Exception):
    """The file's size changed while it was being hashed."""


class Cancelled(Exception):
    """Another file failed (or Ctrl-C): the remaining files are not hashed."""


@dataclass(frozen=True)
class FileDigest:
    size: int
    sha256: str  # 64 lower-case hex
    part_size: int | None = None
    part_sha256: tuple[bytes, ...] = field(default=(), repr=False)

    @property
    def sha256_b64(self) -> str:
        """The form S3 uses for a full-object ChecksumSHA256."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()

    @property
    def composite_b64(self) -> str | None:
        """S3's composite checksum of a multipart upload with `part_size` parts (without '-N')."""
        if not self.part_sha256:
            return None
        return base64.b64encode(hashlib.sha256(b"".join(self.part_sha256)).digest()).decode()

    @property
    def parts(self) -> int:
        return len(self.part_sha256)


def hash_file(path: Path | str, part_size: int | None = None, chunk_size: int = CHUNK,
              on_bytes: OnBytes | None = None, cancel: threading.Event | None = None) -> FileDigest:
    """Stream `path` once; with `part_size`, also hash each part of that size.

    Reads never cross a part boundary, so each byte is read once and fed to
    the whole-file hash and, if asked, to its part's hash.
    """
    if part_size is not None and part_size <= 0:
        raise ValueError("part_size must be positive")
    full = hashlib.sha256()
    parts: list[bytes] = []
    part = hashlib.sha256() if part_size else None
    in_part = 0
    size = 0
    buffer = bytearray(chunk_size)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        expected = os.fstat(handle.fileno()).st_size
        while True:
            want = chunk_size if part_size is None else min(chunk_size, part_size - in_part)
            count = handle.readinto(view[:want])
            if not count:
                break
            data = view[:count]
            full.update(data)
            size += count
            if part is not None:
                part.update(data)
                in_part += count
                if in_part == part_size:
                    parts.append(part.digest())
                    part = hashlib.sha256()
                    in_part = 0
            if on_bytes:
                on_bytes(count)
            if cancel is not None and cancel.is_set():
                raise Cancelled(str(path))
    if part is not None and in_part:
        parts.append(part.digest())
    if size != expected:
        raise FileChanged(f"{path}: size changed from {expected} to {size} bytes while hashing")
    return FileDigest(size, full.hexdigest(), part_size if parts else None, tuple(parts))


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def hash_files(paths: Iterable[Path | str], workers: int | None = None,
               part_size_for: Callable[[int], int | None] | None = None,
               on_bytes: OnBytes | None = None, chunk_size: int = CHUNK) -> dict[str, FileDigest]:
    """Hash every file in parallel; returns {str(path): FileDigest}.

    `part_size_for(size)` says which part size (if any) the file will be
    uploaded with; `on_bytes` is called from worker threads (serialized here).
    """
    items = [(str(p), os.path.getsize(p)) for p in paths]
    items.sort(key=lambda item: item[1], reverse=True)  # longest first: better balance
    lock = threading.Lock()

    def report(count: int) -> None:
        if on_bytes:
            with lock:
                on_bytes(count)

    def one(item: tuple[str, int]) -> tuple[str, FileDigest]:
        path, size = item
        part_size = part_size_for(size) if part_size_for else None
        return path, hash_file(path, part_size, chunk_size, report if on_bytes else None, cancel)

    cancel = threading.Event()
    count = min(workers or default_workers(), max(1, len(items)))
    if count == 1:
        return dict(one(item) for item in items)
    pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="sha256")
    try:
        return dict(pool.map(one, items))
    except BaseException:  # a failed file or Ctrl-C: stop the others at their next chunk
        cancel.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
