"""Shadow variants: a second version behind an endpoint, copied every request, answering nobody.

One synthesis of dev with a shadow on both endpoints: intent-3b shadows v3 (a TGI container,
so another image repository than the live LMI v1), intent-1b shadows v2 (same repository) on a
larger instance type.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint
from conftest import ROOT, only, resources, synthesize

from config.errors import SpecErrors

pytestmark = pytest.mark.slow  # full tier: a synth of its own (the shadow configuration)

MODEL_3B, MODEL_1B = "llama-3-2-3b-instruct", "llama-3-2-1b-instruct"
LMI_REPO, TGI_REPO = "djl-inference", "huggingface-pytorch-tgi-inference"


def copy_repo(root: Path) -> Path:
    for name in ("environments", "model_artifacts"):
        shutil.copytree(ROOT / name, root / name)
    shutil.copy(ROOT / "cdk.json", root / "cdk.json")
    return root


def add_pin(root: Path, model: str, version: str, like: str, container_from: tuple[str, str] | None = None) -> None:
    """A new valid pin `version` of `model`, copied from `like` (optionally with another pin's container)."""
    from ruamel.yaml import YAML

    from config.manifest_io import render, seal

    yaml = YAML(typ="safe", pure=True)
    data = yaml.load((root / "model_artifacts" / model / f"{like}.yaml").read_text())
    data.pop("manifest_sha256")
    data.update(version=version, description=f"{model} {version} (test)")
    data["weights"]["prefix"] = f"{model}/{version}/"
    if container_from:
        other = yaml.load((root / "model_artifacts" / container_from[0] / f"{container_from[1]}.yaml").read_text())
        data["container"] = other["container"]
    data["approval"] = {"status": "PendingManualApproval"}
    (root / "model_artifacts" / model / f"{version}.yaml").write_text(render(seal(data)))


def set_in(root: Path, env: str, old: str, new: str, count: int = 1) -> None:
    path = root / "environments" / f"{env}.yaml"
    text = path.read_text()
    assert text.count(old) >= count, old
    path.write_text(text.replace(old, new, count))


@pytest.fixture(scope="module")
def shadow_templates(tmp_path_factory) -> dict[str, dict]:
    root = copy_repo(tmp_path_factory.mktemp("shadow-repo"))
    add_pin(root, MODEL_3B, "v3", like="v2", container_from=(MODEL_1B, "v1"))
    add_pin(root, MODEL_1B, "v2", like="v1")
    set_in(root, "dev", "    data_capture_percent: 100\n    # To mirror",
           "    data_capture_percent: 100\n    shadow_version: v3\n    # To mirror")
    set_in(root, "dev", "    evaluation: *intent-eval\n",
           "    evaluation: *intent-eval\n    shadow_version: v2\n    shadow_instance_type: ml.g5.2xlarge\n")
    return synthesize(root, tmp_path_factory.mktemp("shadow-out"), env="dev")


def test_endpoint_config_has_one_production_and_one_shadow_variant_from_two_models(shadow_templates):
    template = shadow_templates["llama-dev-intent-3b"]
    config = only(template, "AWS::SageMaker::EndpointConfig")["Properties"]
    (production,) = config["ProductionVariants"]
    (shadow,) = config["ShadowProductionVariants"]
    assert (production["VariantName"], shadow["VariantName"]) == ("primary", "shadow")
    assert shadow["InstanceType"] == production["InstanceType"] == "ml.g5.xlarge"  # same type by default
    assert shadow["InitialInstanceCount"] == production["InitialInstanceCount"] == 1
    assert shadow["InitialVariantWeight"] == production["InitialVariantWeight"] == 1.0
    for key in ("ContainerStartupHealthCheckTimeoutInSeconds", "ModelDataDownloadTimeoutInSeconds", "RoutingConfig"):
        assert shadow[key] == production[key]
    models = resources(template, "AWS::SageMaker::Model")
    assert len(models) == 2
    by_id = {production["ModelName"]["Fn::GetAtt"][0]: "live", shadow["ModelName"]["Fn::GetAtt"][0]: "shadow"}
    assert set(by_id) == set(models)
    containers = {by_id[k]: m["Properties"]["PrimaryContainer"] for k, m in models.items()}
    # v1 is Approved: built from its package; the shadow v3 is not (a shadow gathers the evidence for
    # approval), and SageMaker deploys only Approved versioned packages: built from its pin
    assert "Packagellama323binstructv1" in json.dumps(containers["live"]["ModelPackageName"])
    assert "ModelPackageName" not in containers["shadow"]
    assert containers["shadow"]["ModelDataSource"]["S3DataSource"]["S3Uri"].endswith("/llama-3-2-3b-instruct/v3/")
    tags = {by_id[k]: {t["Key"]: t["Value"] for t in m["Properties"]["Tags"]} for k, m in models.items()}
    assert (tags["live"]["pin-version"], tags["shadow"]["pin-version"]) == ("v1", "v3")
    policy = next(iter(resources(template, "AWS::IAM::Policy")))
    for model in models.values():
        assert model["DependsOn"] == [policy]  # SageMaker checks the role when it creates the endpoint
        assert model["Properties"]["EnableNetworkIsolation"] is True
    assert template["Outputs"]["ShadowVersion"]["Value"] == "v3"
    assert template["Outputs"]["ModelVersion"]["Value"] == "v1"


def test_both_variants_are_captured_under_the_endpoint_prefix(shadow_templates):
    from config.naming import capture_prefix

    config = only(shadow_templates["llama-dev-intent-3b"], "AWS::SageMaker::EndpointConfig")["Properties"]
    capture = config["DataCaptureConfig"]
    assert capture["EnableCapture"] is True and capture["InitialSamplingPercentage"] == 100
    assert [o["CaptureMode"] for o in capture["CaptureOptions"]] == ["Input", "Output"]
    # What shadow-report reads: <prefix><endpoint>/<variant>/yyyy/mm/dd/hh/ for both variants.
    bucket = "llama-capture-dev-111111111111-us-east-1"
    assert capture["DestinationS3Uri"] == f"s3://{bucket}/{capture_prefix('dev-intent-3b')}"


def test_role_reads_the_model_prefix_and_pulls_the_shadow_image_repository_too(shadow_templates):
    def statements(stack: str) -> dict[str, dict]:
        policy = only(shadow_templates[stack], "AWS::IAM::Policy")["Properties"]["PolicyDocument"]
        return {s["Sid"]: s for s in policy["Statement"]}

    three = statements("llama-dev-intent-3b")
    pulls = [json.dumps(r) for r in three["PullOwnImage"]["Resource"]]
    assert len(pulls) == 2
    assert any(f":repository/{LMI_REPO}" in r for r in pulls) and any(f":repository/{TGI_REPO}" in r for r in pulls)
    assert f"{MODEL_3B}/*" in json.dumps(three["ReadOwnModelWeights"]["Resource"])  # v1 and v3 both under it
    one = statements("llama-dev-intent-1b")
    assert isinstance(one["PullOwnImage"]["Resource"], str) and TGI_REPO in json.dumps(one["PullOwnImage"]["Resource"])


def test_shadow_instance_type_override_and_guardrails_stay_on_the_production_variant(shadow_templates):
    template = shadow_templates["llama-dev-intent-1b"]
    config = only(template, "AWS::SageMaker::EndpointConfig")["Properties"]
    assert config["ProductionVariants"][0]["InstanceType"] == "ml.g5.xlarge"
    assert config["ShadowProductionVariants"][0]["InstanceType"] == "ml.g5.2xlarge"
    endpoint = only(template, "AWS::SageMaker::Endpoint")["Properties"]
    routing = endpoint["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == "ALL_AT_ONCE"
    assert endpoint["RetainAllVariantProperties"] is True
    # Autoscaling and the rollback alarms watch the production variant only: a failing shadow
    # neither rolls production back nor scales it, and removing the shadow later is a plain update.
    targets = resources(template, "AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert all("variant/primary" in json.dumps(t["Properties"]["ResourceId"]) for t in targets)
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        variants = [d["Value"] for d in alarm["Properties"].get("Dimensions", []) if d["Name"] == "VariantName"]
        assert variants in ([], ["primary"])


@pytest.mark.parametrize("stack", ["llama-dev-intent-3b", "llama-dev-intent-1b"])
def test_shadow_stacks_are_cfn_lint_clean(shadow_templates, stack):
    # cdk-nag ran during synthesis: any finding would have failed the fixture.
    matches = lint(json.dumps(shadow_templates[stack]), config=ManualArgs(regions=["us-east-1"]))
    assert [f"{m.rule.id} {m.message}" for m in matches] == []


MIRROR = "    data_capture_percent: 100\n    # To mirror"


@pytest.mark.parametrize("env, old, new, blamed, expected", [
    ("staging", "    data_capture_percent: 50\n", "    data_capture_percent: 50\n    shadow_version: v2\n",
     "shadow_version", "shadow_version needs deployment.strategy all-at-once, not canary; fix: set "
                       "deployment.strategy: all-at-once"),
    ("dev", MIRROR, MIRROR.replace("# To", "shadow_version: v1\n    # To"),
     "shadow_version", "shadow_version v1 is the live version; fix:"),
    ("dev", MIRROR, MIRROR.replace("100", "0").replace("# To", "shadow_version: v2\n    # To"),
     "data_capture_percent", "shadow_version without data capture: the shadow's answers would be lost; fix:"),
    ("dev", MIRROR, MIRROR.replace("# To", "shadow_version: v7\n    # To"),
     "shadow_version", "no pin model_artifacts/llama-3-2-3b-instruct/v7.yaml; fix: use a pinned version of "
                       "llama-3-2-3b-instruct (v1, v2)"),
    ("dev", MIRROR, MIRROR.replace("# To", "shadow_instance_type: ml.g5.2xlarge\n    # To"),
     "shadow_instance_type", "shadow_instance_type is set without shadow_version; fix:"),
    ("dev", MIRROR, MIRROR.replace("# To", "shadow_version: v2\n    shadow_instance_type: ml.g5.12xlarge\n    # To"),
     "shadow_instance_type", "shadow llama-3-2-3b-instruct/v2 uses tensor_parallel_degree 1 but ml.g5.12xlarge has "
                             "4 GPU(s); fix:"),
])
def test_shadow_guardrails_are_validated_with_file_line_and_fix(tmp_path, env, old, new, blamed, expected):
    from config.project import load_project

    root = copy_repo(tmp_path)
    set_in(root, env, old, new)
    text = (root / "environments" / f"{env}.yaml").read_text()
    line = next(n for n, t in enumerate(text.splitlines(), 1) if t.startswith(f"    {blamed}:"))
    with pytest.raises(SpecErrors) as raised:
        load_project(root)
    errors = [str(e) for e in raised.value.errors]
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"environments/{env}.yaml:{line}: endpoints.intent-3b.{blamed}: {expected}"), errors
