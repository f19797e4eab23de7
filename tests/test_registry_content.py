"""A pinned version's registry package is a function of its pin alone (config/registry_content.py):
InferenceSpecification and the description are create-only, so a later change to the code that
derives them (the serving environment, the instance-type list, the content types) must reach new
pins only, never the package of a version already pinned, live or not."""

from __future__ import annotations

import pytest
from aws_cdk import Environment as StackTarget
from aws_cdk import Stack
from aws_cdk.assertions import Template
from conftest import ROOT

from config import registry_content
from config.catalog import GpuInstance
from config.manifest_io import seal
from config.pin import Pin
from config.project import load_project
from stacks.constructs.model_package_group import ModelPackageGroup, ModelPackageGroupProps
from stacks.constructs.pinned_model_package import PinnedModelPackage, PinnedModelPackageProps
from stacks.environment_app import new_app

pytestmark = pytest.mark.xdist_group("cdk")  # builds stacks in this process: see conftest.py

PROJECT = load_project(ROOT)
SCHEMA_1 = PROJECT.pins[("llama-3-2-3b-instruct", "v1")]  # the repo's pins: schema 1, derived by registry_v1


def schema_2(version: str) -> Pin:
    """A version pinned today: pin-weights writes schema 2, with the derivation frozen into it."""
    data = SCHEMA_1.model_dump(mode="json", exclude={"manifest_sha256", "registry"})
    data.update(version=version, schema_version=2, description=None)
    data["weights"]["prefix"] = f"{SCHEMA_1.model}/{version}/"
    return seal(data)


def packages(*pins: Pin) -> dict[str, dict]:
    """{version: the package's properties} as the artifacts stack synthesizes them."""
    stack = Stack(new_app(ROOT), "Test", env=StackTarget(account="111111111111", region="us-east-1"))
    group = ModelPackageGroup(stack, "Group", ModelPackageGroupProps(name="dev-m", model="m", hub_repo="o/r"))
    for pin in pins:
        PinnedModelPackage(stack, f"Package-{pin.version}", PinnedModelPackageProps(
            pin=pin, group=group, region="us-east-1", weights_bucket_name="b", content=registry_content.registry_content(pin)))
    found = Template.from_stack(stack).find_resources("AWS::SageMaker::ModelPackage").values()
    return {p["Properties"]["CustomerMetadataProperties"]["pin-version"]: p["Properties"] for p in found}


def test_a_new_pin_freezes_what_is_derived_today():
    pin = schema_2("v7")
    assert pin.registry == registry_content.freeze(pin)
    assert pin.registry.environment["HF_MODEL_ID"] == "/opt/ml/model"
    # every listed GPU type it fits, any family: an endpoint may opt in to a non-g5 one
    assert {"ml.g5.xlarge", "ml.g6.xlarge", "ml.g6e.xlarge"} <= set(pin.registry.instance_types)


def test_code_changes_to_the_derivation_leave_existing_packages_unchanged(monkeypatch):
    pinned_before = schema_2("v7")
    before = packages(SCHEMA_1, pinned_before)

    # A later release changes every code-derived part: one more environment variable, another
    # content type, a new instance type in the catalog, a stricter fit.
    original_env = registry_content.container_environment
    monkeypatch.setattr(registry_content, "container_environment",
                        lambda pin: {**original_env(pin), "OPTION_NEW_SETTING": "1"})
    monkeypatch.setattr(registry_content, "CONTENT_TYPES", ["application/json", "text/plain"])
    monkeypatch.setitem(registry_content.INSTANCES, "ml.g7.xlarge", GpuInstance("ml.g7.xlarge", 1, 48))
    monkeypatch.setattr("config.catalog.sagemaker_instance_types", lambda: frozenset(registry_content.INSTANCES))
    monkeypatch.setattr("config.fit.RUNTIME_OVERHEAD_GIB", 4.0)

    pinned_after = schema_2("v8")  # the new derivation reaches a version pinned now ...
    assert pinned_after.registry.environment["OPTION_NEW_SETTING"] == "1"
    assert "ml.g7.xlarge" in pinned_after.registry.instance_types
    assert pinned_after.registry.content_types == ["application/json", "text/plain"]
    # ... and no version pinned before, of either schema
    after = packages(SCHEMA_1, pinned_before)
    assert after == before
    spec = after["v7"]["InferenceSpecification"]
    assert "OPTION_NEW_SETTING" not in spec["Containers"][0]["Environment"]
    assert "ml.g7.xlarge" not in spec["SupportedRealtimeInferenceInstanceTypes"]


def test_a_schema_2_pin_without_its_registry_block_is_refused():
    data = schema_2("v7").model_dump(mode="json", exclude={"registry"})
    with pytest.raises(ValueError, match="schema_version 2 pins need a registry block"):
        Pin.model_validate(data)


def test_the_registry_block_is_covered_by_the_manifest_hash():
    data = schema_2("v7").model_dump(mode="json")
    data["registry"]["environment"]["OPTION_DTYPE"] = "fp16"  # a hand edit
    with pytest.raises(ValueError, match="manifest_sha256 does not match"):
        Pin.model_validate(data)


def test_schema_1_pins_hash_as_before_the_block_existed():
    assert SCHEMA_1.registry is None and SCHEMA_1.content_hash() == SCHEMA_1.manifest_sha256
