"""pin-image: image URI lookup, ECR digest resolution (moto), add-only changes to pins."""

from __future__ import annotations

from pathlib import Path

import pytest
from pinning_helpers import (DLC_ACCOUNT, assert_project_valid, aws, fake_lookup, push_image, repo,  # noqa: F401
                             run_cli)

from scripts.lib.errors import UserError
from scripts.pinning import images
from config.loader import require
from config.pin import Pin

pytestmark = pytest.mark.slow  # full tier (make test): moto ECR in-process and the SageMaker SDK's image URI tables

MODEL = "llama-3-2-3b-instruct"
TAG = "0.31.0-lmi13.0.0-cu124"  # v1's tag


@pytest.fixture(autouse=True)
def lookup(monkeypatch):
    monkeypatch.setattr(images, "lookup_uri", fake_lookup)


def pin_file(root: Path, version: str = "v1") -> Path:
    return root / "model_artifacts" / MODEL / f"{version}.yaml"


def load(root: Path, version: str = "v1") -> Pin:
    return require(Pin, pin_file(root, version), "pin")


def test_adds_a_region_reseals_and_keeps_the_approval(aws, repo: Path):
    before = load(repo)
    digest = push_image("us-west-2", "djl-inference", TAG)
    result = run_cli("pin-image", "--model", MODEL, "--version", "v1", "--regions", "us-west-2", "--json")
    assert result.code == 0, result.err
    assert result.result()["added"] == ["us-west-2"] and result.result()["written"] is True
    after = load(repo)
    assert after.container.images == {
        **before.container.images,
        "us-west-2": f"{DLC_ACCOUNT}.dkr.ecr.us-west-2.amazonaws.com/djl-inference@{digest}"}
    assert after.manifest_sha256 != before.manifest_sha256 and after.manifest_sha256 == after.content_hash()
    assert after.approval == before.approval and after.weights == before.weights
    assert_project_valid(repo)

    text = pin_file(repo).read_bytes()
    again = run_cli("pin-image", "--model", MODEL, "--version", "v1", "--regions", "us-west-2", "--json")
    assert again.code == 0 and again.result()["written"] is False and again.result()["unchanged"] == ["us-west-2"]
    assert pin_file(repo).read_bytes() == text


def test_resolves_the_pins_tag_even_if_the_lookup_tag_moved_on(aws, repo: Path, monkeypatch):
    monkeypatch.setattr(images, "lookup_uri", lambda f, v, r: fake_lookup(f, v, r) + "-v2")
    digest = push_image("eu-central-1", "djl-inference", TAG)
    push_image("eu-central-1", "djl-inference", TAG + "-v2", label="rebuild")
    result = run_cli("pin-image", "--model", MODEL, "--version", "v1", "--regions", "eu-central-1", "--json")
    assert result.code == 0, result.err
    assert load(repo).container.images["eu-central-1"].endswith(digest)
    assert any(line.get("event") == "note" and line.get("lookup_tag") == TAG + "-v2" for line in result.json_lines())


def test_refuses_to_change_a_pinned_regions_digest(aws, repo: Path):
    before = pin_file(repo).read_bytes()
    push_image("us-east-1", "djl-inference", TAG)  # the example pin's digest is illustrative: this one differs
    push_image("ap-south-1", "djl-inference", TAG)
    result = run_cli("pin-image", "--model", MODEL, "--version", "v1", "--regions", "ap-south-1,us-east-1")
    assert result.code == 2
    assert len(result.err_lines) == 1
    assert result.err_lines[0].startswith(f"error: model_artifacts/{MODEL}/v1.yaml: container.images.us-east-1: "
                                          f"tag {TAG} now resolves to sha256:")
    assert "fix: pinned images never change: pin a new version" in result.err_lines[0]
    assert pin_file(repo).read_bytes() == before  # ap-south-1 was not added either


@pytest.mark.parametrize("setup, args, code, expected", [
    (lambda: push_image("us-west-2", "djl-inference", "other-tag"), ["--regions", "us-west-2"], 2,
     f"error: --framework-version: {DLC_ACCOUNT}.dkr.ecr.us-west-2.amazonaws.com/djl-inference:{TAG}: tag '{TAG}' "
     "cannot be resolved in ECR (ImageNotFound); fix: "),
    (None, ["--regions", "us-west-2"], 2,
     f"error: --regions: {DLC_ACCOUNT}.dkr.ecr.us-west-2.amazonaws.com/djl-inference:{TAG}: repository "
     f"'djl-inference' does not exist in registry {DLC_ACCOUNT} (us-west-2); fix: "),
    (None, ["--regions", "us-west-2", "--framework-version", "0.32.0"], 2,
     f"error: --framework-version: {MODEL}/v1: framework version 0.32.0 (the pin has 0.31.0); fix: pins are "
     "immutable: pin a new version with python -m scripts pin-weights --like v1 --framework-version 0.32.0"),
    (None, ["--regions", "us-west-2", "--framework", "huggingface-llm"], 2,
     f"error: --framework-version: {MODEL}/v1: framework huggingface-llm (the pin has djl-lmi)"),
    (None, ["--regions", "us_west_2"], 2, "error: --regions: 'us_west_2' is not an AWS region name; fix: "),
    (None, ["--regions", "us-west-2", "--version", "v7"], 2,
     f"error: --version: no pin model_artifacts/{MODEL}/v7.yaml; fix: create it with python -m scripts pin-weights"),
])
def test_refusals_are_one_line_and_write_nothing(aws, repo: Path, setup, args, code, expected):
    if setup:
        setup()
    before = pin_file(repo).read_bytes()
    base = ["pin-image", "--model", MODEL, "--version", "v1"]
    result = run_cli(*base, *args)
    assert result.code == code, result.err
    assert len(result.err_lines) == 1 and result.err_lines[0].startswith(expected), result.err
    assert pin_file(repo).read_bytes() == before


def test_access_denied_is_an_aws_error(aws, repo: Path):
    from scripts.lib.aws import client

    push_image("us-west-2", "djl-inference", TAG)
    ecr = client("ecr", "us-west-2")

    def deny(model, **kwargs):
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, model.name)

    ecr.meta.events.register("before-call.ecr.BatchGetImage", deny, unique_id="deny1")
    ecr.meta.events.register("before-call.ecr.DescribeImages", deny, unique_id="deny2")
    try:
        result = run_cli("pin-image", "--model", MODEL, "--version", "v1", "--regions", "us-west-2")
    finally:
        ecr.meta.events.unregister("before-call.ecr.BatchGetImage", unique_id="deny1")
        ecr.meta.events.unregister("before-call.ecr.DescribeImages", unique_id="deny2")
    assert result.code == 3
    assert result.err_lines[0].startswith(f"error: {DLC_ACCOUNT}.dkr.ecr.us-west-2.amazonaws.com/djl-inference:{TAG}: "
                                          "ECR refused BatchGetImage and DescribeImages (AccessDeniedException); "
                                          "fix: allow ecr:BatchGetImage")


# --- the image URI lookup ------------------------------------------------------------------------

def test_image_uris_come_from_the_sagemaker_sdk_with_each_regions_registry():
    assert images.sagemaker_core_uri("djl-lmi", "0.31.0", "us-east-1") == \
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.31.0-lmi13.0.0-cu124"
    assert images.parse_uri(images.sagemaker_core_uri("djl-lmi", "0.32.0", "af-south-1")).account == "626614931356"
    assert images.parse_uri(images.sagemaker_core_uri("huggingface-llm", "2.4.0", "eu-west-1")).repository == \
        "huggingface-pytorch-tgi-inference"


def test_unknown_framework_version_is_one_clear_line():
    with pytest.raises(UserError, match="the SageMaker SDK has no djl-lmi 0.1.0 image for us-east-1"):
        images.sagemaker_core_uri("djl-lmi", "0.1.0", "us-east-1")
