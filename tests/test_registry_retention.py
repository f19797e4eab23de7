"""Which versions an environment keeps registered and exported (config/registry_retention.py), and the
validation that refuses an artifacts stack above CloudFormation's 200 outputs / 500 resources."""

from __future__ import annotations

import pytest
from aws_cdk import Environment as StackTarget
from aws_cdk.assertions import Template
from conftest import ROOT

from config.manifest_io import render, seal
from config.project import load_project
from config.registry_retention import limit_problem, registered_pins, version_order
from config_helpers import DEV, copy_tree, one
from stacks.artifacts_stack import ArtifactsStack, ArtifactsStackProps
from stacks.environment_app import new_app

pytestmark = pytest.mark.xdist_group("cdk")  # builds stacks in this process: see conftest.py

PROJECT = load_project(ROOT)
DEV_ENV = PROJECT.environments["dev"]
V1 = PROJECT.pins[("llama-3-2-3b-instruct", "v1")]


def versions(count: int) -> dict:
    """The repo's pins plus v3..v<count> of the 3B model (copies of v1: the rules read names only)."""
    pins = dict(PROJECT.pins)
    for i in range(3, count + 1):
        pins[(V1.model, f"v{i}")] = V1.model_copy(update={"version": f"v{i}"})
    return pins


def test_versions_sort_with_numbers_compared_as_numbers():
    assert sorted(["v10", "v2", "v1", "v10a"], key=version_order) == ["v1", "v2", "v10", "v10a"]
    assert sorted(["2025-02-01", "2025-01-05"], key=version_order) == ["2025-01-05", "2025-02-01"]


def test_an_environment_keeps_the_newest_versions_and_every_live_one():
    env = DEV_ENV.model_copy(update={"keep_versions": 3})
    kept = {p.ref for p in registered_pins(env, versions(12))}
    assert kept == {(V1.model, v) for v in ("v1", "v10", "v11", "v12")} | {("llama-3-2-1b-instruct", "v1")}


def test_retired_versions_leave_the_template_and_their_packages_are_retained():
    env = DEV_ENV.model_copy(update={"keep_versions": 2})
    stack = ArtifactsStack(new_app(ROOT), "A", ArtifactsStackProps(environment=env, pins=registered_pins(env, versions(5))),
                           env=StackTarget(account=env.account, region=env.region))
    packages = Template.from_stack(stack).find_resources("AWS::SageMaker::ModelPackage").values()
    assert sorted(p["Properties"]["CustomerMetadataProperties"]["pin-version"] for p in packages) == \
        ["v1", "v1", "v4", "v5"]  # 1B v1, 3B v1 (live), the newest two of 3B
    assert all(p["DeletionPolicy"] == "Retain" for p in packages)


def test_the_output_limit_is_refused_with_the_count():
    env = DEV_ENV.model_copy(update={"keep_versions": 190})
    assert limit_problem(env, versions(189)) is None  # 189 of the 3B + 1 of the 1B, + 10 reserved = 200
    problem, fix = limit_problem(env, versions(190))
    assert problem.startswith("191 registered versions make the artifacts stack hold 201 outputs")
    assert "CloudFormation allows 200 outputs and 500 resources per template" in problem
    assert "lower keep_versions (now 190)" in fix


@pytest.mark.slow  # full tier: writes and validates 190 pin manifests
def test_validation_refuses_an_environment_above_the_limit(tmp_path):
    tree = copy_tree(tmp_path)
    tree.replace(DEV, "object_lock_days: 30", "object_lock_days: 30\nkeep_versions: 190")
    base = V1.model_dump(mode="json", exclude={"manifest_sha256"})
    for i in range(3, 191):  # 3B v1..v190 and 1B v1: 191 versions
        data = {**base, "version": f"v{i}", "weights": {**base["weights"], "prefix": f"{V1.model}/v{i}/"}}
        tree.write(f"model_artifacts/{V1.model}/v{i}.yaml", render(seal(data)))
    one(tree.errors(), DEV, "keep_versions", "191 registered versions make the artifacts stack hold 201 outputs")
