"""The synth path users run: version changes flow into the right resources; bad input writes nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
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
    for name in ("app.py", "config", "stacks", "scripts", "node_modules", ".venv"):
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


def _processes_in(directory: Path) -> list[str]:
    """Command lines of the processes whose working directory is `directory` (Linux /proc)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cwd").resolve() == directory.resolve():
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:  # gone, or not ours to read
            continue
    return found


@pytest.mark.slow  # full tier: a subprocess (the CLI, app.py)
def test_sigterm_mid_synth_ends_the_cli_and_its_app_and_leaves_cdk_out_untouched(repo_copy):
    """A cancelled CI job during `synth`: the CDK CLI and the app it started (`python app.py`) end
    with the command, not after it (the app would write on into the staging directory), the staging
    directory is removed and the last good cdk.out stays; exit 130 with one line."""
    root = _repo_with_tools(repo_copy)
    (root / "cdk.out").mkdir()
    (root / "cdk.out" / "marker").write_text("from the last good synth")
    command = subprocess.Popen([sys.executable, "-m", "scripts", "synth", "--json"], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "PINNED_LLAMA_ROOT": str(root)})
    try:
        deadline = time.monotonic() + 90
        while not any("app.py" in line for line in _processes_in(root)):
            assert command.poll() is None and time.monotonic() < deadline, command.stderr.read()
            time.sleep(0.05)
        command.send_signal(signal.SIGTERM)
        out, err = command.communicate(timeout=30)
    finally:
        command.kill()
    assert command.returncode == 130, err
    assert [line for line in err.splitlines() if line.strip()] == ["interrupted by SIGTERM"]
    deadline = time.monotonic() + 10
    while _processes_in(root) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_in(root) == [], "the CLI or its app outlived the command"
    assert sorted(p.name for p in root.iterdir() if p.name.startswith("cdk.out")) == ["cdk.out"]
    assert (root / "cdk.out" / "marker").read_text() == "from the last good synth"


def test_a_synth_killed_with_minus_9_leaves_nothing_for_the_next_one(tmp_path):
    """kill -9 runs no handler: the next synth removes the dead run's staging directory and puts its
    previous cdk.out back if it died between the renames; a live run's directories stay."""
    from scripts.commands.synth import _clear_leftovers

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for name in (f"cdk.out.tmp-{dead.pid}", f"cdk.out.old-{dead.pid}", f"cdk.out.tmp-{os.getpid()}"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_text(name)
    _clear_leftovers(tmp_path, tmp_path / "cdk.out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cdk.out", f"cdk.out.tmp-{os.getpid()}"]
    assert (tmp_path / "cdk.out" / "manifest.json").read_text() == f"cdk.out.old-{dead.pid}"
    (tmp_path / f"cdk.out.old-{dead.pid}").mkdir()  # died after the swap: the new cdk.out stands
    _clear_leftovers(tmp_path, tmp_path / "cdk.out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cdk.out", f"cdk.out.tmp-{os.getpid()}"]
