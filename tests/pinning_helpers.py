"""Helpers for the pin-weights / pin-image / verify tests (moto in-process, no network).

Import the fixtures into a test module with
`from pinning_helpers import aws, repo  # noqa: F401` (pytest registers them).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from cli_helpers import Result, run_cli  # noqa: F401 - re-exported for the pinning tests

REPO = Path(__file__).resolve().parents[1]
REVISION = "0cb88a4f764b7a12671c53f0838cd831a0843b95"
BUCKET = "llama-weights-test"
REGION = "us-east-1"
MIB = 1024 * 1024
PART_MB = 5  # S3's (and moto's) minimum part size: the big file is uploaded in 2 parts
BIG_SIZE = 6 * MIB + 12345
DLC_ACCOUNT = "763104351884"

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
}
UNSET = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_ECR", "AWS_CONFIG_FILE",
         "AWS_SHARED_CREDENTIALS_FILE", "PINNED_LLAMA_DEBUG")

SETTINGS_YAML = """\
description: test pin
source:
  license: llama3.2
serving:
  max_model_len: 8192
  dtype: bf16
  tensor_parallel_degree: 1
  max_batch_size: 64
resources:
  kv_cache_bytes_per_token: 114688
  min_concurrent_sequences: 8
"""


def set_fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAKE_AWS.items():
        monkeypatch.setenv(name, value)
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


_CACHE_AFTER_US: tuple[int, int] | None = None


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and moto for every AWS call.

    scripts.lib.aws caches boto3 clients (0.2 s each to create). Ours are
    reused from test to test (moto intercepts them in every mock_aws), but the
    cache is dropped if anything else created a client since our last test.
    """
    global _CACHE_AFTER_US
    from moto import mock_aws

    from scripts.lib import aws as lib_aws

    set_fake_aws(monkeypatch)
    info = lib_aws.client.cache_info()
    if (info.misses, info.currsize) != _CACHE_AFTER_US:
        lib_aws.client.cache_clear()
    with mock_aws():
        yield
    info = lib_aws.client.cache_info()
    _CACHE_AFTER_US = (info.misses, info.currsize)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the repo's environments/ and model_artifacts/, used through $PINNED_LLAMA_ROOT."""
    root = tmp_path / "repo"
    for name in ("environments", "model_artifacts"):
        shutil.copytree(REPO / name, root / name)
    monkeypatch.setenv("PINNED_LLAMA_ROOT", str(root))
    return root


def s3():
    from scripts.lib.aws import client

    return client("s3", REGION)  # the very client the commands use (same cache key)


def ecr(region: str = REGION):
    from scripts.lib.aws import client

    return client("ecr", region)


def create_bucket(name: str = BUCKET, lock: bool = True, retention_days: int | None = 1) -> str:
    client = s3()
    if lock:
        client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
        if retention_days:
            client.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": retention_days}}})
    else:
        client.create_bucket(Bucket=name)
    return name


def make_snapshot(directory: Path, seed: int = 1, big: int = BIG_SIZE) -> Path:
    """A tiny Llama-like snapshot: json files, a small shard, a shard above the test part size, plus noise."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "config.json": json.dumps({"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "seed": seed}),
        "generation_config.json": json.dumps({"bos_token_id": 128000}),
        "tokenizer.json": json.dumps({"version": "1.0", "vocab": {f"t{i}": i for i in range(200)}}),
        "tokenizer_config.json": json.dumps({"model_max_length": 131072}),
        "special_tokens_map.json": json.dumps({"bos_token": "<|begin_of_text|>"}),
        "model.safetensors.index.json": json.dumps({"weight_map": {"a": "model-00001-of-00002.safetensors"}}),
    }
    for name, text in files.items():
        (directory / name).write_text(text)
    (directory / "model-00001-of-00002.safetensors").write_bytes(rng.randbytes(3000))
    (directory / "model-00002-of-00002.safetensors").write_bytes(rng.randbytes(big))
    # Left out of the pin: hidden HF cache folder, dotfiles, Meta's original checkpoint.
    (directory / ".cache" / "huggingface").mkdir(parents=True, exist_ok=True)
    (directory / ".cache" / "huggingface" / "download.lock").write_text("x")
    (directory / ".gitattributes").write_text("*.safetensors filter=lfs")
    (directory / "original").mkdir(exist_ok=True)
    (directory / "original" / "consolidated.00.pth").write_bytes(b"pickle")
    return directory


PINNED_FILES = ["config.json", "generation_config.json", "model-00001-of-00002.safetensors",
                "model-00002-of-00002.safetensors", "model.safetensors.index.json", "special_tokens_map.json",
                "tokenizer.json", "tokenizer_config.json"]


def run_subprocess(root: Path, *args: str) -> Result:
    """`python -m scripts ARGS` as a real process, on the temp repo, with fake credentials."""
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    # Any AWS call would go to a closed local port, never to the internet.
    env.update(FAKE_AWS, PINNED_LLAMA_ROOT=str(root), HF_HUB_OFFLINE="1", AWS_ENDPOINT_URL="http://127.0.0.1:9")
    proc = subprocess.run([sys.executable, "-m", "scripts", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def pin_args(model: str, version: str, source: Path, *extra: str) -> list[str]:
    return ["pin-weights", "--model", model, "--version", version, "--source", str(source), "--revision",
            REVISION, "--bucket", BUCKET, "--region", REGION, "--part-size-mb", str(PART_MB), "--json", *extra]


def image_manifest(label: str) -> str:
    """A Docker image manifest whose content (and so digest) depends on `label`."""
    import hashlib

    digest = hashlib.sha256(label.encode()).hexdigest()
    return json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1000,
                   "digest": f"sha256:{digest}"},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 2000,
                    "digest": f"sha256:{digest[::-1]}"}]})


def push_image(region: str, repository: str, tag: str, label: str | None = None,
               account: str = DLC_ACCOUNT) -> str:
    """Create the repository (if needed) in moto's ECR and push a manifest under `tag`; returns its digest."""
    client = ecr(region)
    try:
        client.create_repository(registryId=account, repositoryName=repository)
    except client.exceptions.RepositoryAlreadyExistsException:
        pass
    response = client.put_image(registryId=account, repositoryName=repository,
                                imageManifest=image_manifest(label or f"{region}/{repository}:{tag}"), imageTag=tag)
    return response["image"]["imageId"]["imageDigest"]


def fake_lookup(framework: str, version: str, region: str) -> str:
    """Image URIs as sagemaker-core gives them, without depending on its data."""
    repository, tag = {
        ("djl-lmi", "0.31.0"): ("djl-inference", "0.31.0-lmi13.0.0-cu124"),
        ("djl-lmi", "0.32.0"): ("djl-inference", "0.32.0-lmi14.0.0-cu126"),
        ("huggingface-llm", "2.4.0"): ("huggingface-pytorch-tgi-inference",
                                       "2.4.0-tgi2.4.0-gpu-py311-cu124-ubuntu22.04"),
    }[(framework, version)]
    return f"{DLC_ACCOUNT}.dkr.ecr.{region}.amazonaws.com/{repository}:{tag}"


class CountCalls:
    """Count (and optionally fail) S3 write calls made through the commands' S3 client.

    With `fail_from=N`, the Nth call of `fail_ops` (and every later one) raises an
    S3 InternalError, optionally only for keys ending in `fail_key`.
    """

    WRITES = ("PutObject", "UploadPart", "CreateMultipartUpload", "CompleteMultipartUpload")

    def __init__(self, fail_from: int | None = None, fail_ops: tuple[str, ...] = ("PutObject", "UploadPart"),
                 fail_key: str | None = None):
        self.calls: dict[str, int] = {}
        self.counted = 0
        self.fail_from, self.fail_ops, self.fail_key = fail_from, fail_ops, fail_key
        self.lock = threading.Lock()
        client = s3()
        for op in self.WRITES:
            client.meta.events.register(f"before-parameter-build.s3.{op}", self._before, unique_id=f"count-{op}")

    def _before(self, model: Any, params: dict, **kwargs: Any) -> None:
        from botocore.exceptions import ClientError

        with self.lock:
            self.calls[model.name] = self.calls.get(model.name, 0) + 1
            if self.fail_from is None or model.name not in self.fail_ops:
                return
            if self.fail_key and not str(params.get("Key", "")).endswith(self.fail_key):
                return
            self.counted += 1
            failing = self.counted >= self.fail_from
        if failing:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "injected failure"}}, model.name)

    @property
    def writes(self) -> int:
        return sum(self.calls.values())

    def close(self) -> None:
        client = s3()
        for op in self.WRITES:
            client.meta.events.unregister(f"before-parameter-build.s3.{op}", unique_id=f"count-{op}")


def assert_project_valid(root: Path) -> Any:
    from config.project import load_project

    return load_project(root)


def sha256_of(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
