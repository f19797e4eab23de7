"""Helpers for the evaluate / approve / shadow-report tests: run the CLI in-process (moto and the
loopback fakes see every call), a temp repo, fake credentials, a labeled dataset."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from cli_helpers import Result, run_cli  # noqa: F401 - re-exported for the evaluation tests

REPO = Path(__file__).resolve().parents[1]
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1"}
UNSET = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "AWS_CONFIG_FILE",
         "AWS_SHARED_CREDENTIALS_FILE", "PINNED_LLAMA_DEBUG", "OPENAI_BASE_URL", "OPENAI_API_KEY")
MESSAGE = re.compile(r"Message: (.*)\n")


@pytest.fixture
def env(monkeypatch, tmp_path) -> Path:
    """Fake AWS credentials, no real endpoints, and a temp copy of environments/ + model_artifacts/."""
    from scripts.lib import aws

    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    for name, value in FAKE_AWS.items():
        monkeypatch.setenv(name, value)
    root = tmp_path / "repo"
    for name in ("environments", "model_artifacts"):
        shutil.copytree(REPO / name, root / name)
    monkeypatch.setenv("PINNED_LLAMA_ROOT", str(root))
    aws.client.cache_clear()
    yield root
    aws.client.cache_clear()


def write_dataset(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"text": t, "intent": i}) + "\n" for t, i in rows), encoding="utf-8")
    return path


def utterance(prompt: str) -> str:
    """The dataset text inside a prompt built from the example evaluation template."""
    match = MESSAGE.search(prompt)
    assert match, prompt
    return match[1]
