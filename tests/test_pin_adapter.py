"""pin-adapter and verify of adapters: archive, SHA-256, upload, immutability, base pin (moto, no network)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from pinning_helpers import BUCKET, REGION, aws, create_bucket, repo, run_cli, s3  # noqa: F401

from config.adapter_pin import AdapterPin, base_weights_sha256
from config.loader import require
from config.pin import Pin
from config.project import load_project
from scripts.pinning import adapters as adapter_files

MODEL = "llama-3-2-3b-instruct"
PIN = f"model_artifacts/{MODEL}/adapters/billing-intents/v1.yaml"
DATA_URI = "s3://training/billing/train.jsonl"
DATA_SHA = hashlib.sha256(b"training data").hexdigest()


def make_adapter(directory: Path, rank: int = 16, seed: bytes = b"w", base: str = "meta-llama/Llama-3.2-3B-Instruct",
                 peft_type: str = "LORA") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "adapter_config.json").write_text(json.dumps({
        "peft_type": peft_type, "r": rank, "lora_alpha": 32, "target_modules": ["v_proj", "q_proj"],
        "base_model_name_or_path": base}))
    (directory / "adapter_model.safetensors").write_bytes(seed * 70_000)
    (directory / "README.md").write_text("trained on billing tickets")
    (directory / ".ipynb_checkpoints").mkdir(exist_ok=True)  # hidden: left out
    return directory


def pin_adapter(source: Path, *extra: str, version: str = "v1"):
    return run_cli("pin-adapter", "--model", MODEL, "--base-version", "v1", "--adapter", "billing-intents",
                   "--version", version, "--source", str(source), "--training-data", DATA_URI,
                   "--training-data-sha256", DATA_SHA, "--bucket", BUCKET, "--region", REGION, "--json", *extra)


@pytest.fixture
def source(tmp_path) -> Path:
    return make_adapter(tmp_path / "adapter")


def test_pins_the_archive_and_its_members_against_the_exact_base(aws, repo, source):
    create_bucket()
    result = pin_adapter(source)
    assert result.code == 0, result.err
    pin = require(AdapterPin, repo / PIN, PIN)
    base = require(Pin, repo / "model_artifacts" / MODEL / "v1.yaml", "v1")
    assert (pin.base.version, pin.base.weights_sha256) == ("v1", base_weights_sha256(base))
    assert (pin.lora.rank, pin.lora.alpha, pin.lora.target_modules) == (16, 32, ["q_proj", "v_proj"])
    assert pin.training.data == DATA_URI and pin.training.data_sha256 == DATA_SHA
    assert sorted(m.path for m in pin.weights.members) == ["README.md", "adapter_config.json",
                                                            "adapter_model.safetensors"]
    stored = s3().get_object(Bucket=BUCKET, Key=f"{MODEL}/adapters/billing-intents/v1/adapter.tar.gz")["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == pin.weights.archive.sha256
    members = adapter_files.archive_members(stored)  # files at the archive's root, as SageMaker wants them
    assert {n: hashlib.sha256(b).hexdigest() for n, b in members.items()} == \
        {m.path: m.sha256 for m in pin.weights.members}
    assert result.result()["artifact_url"] == f"s3://{BUCKET}/{MODEL}/adapters/billing-intents/v1/adapter.tar.gz"
    assert load_project(repo).adapters[("billing-intents", "v1")] == pin


def test_the_archive_is_the_same_bytes_for_the_same_files(tmp_path, source):
    directory, _ = adapter_files.read_directory(source, "src")
    one = adapter_files.build_archive(directory, tmp_path / "a" / "x.tar.gz").read_bytes()
    (source / "README.md").touch()  # a new mtime changes nothing
    two = adapter_files.build_archive(directory, tmp_path / "b" / "x.tar.gz").read_bytes()
    assert one == two


def test_a_rerun_is_idempotent_and_other_content_is_refused(aws, repo, source):
    create_bucket()
    assert pin_adapter(source).code == 0
    before = (repo / PIN).read_text()
    again = pin_adapter(source)
    assert again.code == 0 and again.result()["already_pinned"] and not again.result()["uploaded"]
    make_adapter(source, seed=b"x")
    changed = pin_adapter(source)
    assert changed.code == 2 and "already pinned with other content" in changed.err
    assert (repo / PIN).read_text() == before


@pytest.mark.parametrize("edit, problem", [
    (lambda d: (d / "adapter_config.json").unlink(), "adapter_config.json: missing"),
    (lambda d: (d / "adapter_model.safetensors").rename(d / "adapter_model.bin"), "no safetensors adapter weights"),
    (lambda d: (d / "nested").mkdir() or (d / "nested" / "x").write_text("x"), "is a sub-folder"),
    (lambda d: make_adapter(d, peft_type="PREFIX_TUNING"), "not a LoRA adapter"),
    (lambda d: make_adapter(d, base="meta-llama/Llama-3.2-1B-Instruct"), "trained on meta-llama/Llama-3.2-1B"),
    (lambda d: make_adapter(d, rank=512), "rank"),
])
def test_refusals_upload_and_write_nothing(aws, repo, source, edit, problem):
    create_bucket()
    edit(source)
    result = pin_adapter(source)
    assert result.code == 2 and problem in result.err, result.err
    assert not (repo / PIN).exists()
    assert "Contents" not in s3().list_objects_v2(Bucket=BUCKET)


def test_an_unpinned_base_and_a_stray_object_are_refused(aws, repo, source):
    create_bucket()
    result = run_cli("pin-adapter", "--model", MODEL, "--base-version", "v7", "--adapter", "billing-intents",
                     "--version", "v1", "--source", str(source), "--training-data", DATA_URI,
                     "--training-data-sha256", DATA_SHA, "--bucket", BUCKET, "--region", REGION)
    assert result.code == 2 and "--base-version: no pin" in result.err
    s3().put_object(Bucket=BUCKET, Key=f"{MODEL}/adapters/billing-intents/v1/extra.bin", Body=b"x")
    stray = pin_adapter(source)
    assert stray.code == 2 and "is under the adapter's prefix but not its archive" in stray.err
    assert not (repo / PIN).exists()


def test_a_local_training_file_is_hashed(aws, repo, source, tmp_path):
    create_bucket()
    data = tmp_path / "train.jsonl"
    data.write_bytes(b'{"text": "x", "intent": "payment_issue"}\n')
    result = run_cli("pin-adapter", "--model", MODEL, "--base-version", "v1", "--adapter", "billing-intents",
                     "--version", "v1", "--source", str(source), "--training-data", str(data), "--bucket", BUCKET,
                     "--region", REGION, "--json")
    assert result.code == 0, result.err
    assert require(AdapterPin, repo / PIN, PIN).training.data_sha256 == hashlib.sha256(data.read_bytes()).hexdigest()


def test_verify_checks_the_adapter_archive_by_checksum(aws, repo, source):
    create_bucket()
    assert pin_adapter(source).code == 0
    ok = run_cli("verify", "--adapter", "billing-intents", "--version", "v1", "--bucket", BUCKET, "--region", REGION,
                 "--json", "--skip-images")
    assert ok.code == 0, ok.err
    assert ok.result()["objects_checked"] == 1 and ok.result()["pins"] == ["adapter billing-intents/v1"]
    key = f"{MODEL}/adapters/billing-intents/v1/adapter.tar.gz"
    s3().put_object(Bucket=BUCKET, Key=key, Body=b"replaced", ChecksumAlgorithm="SHA256")
    bad = run_cli("verify", "--adapter", "billing-intents", "--version", "v1", "--bucket", BUCKET, "--region",
                  REGION, "--json", "--skip-images")
    assert bad.code == 1
    assert [(f["pin"], f["problem"]) for f in bad.result()["findings"] if f["severity"] == "mismatch"] == \
        [("adapter billing-intents/v1", "size differs")]


def test_verify_of_an_environment_covers_its_component_endpoints_adapters(aws, repo):
    create_bucket("llama-weights-dev-111111111111-us-east-1")
    result = run_cli("verify", "--env", "dev", "--json", "--skip-images")
    assert result.code == 1  # nothing uploaded: every pinned object is missing
    pins = result.result()["pins"]
    assert {"adapter support-intents/v1", "adapter order-intents/v1"} <= set(pins)
    missing = {f["key"] for f in result.result()["findings"] if f["problem"] == "missing"}
    assert f"{MODEL}/adapters/order-intents/v1/adapter.tar.gz" in missing
