"""Per-deployment overrides (promote, rollback, the phases of a resize) are validated like the config.

The path: promote builds a `DeployOverride` -> CDK context `deploy_overrides` (JSON) ->
stacks/environment_app.py reads it back -> `apply_overrides`. A bad value anywhere on it
must be refused as a config error is, before any construct exists, never deployed.
"""

from __future__ import annotations

import json

import pytest

from config.deploy_override import (CONTEXT_KEY, DeployOverride, DeployOverrides, apply_overrides,
                                    overrides_from_context)
from config.environment import Strategy
from config.errors import SpecErrors
from config.project import load_project
from conftest import ROOT

pytestmark = pytest.mark.xdist_group("cdk")  # builds stacks in this process: see conftest.py


@pytest.fixture(scope="module")
def project():
    return load_project(ROOT)


def errors_of(project, **override) -> list[str]:
    with pytest.raises(SpecErrors) as caught:
        apply_overrides(project, DeployOverrides({"dev/intent-3b": DeployOverride(**override)}))
    return [str(e) for e in caught.value.errors]


def test_an_override_applies_to_its_endpoint_only(project):
    changed = apply_overrides(project, DeployOverrides({"dev/intent-3b": DeployOverride(
        version="v2", instance_type="ml.g5.2xlarge", strategy=Strategy.LINEAR, auto_rollback=False)}))
    endpoint = changed.environments["dev"].endpoints["intent-3b"]
    assert (endpoint.version, endpoint.instance_type, endpoint.deployment.strategy) == \
        ("v2", "ml.g5.2xlarge", Strategy.LINEAR)
    assert endpoint.deployment.linear_step.value == 25  # the smallest safe step the config leaves out
    assert changed.environments["dev"].endpoints["intent-1b"] == project.environments["dev"].endpoints["intent-1b"]
    assert project.environments["dev"].endpoints["intent-3b"].version == "v1"  # the loaded project is unchanged


def test_an_instance_type_sagemaker_does_not_have_is_refused(project):
    """The defect this closes: `model_copy(update=...)` does not validate, so ml.g5.3xlarge passed."""
    (error,) = errors_of(project, instance_type="ml.g5.3xlarge")
    assert error.startswith("context deploy_overrides dev/intent-3b: endpoints.intent-3b.instance_type: "
                            "'ml.g5.3xlarge' is not a GPU instance type this project supports; fix: use an ml.g5")


def test_a_malformed_instance_type_is_refused_by_the_model_itself():
    with pytest.raises(ValueError, match="instance_type"):
        DeployOverride(instance_type="g5.xlarge")


def test_an_override_to_a_version_that_is_not_pinned_is_refused(project):
    (error,) = errors_of(project, version="v9")
    assert "endpoints.intent-3b.version: no pin model_artifacts/llama-3-2-3b-instruct/v9.yaml" in error


def test_an_instance_the_model_does_not_fit_is_refused(project):
    (error,) = errors_of(project, instance_type="ml.g5.12xlarge")
    assert "tensor_parallel_degree 1 but ml.g5.12xlarge has 4 GPU(s)" in error


def test_a_strategy_that_does_not_fit_the_fleet_is_refused(project):
    # dev intent-3b runs one instance: a canary of one instance is more than half of it (and of the
    # min of both its scaling schedules).
    errors = errors_of(project, strategy=Strategy.CANARY)
    assert any("endpoints.intent-3b.deployment.canary_size: 1 instance(s) is more than half of instances.min (1)"
               in e for e in errors)
    assert len(errors) == 3


def test_promote_strategy_whose_wait_cannot_roll_back_is_refused(project):
    # dev intent-3b waits 120 s; as a linear deployment its alarms (3 x 60 s + 120 s) could never fire
    (error,) = errors_of(project, strategy=Strategy.LINEAR)
    assert "deployment.wait_seconds: wait_seconds 120 is shorter than the rollback alarms can fire" in error


def test_an_override_of_an_endpoint_that_does_not_exist_is_refused(project):
    with pytest.raises(SpecErrors) as caught:
        apply_overrides(project, DeployOverrides({"dev/intent-9b": DeployOverride(version="v2")}))
    assert [e.field for e in caught.value.errors] == ["dev/intent-9b"]


def test_the_context_round_trip_keeps_every_field():
    overrides = DeployOverrides({"dev/intent-3b": DeployOverride(
        strategy=Strategy.ALL_AT_ONCE, suspend_autoscaling=True, auto_rollback=False, version="v1",
        instance_type="ml.g5.xlarge")})
    assert overrides_from_context(overrides.to_context()) == overrides
    assert overrides_from_context(json.loads(overrides.to_context())) == overrides


@pytest.mark.parametrize("value, field, problem", [
    ('{"dev/intent-3b": {"strategy": "blue-green"}}', "dev/intent-3b.strategy", "Input should be"),
    ('{"dev/intent-3b": {"suspend_autoscalling": true}}', "dev/intent-3b.suspend_autoscalling", "unknown key"),
    ('{"dev/intent-3b": {"version": 2}}', "dev/intent-3b.version", "string"),
    ("{not json", "", "not JSON"),
])
def test_a_hand_written_context_value_is_refused_in_one_line(value, field, problem):
    """`cdk synth -c deploy_overrides=...` by hand: the same one-line errors as a config file."""
    with pytest.raises(SpecErrors) as caught:
        overrides_from_context(value)
    (error,) = caught.value.errors
    assert (error.file, error.field) == (f"context {CONTEXT_KEY}", field) and problem in error.problem
    assert "\n" not in str(error) and "; fix: " in str(error)


def test_the_app_refuses_a_bad_override_before_building_anything(tmp_path):
    from stacks.environment_app import build, new_app

    app = new_app(ROOT, outdir=str(tmp_path), context={
        "env": "dev", CONTEXT_KEY: json.dumps({"dev/intent-3b": {"instance_type": "ml.g5.3xlarge"}})})
    with pytest.raises(SpecErrors):
        build(app, load_project(ROOT, only_env="dev"))
    assert app.node.children == []
