"""Pin a LoRA adapter: read a PEFT adapter directory, build its archive, hash, upload, seal the pin.

SageMaker loads an adapter inference component from one `.tar.gz` with the adapter files at its
root (API reference, InferenceComponentContainerSpecification.ArtifactUrl; aws-samples
sagemaker-genai-hosting-examples multi_adapter_hosting.ipynb). The archive is built
deterministically (sorted members, mtime 0, owner 0, mode 0644, gzip header without name or time)
so the same directory gives the same bytes and the same SHA-256 on this machine; the pin also
keeps each member's SHA-256, so `verify` and a re-run compare contents, not gzip's output.

PEFT writes `adapter_config.json` with `r`, `lora_alpha`, `target_modules`, `peft_type` and
`base_model_name_or_path` (huggingface/peft, `PeftConfig.save_pretrained`): those are read, not
typed in, so the pin cannot say another rank than the file.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.adapter_pin import ADAPTER_CONFIG
from config.errors import SpecError
from scripts.lib.errors import Problem
from scripts.pinning.hashing import FileDigest, hash_file, hash_files

PEFT_LORA_TYPES = ("LORA",)


@dataclass(frozen=True)
class AdapterDirectory:
    path: Path
    files: list[Path]  # top-level files to pin, sorted by name
    config: dict[str, Any]  # adapter_config.json

    @property
    def lora(self) -> dict[str, Any]:
        modules = self.config.get("target_modules")
        return {"rank": self.config.get("r"), "alpha": self.config.get("lora_alpha"),
                "target_modules": sorted(modules) if isinstance(modules, list) else modules}

    @property
    def base_model(self) -> str | None:
        return self.config.get("base_model_name_or_path")


def read_directory(directory: Path, shown: str) -> tuple[AdapterDirectory | None, list[SpecError]]:
    """The adapter files (top level, hidden ones left out) and their config, or the problems."""
    if not directory.is_dir():
        return None, [Problem(shown, "", "is not a directory", "pass the PEFT adapter directory as --source")]
    errors: list[SpecError] = []
    files = sorted(p for p in directory.iterdir() if not p.name.startswith(".") and p.is_file())
    nested = sorted(p.name for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))
    if nested:
        errors.append(Problem(shown, nested[0], "is a sub-folder: SageMaker expects the adapter files at the "
                                                "archive's root", "pass the adapter directory itself"))
    errors += [Problem(shown, p.name, "is empty (0 bytes)", "remove it") for p in files if p.stat().st_size == 0]
    names = [p.name for p in files]
    if not any(n.endswith(".safetensors") for n in names):
        errors.append(Problem(shown, "*.safetensors", "no safetensors adapter weights",
                              "save the adapter with safetensors (PEFT's default; pickled .bin is not pinned)"))
    if ADAPTER_CONFIG not in names:
        return None, errors + [Problem(shown, ADAPTER_CONFIG, "missing: this is not a PEFT adapter directory",
                                       "pass the directory PEFT's save_pretrained wrote")]
    try:
        config = json.loads((directory / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, errors + [Problem(f"{shown}/{ADAPTER_CONFIG}", "", f"unreadable ({exc.__class__.__name__})",
                                       "restore the file PEFT wrote")]
    if not isinstance(config, dict) or config.get("peft_type") not in PEFT_LORA_TYPES:
        kind = config.get("peft_type") if isinstance(config, dict) else None
        errors.append(Problem(f"{shown}/{ADAPTER_CONFIG}", "peft_type", f"is {kind!r}, not a LoRA adapter",
                              "pin a LoRA adapter (peft_type LORA): vLLM serves only those"))
    return AdapterDirectory(directory, files, config if isinstance(config, dict) else {}), errors


def hash_members(adapter: AdapterDirectory, workers: int | None = None) -> list[dict[str, Any]]:
    digests = hash_files(adapter.files, workers=workers)
    return [{"path": p.name, "size": digests[str(p)].size, "sha256": digests[str(p)].sha256} for p in adapter.files]


def build_archive(adapter: AdapterDirectory, target: Path) -> Path:
    """adapter.tar.gz of the files at its root, the same bytes for the same files (see the docstring)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                                   compresslevel=9) as zipped:
        with tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in adapter.files:
                info = tarfile.TarInfo(path.name)
                info.size, info.mtime, info.mode = path.stat().st_size, 0, 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
    return target


def archive_digest(archive: Path, part_size: int) -> FileDigest:
    from scripts.pinning import s3_objects

    return hash_file(archive, s3_objects.part_size_for(os.path.getsize(archive), part_size))


def archive_members(data: bytes) -> dict[str, bytes]:
    """The files of an adapter archive by name (tests, and the emulator's stand-in container)."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def hub_repo_mismatch(base_model: str | None, hub_repo: str) -> str | None:
    """A problem when adapter_config.json names another Hub repository than the base pin's source
    (a local path, as after training from a downloaded snapshot, is not compared)."""
    if not base_model or base_model.startswith(("/", ".", "~")) or base_model.count("/") != 1:
        return None
    if base_model.lower() != hub_repo.lower():
        return f"adapter_config.json says it was trained on {base_model}, the base pin's source is {hub_repo}"
    return None


@dataclass(frozen=True)
class _Checked:
    """What verification.check_objects reads of a pin, for an adapter: its label and its one object."""

    model: str
    version: str
    weights: Any


def verify_adapters(s3: Any, bucket: str, adapters: list, report: Any, workers: int = 8, progress=None) -> None:
    """Each adapter's archive (and no other object) under its prefix, by S3 checksum or streamed:
    the same checks as a model pin's weights, findings added to `report`."""
    from scripts.pinning import verification

    for adapter in adapters:
        report.pins.append(f"adapter {adapter.adapter}/{adapter.version}")
        checked = _Checked(f"adapter {adapter.adapter}", adapter.version, adapter.weights)
        report.findings += verification.check_objects(s3, bucket, checked, report, workers, progress)


def adapter_keys(root: Path) -> list[tuple[str, str, str]]:
    """(model, adapter, version) of every adapter pin file in the repo."""
    from config.adapters import ADAPTERS_DIR
    from config.project import PINS_DIR, SUFFIXES

    return sorted((p.parent.parent.parent.name, p.parent.name, p.stem)
                  for p in (root / PINS_DIR).glob(f"*/{ADAPTERS_DIR}/*/*") if p.suffix in SUFFIXES and p.is_file())


def load_adapter_pins(root: Path, wanted: list[tuple[str, str]]) -> list:
    """The adapter pins (adapter, version) named, each read alone (SpecErrors/UserError if one is wrong)."""
    from config.adapter_pin import AdapterPin
    from config.loader import require
    from scripts.lib.errors import fail
    from scripts.pinning.manifests import display

    files = {(a, v): (m, a, v) for m, a, v in adapter_keys(root)}
    found, problems = [], []
    for key in wanted:
        if key not in files:
            known = sorted(v for a, v in files if a == key[0])
            problems.append(Problem("--adapter", "", f"no adapter pin {key[0]}/{key[1]} under model_artifacts/*/"
                                    "adapters/", f"use one of: {', '.join(known)}" if known else
                                    "pin it first (python -m scripts pin-adapter)"))
            continue
        from config.adapters import adapter_pin_path
        from config.project import PINS_DIR

        path = adapter_pin_path(root / PINS_DIR, *files[key])
        found.append(require(AdapterPin, path, display(root, path)))
    fail(problems)
    return found
