"""End to end: the manifest pin-weights writes is the one the stacks read, value for value."""

from __future__ import annotations

import pytest

import shutil
from pathlib import Path

from conftest import ROOT, only, resources, synthesize
from pinning_helpers import (BUCKET, aws, create_bucket, make_snapshot, pin_args, repo,  # noqa: F401
                             run_cli, s3)

from config.loader import require
from config.pin import Pin

pytestmark = pytest.mark.slow  # full tier: a synth of its own

MODEL = "llama-3-2-3b-instruct"


def test_a_fresh_pin_flows_unchanged_into_registry_and_endpoint(aws, repo: Path, tmp_path: Path):
    create_bucket()
    result = run_cli(*pin_args(MODEL, "v3", make_snapshot(tmp_path / "snapshot"), "--like", "v2"))
    assert result.code == 0, result.err
    pin = require(Pin, repo / "model_artifacts" / MODEL / "v3.yaml", "v3.yaml")

    # dev serves unapproved versions: point it at v3 and synthesize that repo.
    dev = repo / "environments" / "dev.yaml"
    dev.write_text(dev.read_text().replace("version: v1", "version: v3", 1))
    shutil.copy(ROOT / "cdk.json", repo / "cdk.json")
    templates = synthesize(repo, tmp_path / "cdk.out", env="dev")

    package = next(p["Properties"] for p in resources(templates["llama-dev-artifacts"],
                                                      "AWS::SageMaker::ModelPackage").values()
                   if p["Properties"]["CustomerMetadataProperties"]["pin-version"] == "v3")
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["Image"] == pin.container.images["us-east-1"]
    assert container["ModelDataSource"]["S3DataSource"]["S3Uri"].endswith(f"/{MODEL}/v3/")
    assert package["CustomerMetadataProperties"]["pin-manifest-sha256"] == pin.manifest_sha256
    assert package["CustomerMetadataProperties"]["source-revision"] == pin.source.revision
    assert package["ModelApprovalStatus"] == "PendingManualApproval"

    endpoint = templates["llama-dev-intent-3b"]
    outputs = {k: v["Value"] for k, v in endpoint["Outputs"].items()}
    assert outputs["ModelVersion"] == "v3" and outputs["ManifestSha256"] == pin.manifest_sha256
    assert outputs["Image"] == pin.container.images["us-east-1"]
    # A new pin freezes its registry content (schema 2): the package holds exactly that ...
    assert pin.schema_version == 2 and pin.registry is not None
    assert container["Environment"] == pin.registry.environment
    assert package["InferenceSpecification"]["SupportedRealtimeInferenceInstanceTypes"] == pin.registry.instance_types
    assert "ml.g5.xlarge" in pin.registry.instance_types and "ml.g6.xlarge" in pin.registry.instance_types
    # ... and v3 is not approved: its Model is built from the pin, with the package's image, weights and environment
    model = only(endpoint, "AWS::SageMaker::Model")["Properties"]
    assert "ModelPackageName" not in model["PrimaryContainer"]
    assert model["PrimaryContainer"]["Image"] == container["Image"]
    assert model["PrimaryContainer"]["Environment"] == container["Environment"]
    assert model["PrimaryContainer"]["ModelDataSource"] == container["ModelDataSource"]
    assert {t["Key"]: t["Value"] for t in model["Tags"]}["pin-version"] == "v3"
    # Every file the manifest names is in the bucket at its size (pin-weights confirmed the
    # checksums before it wrote the manifest; verify re-checks them).
    for file in pin.weights.files:
        head = s3().head_object(Bucket=BUCKET, Key=f"{pin.weights.prefix}{file.path}", ChecksumMode="ENABLED")
        assert head["ContentLength"] == file.size
