"""What a Hugging Face snapshot directory holds, and what pin-weights refuses.

SageMaker's `ModelDataSource` (S3Prefix, uncompressed) copies *every* object
under the prefix into /opt/ml/model, so the pinned file list is exactly what
gets uploaded. Hidden files and folders (`.cache/huggingface/` left by
`snapshot_download`, `.gitattributes`) and Meta's original checkpoint
(`original/`, a second copy of the weights as pickled .pth files) are left
out by default.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path

from scripts.pinning.manifests import Problem
from config.errors import SpecError

DEFAULT_EXCLUDES = ("original/*",)


@dataclass(frozen=True)
class SnapshotFile:
    path: Path  # absolute, symlinks not resolved (HF cache snapshots are symlinks to blobs)
    name: str  # relative, '/'-separated: the key under the pin's prefix
    size: int


def scan(directory: Path, display: str, excludes: tuple[str, ...] = DEFAULT_EXCLUDES
         ) -> tuple[list[SnapshotFile], list[SpecError]]:
    """Every file to pin, sorted by name, or the problems that make the directory unpinnable."""
    if not directory.is_dir():
        return [], [Problem(display, "", "is not a directory",
                              "pass the snapshot directory (the one holding config.json) as --source")]
    files: list[SnapshotFile] = []
    errors: list[SpecError] = []
    for current, dirs, names in os.walk(directory, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue
            path = Path(current) / name
            rel = path.relative_to(directory).as_posix()
            if any(fnmatch.fnmatchcase(rel, pattern) for pattern in excludes):
                continue
            try:
                size = path.stat().st_size
            except OSError as exc:
                errors.append(Problem(display, rel, f"cannot be read ({exc.__class__.__name__})",
                                        "fix the file (a broken symlink into the HF cache?) or --exclude it"))
                continue
            if not path.is_file():
                continue
            if "\\" in rel:
                errors.append(Problem(display, rel, "has a backslash in its name",
                                        "rename the file or --exclude it"))
            elif size == 0:
                errors.append(Problem(display, rel, "is empty (0 bytes)", "remove it or --exclude it"))
            else:
                files.append(SnapshotFile(path, rel, size))
    names = {f.name for f in files}
    if "config.json" not in names:
        errors.append(Problem(display, "config.json", "missing: this is not a Hugging Face model snapshot",
                                "pass the snapshot directory that holds config.json as --source"))
    if not any(n.endswith(".safetensors") for n in names):
        errors.append(Problem(display, "*.safetensors", "no safetensors weight file",
                                "pass a snapshot with its *.safetensors shards (pickled .bin/.pth are not pinned)"))
    return sorted(files, key=lambda f: f.name), errors
