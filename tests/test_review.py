"""`review`: what a pull request changes per stack, read from the base and head assemblies.

The head changes what a promotion and a CI change would: intent-3b's version (v1 -> v2), its
instance type and latency alarm, and the dev deploy role's trusted branch. Each synthesis takes
~10 s, so the minimal environment (dev) is synthesized twice per module, no more.
"""

from __future__ import annotations

import json
import shutil

import pytest

from cli_helpers import run_cli
from conftest import ROOT, copy_inputs, synthesize

from scripts.lib.review_diff import diff_assemblies

pytestmark = pytest.mark.slow  # full tier: two synths of their own (base and head)


@pytest.fixture(scope="module")
def assemblies(tmp_path_factory) -> tuple:
    base_repo, head_repo = (copy_inputs(tmp_path_factory.mktemp(n)) for n in ("base-repo", "head-repo"))
    for repo in (base_repo, head_repo):
        shutil.copy(ROOT / "github.yaml", repo / "github.yaml")
    dev = head_repo / "environments" / "dev.yaml"
    text = dev.read_text()
    for old, new in (("version: v1", "version: v2"), ("instance_type: ml.g5.xlarge", "instance_type: ml.g5.2xlarge"),
                     ("latency_p99_ms: 8000", "latency_p99_ms: 9000")):
        assert old in text, "the dev example changed: update this test"
        text = text.replace(old, new, 1)  # the first endpoint: intent-3b
    dev.write_text(text)
    github = head_repo / "github.yaml"
    assert "dev: {branch: main" in github.read_text(), "the github.yaml example changed: update this test"
    github.write_text(github.read_text().replace("dev: {branch: main", "dev: {branch: release", 1))
    base, head = tmp_path_factory.mktemp("base.out"), tmp_path_factory.mktemp("head.out")
    synthesize(base_repo, base, env="dev")
    synthesize(head_repo, head, env="dev")
    return base, head


@pytest.fixture(scope="module")
def diffs(assemblies) -> dict:
    return {d.stack: d for d in diff_assemblies(*assemblies)}


def test_only_the_changed_stacks_are_reported_as_changed(diffs):
    assert {s: d.status for s, d in diffs.items()} == {
        "llama-dev-artifacts": "unchanged", "llama-dev-intent-1b": "unchanged",
        "llama-dev-intent-3b": "changed", "llama-dev-github-deploy": "changed",
        "llama-dev-intent-1b-routing": "unchanged", "llama-dev-intent-3b-routing": "unchanged",
        "llama-dev-intents-lora": "unchanged"}


def test_endpoint_facts_name_the_version_digest_weights_and_instance_type(diffs):
    changes = {c.name: (c.before, c.after) for c in diffs["llama-dev-intent-3b"].endpoint}
    assert changes["version"] == ("llama-3-2-3b-instruct v1", "llama-3-2-3b-instruct v2")
    before, after = changes["image digest"]
    assert before.startswith("sha256:") and after.startswith("sha256:") and before != after
    assert changes["weights"][1].endswith("/llama-3-2-3b-instruct/v2/")
    assert changes["instance type"] == ("ml.g5.xlarge", "ml.g5.2xlarge")
    assert set(changes) == {"version", "image digest", "weights", "instance type"}


def test_model_and_endpoint_config_are_replaced_and_the_endpoint_updated_in_place(diffs):
    actions = {(r.type, r.action) for r in diffs["llama-dev-intent-3b"].resources}
    assert ("AWS::SageMaker::Model", "replace") in actions
    # The config's own text changes (instance type), and it names the new model: replaced either way.
    assert ("AWS::SageMaker::EndpointConfig", "replace") in actions
    assert ("AWS::SageMaker::Endpoint", "update") in actions
    assert not any(r.action == "replace" and r.type == "AWS::SageMaker::Endpoint"
                   for r in diffs["llama-dev-intent-3b"].resources)


def test_a_changed_alarm_threshold_is_shown_before_and_after(diffs):
    (alarm,) = diffs["llama-dev-intent-3b"].alarms
    assert alarm.name == "dev-intent-3b-latency-p99"
    assert "8000000" in alarm.before and "9000000" in alarm.after  # microseconds


def test_iam_statements_added_and_removed_show_the_trust_change(diffs):
    diff = diffs["llama-dev-github-deploy"]
    assert len(diff.iam_added) == len(diff.iam_removed) == 1
    assert "refs/heads/release" in diff.iam_added[0] and "refs/heads/main" in diff.iam_removed[0]
    assert "sts:AssumeRoleWithWebIdentity" in diff.iam_added[0]
    # The endpoint's execution role did not change: same image repository, same prefixes.
    assert diffs["llama-dev-intent-3b"].iam_added == diffs["llama-dev-intent-3b"].iam_removed == []


def test_same_assembly_on_both_sides_reports_nothing(assemblies):
    base, _ = assemblies
    assert {d.status for d in diff_assemblies(base, base)} == {"unchanged"}


def test_cli_writes_markdown_for_the_job_summary(assemblies, tmp_path):
    base, head = assemblies
    report = tmp_path / "review.md"
    result = run_cli("review", "--base", str(base), "--head", str(head), "--markdown", str(report))
    assert result.code == 0, result.err
    text = report.read_text()
    assert "## `llama-dev-intent-3b` (changed)" in text
    assert "| version | llama-3-2-3b-instruct v1 | llama-3-2-3b-instruct v2 |" in text
    assert "**Replaced**" in text and "AWS::SageMaker::Model" in text and "AWS::SageMaker::EndpointConfig" in text
    assert "**IAM statements added** (1):" in text and "**IAM statements removed** (1):" in text
    assert "Unchanged: `llama-dev-artifacts`, `llama-dev-intent-1b`" in text


def test_cli_json_lists_every_stack(assemblies):
    base, head = assemblies
    result = run_cli("review", "--base", str(base), "--head", str(head), "--json")
    assert result.code == 0, result.err
    stacks = {s["stack"]: s for s in result.result()["stacks"]}
    assert sorted(stacks) == ["llama-dev-artifacts", "llama-dev-github-deploy", "llama-dev-intent-1b",
                              "llama-dev-intent-1b-routing", "llama-dev-intent-3b", "llama-dev-intent-3b-routing",
                              "llama-dev-intents-lora"]
    assert json.dumps(stacks["llama-dev-intent-3b"]["endpoint"])


def test_missing_assembly_is_one_line_exit_2(assemblies, tmp_path):
    _, head = assemblies
    result = run_cli("review", "--base", str(tmp_path / "nowhere"), "--head", str(head))
    assert result.code == 2
    assert result.err_lines == [f"error: {tmp_path / 'nowhere'}: no cloud assembly (manifest.json missing); "
                                "fix: run `make synth` first"]


def test_corrupt_assembly_is_one_line_exit_2(assemblies, tmp_path):
    _, head = assemblies
    (tmp_path / "manifest.json").write_text("{not json")
    result = run_cli("review", "--base", str(tmp_path), "--head", str(head))
    assert result.code == 2
    assert len(result.err_lines) == 1 and "fix: point --base and --head at cdk.out" in result.err
    assert "Traceback" not in result.err


def test_unwritable_markdown_path_is_one_line_exit_2(assemblies, tmp_path):
    base, head = assemblies
    result = run_cli("review", "--base", str(base), "--head", str(head), "--markdown", str(tmp_path / "no" / "r.md"))
    assert result.code == 2
    assert len(result.err_lines) == 1 and "cannot write the report" in result.err


def test_a_registry_package_replacement_is_blocking(assemblies, tmp_path):
    """A code change that alters a pinned version's InferenceSpecification replaces its package: the
    review says so first and exits 1, so the pull request's check fails."""
    base, _ = assemblies
    head = tmp_path / "head"
    shutil.copytree(base, head)
    path = head / "llama-dev-artifacts.template.json"
    template = json.loads(path.read_text())
    package = next(r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::ModelPackage")
    package["Properties"]["InferenceSpecification"]["Containers"][0]["Environment"]["OPTION_NEW"] = "1"
    path.write_text(json.dumps(template))
    report = tmp_path / "review.md"
    result = run_cli("review", "--base", str(base), "--head", str(head), "--markdown", str(report))
    assert result.code == 1
    assert result.errors[0].startswith("error: 1 blocking change(s): llama-dev-artifacts: AWS::SageMaker::ModelPackage")
    text = report.read_text()
    assert text.index("## Blocking") < text.index("## `llama-dev-artifacts`")
    assert "would be replaced (InferenceSpecification changed)" in text
    assert run_cli("review", "--base", str(base), "--head", str(base)).code == 0  # nothing changes: not blocking
