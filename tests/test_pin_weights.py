"""pin-weights: hashing, upload with SHA-256 checksums, immutability, resume, refusals (moto, no network)."""

from __future__ import annotations

import hashlib
import signal
import sys
import threading
import time
import types
from pathlib import Path

import pytest
from cli_helpers import ctrl_c  # noqa: F401 - a fixture
from hypothesis import given, settings
from hypothesis import strategies as st
from pinning_helpers import (BUCKET, PART_MB, PINNED_FILES, REVISION, SETTINGS_YAML, CountCalls,  # noqa: F401
                             assert_project_valid, aws, create_bucket, fake_lookup, make_snapshot, pin_args,
                             push_image, repo, run_cli, run_subprocess, s3, sha256_of)

from scripts.pinning import hashing, images, s3_objects
from config.loader import require
from config.pin import ApprovalStatus, Pin

pytestmark = pytest.mark.slow  # full tier (make test): moto S3 in-process: uploads, multipart, resume

MODEL = "llama-3-2-3b-instruct"  # has v1/v2 example pins to copy settings from with --like
NEW_MODEL = "llama-3-2-11b-vision"


@pytest.fixture
def snap(tmp_path: Path) -> Path:
    return make_snapshot(tmp_path / "snapshot")


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    path = tmp_path / "settings.yaml"
    path.write_text(SETTINGS_YAML)
    return path


def manifest(root: Path, model: str = MODEL, version: str = "v3") -> Path:
    return root / "model_artifacts" / model / f"{version}.yaml"


def keys_in_bucket(prefix: str = "") -> dict[str, int]:
    return s3_objects.list_keys(s3(), BUCKET, prefix)


# --- hashing -----------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(data=st.binary(min_size=0, max_size=5000), chunk=st.integers(1, 700), part=st.integers(1, 900))
def test_hash_file_matches_hashlib_and_splits_parts_at_boundaries(tmp_path_factory, data, chunk, part):
    path = tmp_path_factory.mktemp("h") / "f"
    path.write_bytes(data)
    digest = hashing.hash_file(path, part_size=part, chunk_size=chunk)
    assert digest.size == len(data)
    assert digest.sha256 == hashlib.sha256(data).hexdigest()
    expected_parts = [hashlib.sha256(data[i:i + part]).digest() for i in range(0, len(data), part)]
    assert list(digest.part_sha256) == expected_parts


def test_hash_files_in_parallel_equals_sequential(snap: Path):
    paths = sorted(p for p in snap.rglob("*") if p.is_file())
    parallel = hashing.hash_files(paths, workers=4)
    sequential = hashing.hash_files(paths, workers=1)
    assert parallel == sequential
    assert {p: d.sha256 for p, d in parallel.items()} == {str(p): sha256_of(p) for p in paths}


def test_composite_checksum_matches_what_s3_stores_for_a_multipart_upload(aws, snap: Path):
    create_bucket()
    big = snap / "model-00002-of-00002.safetensors"
    part = s3_objects.part_size_for(big.stat().st_size, PART_MB * 1024 * 1024)
    digest = hashing.hash_file(big, part_size=part)
    assert digest.parts == 2
    failures = s3_objects.upload_all(s3(), BUCKET, [s3_objects.Upload(str(big), "k", digest)], part, 4)
    assert failures == []
    stored = s3_objects.head(s3(), BUCKET, "k")
    assert stored.multipart and stored.checksum == digest.composite_b64
    assert s3_objects.matches_local(stored, digest) is True  # confirmed without downloading
    assert s3_objects.stream_sha256(s3(), BUCKET, "k") == (digest.size, digest.sha256)


# --- pinning -----------------------------------------------------------------------------------

def test_pins_new_model_with_settings_and_framework_and_manifest_passes_validation(
        aws, repo: Path, snap: Path, settings_file: Path, monkeypatch):
    create_bucket()
    monkeypatch.setattr(images, "lookup_uri", fake_lookup)
    digest = push_image("us-east-1", "djl-inference", "0.31.0-lmi13.0.0-cu124")
    result = run_cli(*pin_args(NEW_MODEL, "v1", snap, "--settings", str(settings_file), "--framework", "djl-lmi",
                               "--framework-version", "0.31.0", "--regions", "us-east-1",
                               "--hub-repo", "meta-llama/Llama-3.2-11B-Vision-Instruct"))
    assert result.code == 0, result.err
    assert result.result()["uploaded"] == len(PINNED_FILES)

    project = assert_project_valid(repo)  # config.project.load_project accepts the new manifest
    pin = project.pins[(NEW_MODEL, "v1")]
    assert [f.path for f in pin.weights.files] == PINNED_FILES  # no .cache/, .gitattributes, original/
    for f in pin.weights.files:
        assert (f.size, f.sha256) == ((snap / f.path).stat().st_size, sha256_of(snap / f.path))
    assert pin.container.images == {
        "us-east-1": f"763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference@{digest}"}
    assert pin.source.revision == REVISION and pin.source.license == "llama3.2"
    assert pin.approval.status is ApprovalStatus.PENDING
    assert pin.description == "test pin"

    stored = keys_in_bucket(f"{NEW_MODEL}/v1/")
    assert sorted(k.split("/", 2)[2] for k in stored) == PINNED_FILES
    small = s3_objects.head(s3(), BUCKET, f"{NEW_MODEL}/v1/config.json")
    assert not small.multipart
    assert small.checksum == hashing.FileDigest(1, sha256_of(snap / "config.json")).sha256_b64
    big = s3_objects.head(s3(), BUCKET, f"{NEW_MODEL}/v1/model-00002-of-00002.safetensors")
    assert big.multipart and big.parts == 2


def test_like_copies_container_and_serving_and_rerun_is_idempotent(aws, repo: Path, snap: Path):
    create_bucket()
    result = run_cli(*pin_args(MODEL, "v3", snap, "--like", "v2"))
    assert result.code == 0, result.err
    project = assert_project_valid(repo)
    v2, v3 = project.pins[(MODEL, "v2")], project.pins[(MODEL, "v3")]
    assert v3.container == v2.container and v3.serving == v2.serving and v3.resources == v2.resources
    assert v3.source.hub_repo == v2.source.hub_repo and v3.weights.prefix == f"{MODEL}/v3/"
    assert v3.approval.status is ApprovalStatus.PENDING  # approval is never copied
    before = manifest(repo).read_bytes()

    calls = CountCalls()
    try:
        again = run_cli(*pin_args(MODEL, "v3", snap, "--like", "v2"))
        plain = run_cli(*pin_args(MODEL, "v3", snap))  # the existing pin supplies its own settings
    finally:
        calls.close()
    assert again.code == 0 and plain.code == 0, again.err + plain.err
    assert calls.writes == 0  # nothing uploaded again
    assert again.result()["already_pinned"] is True and again.result()["uploaded"] == 0
    assert manifest(repo).read_bytes() == before


@pytest.mark.parametrize("failure, left", [
    (dict(fail_from=3, fail_ops=("PutObject",)), 3),  # 2 small files + the multipart one get through
    (dict(fail_from=2, fail_key="model-00002-of-00002.safetensors"), 7),  # the big file fails halfway
])
def test_interrupted_upload_writes_no_manifest_and_rerun_completes(aws, repo: Path, snap: Path, failure, left):
    create_bucket()
    calls = CountCalls(**failure)
    try:
        first = run_cli(*pin_args(MODEL, "v3", snap, "--like", "v1"))
    finally:
        calls.close()
    assert first.code == 3, first.err
    assert len(first.err_lines) == 1 and first.err.startswith("error: upload failed for ")
    assert "re-run the same command" in first.err and "Traceback" not in first.err
    assert not manifest(repo).exists()
    partial = keys_in_bucket(f"{MODEL}/v3/")
    assert len(partial) == left

    calls = CountCalls()
    try:
        second = run_cli(*pin_args(MODEL, "v3", snap, "--like", "v1"))
    finally:
        calls.close()
    assert second.code == 0, second.err
    assert second.result()["skipped"] == left  # confirmed by checksum, not uploaded again
    assert second.result()["uploaded"] == len(PINNED_FILES) - left
    assert calls.calls.get("PutObject", 0) + calls.calls.get("CreateMultipartUpload", 0) == len(PINNED_FILES) - left
    assert manifest(repo).exists()
    assert_project_valid(repo)


@pytest.mark.parametrize("sig, said", [(signal.SIGINT, "interrupted"), (signal.SIGTERM, "interrupted by SIGTERM")])
def test_a_signal_mid_upload_aborts_the_multipart_upload_and_writes_nothing(aws, repo: Path, snap: Path, ctrl_c,
                                                                            sig, said):
    """Ctrl-C, or a cancelled CI job's SIGTERM, while a part is on its way: exit 130 with one line,
    the multipart upload aborted (nothing left for S3 to bill or a lifecycle rule to clean), no pin;
    the rerun completes. Python's default SIGTERM would end the process on the spot."""
    create_bucket()
    client = s3()
    sent = threading.Event()

    def sigterm_on_first_part(**kwargs) -> None:
        if not sent.is_set():
            sent.set()
            signal.pthread_kill(threading.main_thread().ident, sig)
            time.sleep(0.3)  # the part is still in flight when the main thread takes the signal

    client.meta.events.register("before-parameter-build.s3.UploadPart", sigterm_on_first_part, unique_id="sigterm")
    try:
        first = run_cli(*pin_args(MODEL, "v3", snap, "--like", "v1"))
    finally:
        client.meta.events.unregister("before-parameter-build.s3.UploadPart", unique_id="sigterm")
    assert sent.is_set() and first.code == 130, first.err
    assert first.err_lines == [said], first.err
    assert client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert not manifest(repo).exists()
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, "the CLI put SIGTERM's default back"

    second = run_cli(*pin_args(MODEL, "v3", snap, "--like", "v1"))
    assert second.code == 0, second.err
    assert manifest(repo).exists()


@pytest.mark.parametrize("changed", ["config.json", "model-00002-of-00002.safetensors"])
def test_changed_local_file_after_partial_upload_is_refused(aws, repo: Path, snap: Path, changed: str):
    create_bucket()
    assert run_cli(*pin_args(MODEL, "v3", snap, "--like", "v1")).code == 0
    manifest(repo).unlink()  # as if the first run had stopped after the uploads, before the manifest
    data = bytearray((snap / changed).read_bytes())
    data[-1] ^= 0xFF  # same size, other content: only the checksum can tell
    (snap / changed).write_bytes(bytes(data))

    calls = CountCalls()
    try:
        result = run_cli(*pin_args(MODEL, "v3", snap, "--like", "v1"))
    finally:
        calls.close()
    assert result.code == 2
    assert result.err_lines[0] == (f"error: s3://{BUCKET}/{MODEL}/v3/{changed}: sha256: the stored object differs "
                                   "from the local file; fix: versions are immutable: pin under a new --version "
                                   "(or restore the local file)")
    assert len(result.err_lines) == 1
    assert calls.writes == 0 and not manifest(repo).exists()


def test_changed_local_file_for_an_existing_pin_is_refused(aws, repo: Path, snap: Path):
    create_bucket()
    assert run_cli(*pin_args(MODEL, "v3", snap, "--like", "v1")).code == 0
    before = manifest(repo).read_bytes()
    (snap / "tokenizer_config.json").write_text('{"model_max_length": 4096}')
    calls = CountCalls()
    try:
        result = run_cli(*pin_args(MODEL, "v3", snap))
    finally:
        calls.close()
    assert result.code == 2
    assert result.err_lines == [
        f"error: model_artifacts/{MODEL}/v3.yaml: {MODEL}/v3 is already pinned with other content: weights: "
        f"tokenizer_config.json changed (sha256 {sha256_of_prefix(before, 'tokenizer_config.json')}... -> "
        f"{sha256_of(snap / 'tokenizer_config.json')[:12]}...); fix: pins are immutable: pin a new --version "
        "(e.g. --like v3)"]
    assert calls.writes == 0 and manifest(repo).read_bytes() == before


def test_other_settings_for_an_existing_pin_are_refused_before_hashing(aws, repo: Path, snap: Path):
    create_bucket()
    assert run_cli(*pin_args(MODEL, "v3", snap, "--like", "v1")).code == 0
    before = manifest(repo).read_bytes()
    result = run_cli(*pin_args(MODEL, "v3", snap, "--like", "v2"))  # v2 has another container
    assert result.code == 2
    assert result.err_lines == [f"error: model_artifacts/{MODEL}/v3.yaml: {MODEL}/v3 is already pinned with other "
                                "content: container differs; fix: pins are immutable: pin a new --version "
                                "(e.g. --like v3)"]
    assert not any(line.get("event") == "hashing" for line in result.json_lines())
    assert manifest(repo).read_bytes() == before


def sha256_of_prefix(manifest_bytes: bytes, name: str) -> str:
    lines = manifest_bytes.decode().splitlines()
    index = lines.index(f"  - path: {name}")
    return lines[index + 2].split("sha256: ")[1][:12]


def test_stray_object_under_the_prefix_is_refused(aws, repo: Path, snap: Path):
    create_bucket()
    s3().put_object(Bucket=BUCKET, Key=f"{MODEL}/v3/pytorch_model.bin", Body=b"x", ChecksumAlgorithm="SHA256")
    result = run_cli(*pin_args(MODEL, "v3", snap, "--like", "v1"))
    assert result.code == 2
    assert result.err_lines[0].startswith(f"error: s3://{BUCKET}/{MODEL}/v3/pytorch_model.bin: is under the prefix "
                                          "but not in the snapshot")
    assert not manifest(repo).exists() and list(keys_in_bucket(f"{MODEL}/v3/")) == [f"{MODEL}/v3/pytorch_model.bin"]


def test_dry_run_uploads_and_writes_nothing(aws, repo: Path, snap: Path):
    create_bucket()
    result = run_cli(*pin_args(MODEL, "v3", snap, "--like", "v1", "--dry-run"))
    assert result.code == 0, result.err
    assert result.result()["would_upload"] == len(PINNED_FILES)
    assert keys_in_bucket() == {} and not manifest(repo).exists()


def test_missing_bucket_is_one_line(aws, repo: Path, snap: Path):
    result = run_cli(*pin_args(MODEL, "v3", snap, "--like", "v1"))
    assert result.code == 2
    assert result.err_lines == [f"error: --bucket: {BUCKET} does not exist; fix: deploy the environment's weights "
                                "bucket first, or check the name"]


def test_env_gives_bucket_and_region(aws, repo: Path, snap: Path):
    bucket = create_bucket("llama-weights-dev-111111111111-us-east-1")
    args = pin_args(MODEL, "v3", snap, "--like", "v1")
    i = args.index("--bucket")
    del args[i:i + 2]
    result = run_cli(*args, "--env", "dev")
    assert result.code == 0, result.err
    assert result.result()["bucket"] == bucket


# --- refusals: exit 2, one line, nothing uploaded or written ------------------------------------

def _no_snapshot_file(snap: Path, name: str) -> Path:
    (snap / name).unlink()
    return snap


@pytest.mark.parametrize("mutate, extra, expected", [
    (None, ["--revision", "main"],
     "error: --revision: 'main' is not a 40-hex commit id (branches and tags move); fix: "),
    (None, ["--revision", REVISION[:-1]], "error: --revision: '"),
    (None, ["--version", "V3!"], "error: --version: 'V3!' is not a valid version name; fix: "),
    (lambda s: _no_snapshot_file(s, "config.json"), [],
     "config.json: missing: this is not a Hugging Face model snapshot; fix: "),
    (lambda s: [p.unlink() for p in s.glob("*.safetensors")] and s, [],
     "*.safetensors: no safetensors weight file; fix: "),
    (lambda s: (s / "added_tokens.json").write_text("") and s, [], "added_tokens.json: is empty (0 bytes)"),
    (None, ["--like", "v9"],
     "error: --like: no pin model_artifacts/llama-3-2-3b-instruct/v9.yaml; fix: use one of: v1, v2"),
    (None, ["--like", "v1", "--from-hub", "meta-llama/x"], "error: --source/--from-hub: give exactly one of them"),
    (None, ["--like", "v1", "--regions", "us-east-1"], "error: --regions: needs --framework-version"),
])
def test_bad_inputs_exit_2_with_one_line(aws, repo: Path, snap: Path, mutate, extra, expected):
    create_bucket()
    if mutate:
        mutate(snap)
    args = pin_args(MODEL, "v3", snap, *([] if "--like" in extra else ["--like", "v1"]))
    for flag, value in zip(extra[::2], extra[1::2], strict=True):
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    calls = CountCalls()
    try:
        result = run_cli(*args)
    finally:
        calls.close()
    assert result.code == 2, result.err
    assert len(result.err_lines) == 1 and expected in result.err_lines[0], result.err
    assert result.err_lines[0].startswith("error: ") and "; fix: " in result.err_lines[0]
    assert calls.writes == 0 and keys_in_bucket() == {} and not manifest(repo).exists()


def test_new_model_without_settings_or_container_lists_both(aws, repo: Path, snap: Path):
    create_bucket()
    result = run_cli(*pin_args(NEW_MODEL, "v1", snap, "--hub-repo", "meta-llama/x"))
    assert result.code == 2
    assert [line.split(";")[0] for line in result.err_lines[:2]] == [
        f"error: --like/--framework: a new pin of {NEW_MODEL} needs a serving container",
        f"error: --like/--settings: a new pin of {NEW_MODEL} needs serving and resources settings"]


def test_invalid_settings_name_the_file_and_field(aws, repo: Path, snap: Path, settings_file: Path, monkeypatch):
    create_bucket()
    monkeypatch.setattr(images, "lookup_uri", fake_lookup)
    push_image("us-east-1", "djl-inference", "0.31.0-lmi13.0.0-cu124")
    settings_file.write_text(SETTINGS_YAML.replace("max_model_len: 8192", "max_model_len: 999999"))
    result = run_cli(*pin_args(NEW_MODEL, "v1", snap, "--settings", str(settings_file), "--framework", "djl-lmi",
                               "--framework-version", "0.31.0", "--regions", "us-east-1", "--hub-repo", "meta-llama/x"))
    assert result.code == 2
    assert result.err_lines[0].startswith(f"error: {settings_file}: serving.max_model_len: Input should be less than "
                                          "or equal to 131072 (got 999999); fix: ")
    assert keys_in_bucket() == {}


def test_unresolvable_image_tag_is_refused_before_hashing(aws, repo: Path, snap: Path, settings_file: Path,
                                                          monkeypatch):
    create_bucket()
    monkeypatch.setattr(images, "lookup_uri", fake_lookup)
    push_image("us-east-1", "djl-inference", "some-other-tag")
    result = run_cli(*pin_args(NEW_MODEL, "v1", snap, "--settings", str(settings_file), "--framework", "djl-lmi",
                               "--framework-version", "0.31.0", "--regions", "us-east-1", "--hub-repo", "meta-llama/x"))
    assert result.code == 2
    assert result.err_lines[0].startswith("error: --framework-version: 763104351884.dkr.ecr.us-east-1.amazonaws.com/"
                                          "djl-inference:0.31.0-lmi13.0.0-cu124: tag '0.31.0-lmi13.0.0-cu124' cannot "
                                          "be resolved in ECR (ImageNotFound)")
    assert not any(line.get("event") == "hashing" for line in result.json_lines())


def test_from_hub_uses_the_exact_revision(aws, repo: Path, snap: Path, monkeypatch):
    create_bucket()
    seen = {}

    def snapshot_download(repo_id, revision, cache_dir=None, ignore_patterns=None):
        seen.update(repo_id=repo_id, revision=revision, ignore=ignore_patterns)
        return str(snap)

    class Sibling:
        def __init__(self, name, sha):
            self.rfilename, self.lfs = name, {"sha256": sha}

    class HfApi:
        def model_info(self, repo_id, revision, files_metadata):
            name = "model-00002-of-00002.safetensors"
            return types.SimpleNamespace(siblings=[Sibling(name, sha256_of(snap / name))])

    fake = types.ModuleType("huggingface_hub")
    fake.snapshot_download, fake.HfApi = snapshot_download, HfApi
    monkeypatch.setitem(sys.modules, "huggingface_hub", fake)
    args = pin_args(MODEL, "v3", snap, "--like", "v1")
    i = args.index("--source")
    args[i:i + 2] = ["--from-hub", "meta-llama/Llama-3.2-3B-Instruct"]
    result = run_cli(*args)
    assert result.code == 0, result.err
    assert seen["repo_id"] == "meta-llama/Llama-3.2-3B-Instruct" and seen["revision"] == REVISION
    assert "original/*" in seen["ignore"]
    assert any(line.get("event") == "hub-check" and line.get("files") == 1 for line in result.json_lines())
    pin = require(Pin, manifest(repo), "v3")
    assert pin.source.hub_repo == "meta-llama/Llama-3.2-3B-Instruct"


def test_from_hub_without_huggingface_hub_is_one_line(aws, repo: Path, monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails as if not installed
    create_bucket()
    result = run_cli("pin-weights", "--model", MODEL, "--version", "v3", "--from-hub", "meta-llama/x",
                     "--revision", REVISION, "--bucket", BUCKET, "--like", "v1")
    assert result.code == 2
    assert result.err_lines == ["error: --from-hub: huggingface_hub is not installed; fix: pip install "
                                "huggingface-hub, or download the snapshot yourself and pass --source DIR"]


@pytest.mark.slow  # full tier: the command in a subprocess
def test_cli_subprocess_refusals_are_one_line_without_traceback(repo: Path, snap: Path, tmp_path: Path):
    """The real `python -m scripts` entry point: refused before any AWS call (none is mocked here)."""
    base = ["pin-weights", "--model", MODEL, "--bucket", BUCKET]
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        (base + ["--version", "v3", "--like", "v1", "--source", str(snap), "--revision", "main"],
         "error: --revision: 'main' is not a 40-hex commit id"),
        (base + ["--version", "v3", "--like", "v1", "--source", str(empty), "--revision", REVISION],
         "error: " + str(empty) + ": config.json: missing"),
        (base + ["--version", "v1", "--source", str(snap), "--revision", REVISION],
         "error: model_artifacts/llama-3-2-3b-instruct/v1.yaml: llama-3-2-3b-instruct/v1 is already pinned with "
         "other content: weights: "),
    ]
    for args, expected in cases:
        result = run_subprocess(repo, *args)
        assert result.code == 2, result.err
        assert "Traceback" not in result.err
        assert any(line.startswith(expected) for line in result.err_lines), result.err
    help_text = run_subprocess(repo, "pin-weights", "--help")
    assert help_text.code == 0 and "--like VERSION" in help_text.out and "immutable" in help_text.out
