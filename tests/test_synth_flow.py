"""The synth path users run: version changes flow into the right resources; bad input writes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, only, resources, synthesize

from scripts.lib.assembly import endpoint_reviews


def test_review_summary_reads_what_each_endpoint_deploys(assembly_dir, templates):
    reviews = {r.endpoint: r for r in endpoint_reviews(assembly_dir)}
    assert sorted(reviews) == ["dev-intent-1b", "dev-intent-3b", "prod-intent-3b", "staging-intent-3b"]
    prod = reviews["prod-intent-3b"]
    assert (prod.model, prod.version, prod.instance_type, prod.instances) == \
        ("llama-3-2-3b-instruct", "v1", "ml.g5.2xlarge", "2/2-8")
    assert prod.digest.startswith("sha256:") and len(prod.digest) == 71
    assert prod.strategy == "canary 1 instance_count, wait 600s"
    assert prod.rollback_alarms == ["prod-intent-3b-5xx", "prod-intent-3b-4xx-rate", "prod-intent-3b-latency-p99"]
    # 5 or 6 on the endpoint's metrics, 2 on the application client's (fallback rate, shadow agreement)
    assert len(prod.alarms) == 8 and len(reviews["dev-intent-3b"].alarms) == 7


@pytest.mark.slow  # full tier: a synth of its own
def test_promoting_a_version_replaces_model_and_config_but_keeps_the_endpoint(repo_copy, tmp_path, templates):
    env_file = repo_copy / "environments" / "dev.yaml"
    env_file.write_text(env_file.read_text().replace("version: v1", "version: v2", 1))
    after = synthesize(repo_copy, tmp_path / "out", env="dev")
    before = templates
    # The registry does not change: every version was registered already.
    assert after["llama-dev-artifacts"] == before["llama-dev-artifacts"]
    assert after["llama-dev-intent-1b"] == before["llama-dev-intent-1b"]
    old, new = before["llama-dev-intent-3b"], after["llama-dev-intent-3b"]
    package = only(new, "AWS::SageMaker::Model")["Properties"]["PrimaryContainer"]["ModelPackageName"]
    assert "Packagellama323binstructv2" in str(package)
    assert only(new, "AWS::SageMaker::Endpoint")["Properties"]["EndpointName"] == "dev-intent-3b"
    # Same logical ids: CloudFormation replaces Model and EndpointConfig (create-only properties
    # changed) and updates the Endpoint in place.
    for kind in ("AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Endpoint"):
        assert set(resources(old, kind)) == set(resources(new, kind))
    assert new["Outputs"]["ModelVersion"]["Value"] == "v2"
    assert new["Outputs"]["Image"]["Value"] != old["Outputs"]["Image"]["Value"]


def _repo_with_tools(repo_copy: Path) -> Path:
    for name in ("app.py", "config", "stacks", "scripts", "node_modules"):
        (repo_copy / name).symlink_to(ROOT / name)
    return repo_copy


@pytest.mark.slow  # full tier: a subprocess (the CLI, app.py)
def test_invalid_config_stops_synth_with_one_line_and_leaves_cdk_out_untouched(repo_copy):
    root = _repo_with_tools(repo_copy)
    previous = root / "cdk.out"
    previous.mkdir()
    (previous / "marker").write_text("from the last good synth")
    prod = root / "environments" / "prod.yaml"
    prod.write_text(prod.read_text().replace("instance_type: ml.g5.2xlarge", "instance_type: ml.g5.3xlarge"))
    result = subprocess.run([sys.executable, "-m", "scripts", "synth"], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PINNED_LLAMA_ROOT": str(root)}, timeout=120)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == ["error: environments/prod.yaml:18: endpoints.intent-3b.instance_type: 'ml.g5.3xlarge' is "
                      "not a GPU instance type this project supports; fix: use an ml.g5 type: ml.g5.12xlarge, "
                      "ml.g5.16xlarge, ml.g5.24xlarge, ml.g5.2xlarge, ml.g5.48xlarge, ml.g5.4xlarge, "
                      "ml.g5.8xlarge, ml.g5.xlarge"]
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in root.iterdir() if p.name.startswith("cdk.out")) == ["cdk.out"]
    assert (previous / "marker").read_text() == "from the last good synth"


@pytest.mark.slow  # full tier: a subprocess (the CLI, app.py)
def test_app_py_refuses_invalid_input_before_building_anything(repo_copy, tmp_path):
    root = _repo_with_tools(repo_copy)
    pin = root / "model_artifacts" / "llama-3-2-3b-instruct" / "v1.yaml"
    pin.write_text(pin.read_text().replace("max_model_len: 8192", "max_model_len: 16384"))
    out = tmp_path / "assembly"
    result = subprocess.run([sys.executable, "app.py"], cwd=root, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "CDK_OUTDIR": str(out)})
    assert result.returncode == 2
    assert "model_artifacts/llama-3-2-3b-instruct/v1.yaml" in result.stderr
    assert "manifest_sha256 does not match" in result.stderr
    assert not out.exists() or not any(out.iterdir())
