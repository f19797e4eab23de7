"""The lab's component endpoints: stand-in LoRA adapters and the model that answers through them.

The example adapter pins name archives with placeholder checksums, trained on the example base
weights, which the lab re-pins to stand-in files (lab.py). So each adapter pin of the scratch copy
is re-pinned the way pin-adapter pins one: a stand-in PEFT directory (adapter_config.json with the
pin's rank, alpha and target modules, a small safetensors file), archived deterministically
(scripts/pinning/adapters.py), its members and archive hashed, its base digest taken from the
re-pinned base, the pin resealed; the archives are uploaded with SHA-256 checksums, so `verify`
and the promotion gates check real objects.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

from config.adapter_pin import AdapterPin, base_weights_sha256
from config.adapters import adapter_pin_path
from config.loader import require
from config.manifest_io import render_adapter, seal_adapter, write_atomic
from config.project import PINS_DIR


def standin_adapters(root: Path, base_pins: dict[tuple[str, str], object]) -> list[tuple[AdapterPin, bytes]]:
    """Re-pin every adapter pin of the scratch repo whose base is among `base_pins` (re-pinned already);
    returns (pin, archive bytes) to upload."""
    from scripts.pinning import adapters as adapter_files

    done = []
    for model, adapter, version in adapter_files.adapter_keys(root):
        path = adapter_pin_path(root / PINS_DIR, model, adapter, version)
        pin = require(AdapterPin, path, str(path))
        base = base_pins.get((pin.base.model, pin.base.version))
        if base is None:
            continue
        with tempfile.TemporaryDirectory(prefix="standin-adapter-") as work:
            directory = Path(work) / "adapter"
            directory.mkdir()
            (directory / "adapter_config.json").write_text(json.dumps({
                "peft_type": "LORA", "r": pin.lora.rank, "lora_alpha": pin.lora.alpha,
                "target_modules": pin.lora.target_modules, "base_model_name_or_path": base.source.hub_repo}))
            (directory / "adapter_model.safetensors").write_bytes(f"stand-in {adapter}/{version}\n".encode() * 64)
            read, _ = adapter_files.read_directory(directory, "stand-in")
            archive = adapter_files.build_archive(read, Path(work) / "adapter.tar.gz").read_bytes()
            members = adapter_files.hash_members(read)
        data = pin.model_dump(mode="json", exclude_none=True, exclude={"manifest_sha256"})
        data["base"]["weights_sha256"] = base_weights_sha256(base)
        data["weights"]["members"] = members
        data["weights"]["files"] = [{"path": "adapter.tar.gz", "size": len(archive),
                                     "sha256": hashlib.sha256(archive).hexdigest()}]
        data["description"] = f"stand-in adapter for the emulator (was: {pin.description or ''})"[:300]
        new = seal_adapter(data)
        write_atomic(path, render_adapter(new))
        done.append((new, archive))
    return done


def upload_adapters(s3, bucket: str, adapters: list[tuple[AdapterPin, bytes]]) -> None:
    # If-None-Match: the weights bucket's policy refuses a write without it (write-once weights,
    # stacks/constructs/secure_bucket.py), as pin-adapter sends it (s3_objects.only_new_objects).
    for pin, archive in adapters:
        s3.put_object(Bucket=bucket, Key=pin.weights.prefix + pin.weights.archive.path, IfNoneMatch="*", Body=archive,
                      ChecksumAlgorithm="SHA256")


def component_answers(root: Path, env_name: str) -> dict[str, dict[str, str]]:
    """{component name: {smoke text: expected label}} of the environment's component endpoints."""
    from config import naming
    from config.project import load_project

    env = load_project(root, env_name).environments[env_name]
    answers: dict[str, dict[str, str]] = {}
    for key, endpoint in env.component_endpoints.items():
        for component, config in endpoint.components.items():
            labels = config.evaluation.labels if config.evaluation else [""]
            answers[naming.inference_component(env.endpoint_name(key), component)] = {
                case.text: case.expect or labels[0] for case in config.smoke_test}
    return answers
