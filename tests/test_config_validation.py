"""What `validate` promises users: every bad input is refused with its file, field and a fix.

Each test starts from a copy of the repo's own environments/ and
model_artifacts/ (tests/config_helpers.py) and breaks one thing, so the
examples stay the source of truth and a test fails if a rule stops holding.
"""

from __future__ import annotations

import json
import math
import random
import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from config_helpers import (DEV, MODEL_1B, MODEL_3B, PIN_1B, PIN_3B, PROD, REPO, STAGING, Tree, copy_tree,
                          line_of, one, read_data)

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from config.catalog import INSTANCES
from config.environment import Autoscaling, Environment
from config.errors import SpecErrors
from config.loader import require
from config.manifest_io import seal
from config.pin import Pin, PinnedContent

EP = "endpoints.intent-3b"
FAST = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture
def tree(tmp_path) -> Tree:
    return copy_tree(tmp_path)


# --- the examples themselves -------------------------------------------------------------------


def test_repo_examples_are_valid(tree):
    project = tree.load()
    assert sorted(project.environments) == ["dev", "prod", "staging"]
    assert sorted(project.pins) == [(MODEL_1B, "v1"), (MODEL_3B, "v1"), (MODEL_3B, "v2")]
    assert project.pin_for(project.environments["prod"].endpoints["intent-3b"]).version == "v1"


# --- unknown keys, missing fields, wrong types ---------------------------------------------------


def test_unknown_top_level_key_lists_the_allowed_keys(tree):
    line = tree.replace(DEV, "object_lock_days: 30", "object_lock_days: 30\nnotfy: [a@example.com]") + 1
    error = one(tree.errors(), DEV, "notfy", "unknown key", "correct its spelling")
    assert error.line == line
    assert f"(allowed: {', '.join(sorted(Environment.model_fields))})" in error.fix
    assert "notify" in error.fix and "promote_after" in error.fix


def test_unknown_nested_key_and_the_missing_key_it_replaced_are_both_reported(tree):
    line = tree.replace(DEV, "      target: 8", "      targt: 8")
    errors = tree.errors()
    typo = one(errors, DEV, f"{EP}.autoscaling.targt", "unknown key")
    assert typo.line == line
    assert f"(allowed: {', '.join(sorted(Autoscaling.model_fields))})" in typo.fix
    assert "metric, scale_in_cooldown_seconds, scale_out_cooldown_seconds" in typo.fix
    one(errors, DEV, f"{EP}.autoscaling.target", "Field required", "add this required field")


def test_unknown_key_in_a_pin_lists_the_serving_fields(tree):
    tree.replace(PIN_3B, "  max_batch_size: 64", "  max_batch_size: 64\n  tensor_parallel: 2")
    error = one(tree.file_errors(PIN_3B), PIN_3B, "serving.tensor_parallel", "unknown key")
    assert "tensor_parallel_degree" in error.fix and "max_model_len" in error.fix


@pytest.mark.parametrize("rel, old, field", [
    (DEV, 'account: "111111111111"\n', "account"),
    (DEV, "    instance_type: ml.g5.xlarge\n", f"{EP}.instance_type"),
    (PROD, "    autoscaling:\n      metric: concurrent-requests\n      target: 8\n"
           "      scale_out_cooldown_seconds: 60\n      scale_in_cooldown_seconds: 900\n", f"{EP}.autoscaling"),
    (PIN_3B, "  revision: 0cb88a4f764b7a12671c53f0838cd831a0843b95\n", "source.revision"),
    (PIN_1B, "manifest_sha256: 659206d85257932675554de0b1c2f7a043b9663ee42263b095164e6cc2462933\n",
     "manifest_sha256"),
])
def test_missing_required_field(tree, rel, old, field):
    tree.replace(rel, old, "")
    one(tree.file_errors(rel), rel, field, "Field required", "add this required field")


def test_canary_without_its_size_says_what_to_add(tree):
    tree.replace(PROD, "      canary_size: {type: instance-count, value: 1}\n", "")
    one(tree.errors(), PROD, f"{EP}.deployment.canary_size", "strategy canary needs canary_size",
        "add canary_size: {type: capacity-percent, value: 25}")


def test_omitted_deployment_block_is_a_missing_field_not_a_hidden_crash(tree):
    tree.replace(DEV, "    deployment:\n      strategy: all-at-once\n      wait_seconds: 120\n"
                      "      baking_seconds: 300\n      max_execution_seconds: 3600\n", "")
    tree.replace(DEV, "object_lock_days: 30", "object_lock_days: 30\nbogus: 1")
    errors = tree.errors()
    one(errors, DEV, f"{EP}.deployment", "Field required", "add this required field")
    one(errors, DEV, "bogus", "unknown key")  # the other error of the file is not lost


@pytest.mark.parametrize("rel, old, new, field, fix", [
    (PROD, "{initial: 2, min: 2, max: 8}", "{initial: two, min: 2, max: 8}", f"{EP}.instances.initial",
     "whole number"),
    (PROD, "production: true", "production: yes please", "production", "true or false"),
    (DEV, 'account: "111111111111"', "account: 111111111111", "account", "quoted string"),
    (DEV, "      target: 8", "      target: many", f"{EP}.autoscaling.target", "write a number"),
    (DEV, "      target: 8", "      target: .inf", f"{EP}.autoscaling.target", "finite number"),
    (STAGING, "notify:\n  - ml-platform@example.com", "notify: ml-platform@example.com", "notify", "write a list"),
    (PROD, "    network:", "    network: vpc\n    unused:", f"{EP}.network", "mapping"),
    (PIN_3B, "  framework: djl-lmi", "  framework: vllm", "container.framework", "values listed"),
])
def test_wrong_type(tree, rel, old, new, field, fix):
    line = tree.replace(rel, old, new)
    assert one(tree.file_errors(rel), rel, field, fix=fix).line == line


def test_wrong_type_message_quotes_the_bad_value(tree):
    tree.replace(PROD, "{initial: 2, min: 2, max: 8}", "{initial: two, min: 2, max: 8}")
    assert "(got 'two')" in one(tree.errors(), PROD, f"{EP}.instances.initial").problem


def test_environments_must_be_a_mapping(tree):
    tree.replace(DEV, "endpoints:\n", "endpoints:\n  - just a list\nunused:\n")
    one(tree.errors(), DEV, "endpoints", "valid dictionary", "mapping")


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just a string\n"])
def test_file_that_is_not_a_mapping(tree, text):
    tree.write(STAGING, text)
    one(tree.file_errors(STAGING), STAGING, "", "not a mapping", "example")


# --- YAML and JSON syntax ------------------------------------------------------------------------


@pytest.mark.parametrize("old, new, at, problem", [
    ("name: dev", "\tname: dev", "\tname: dev", "found character '\\t' that cannot start any token"),
    ("name: dev", "name: dev\nname: qa", "name: qa", 'found duplicate key "name"'),
    ("    instances: {initial: 1, min: 1, max: 2}", "    instances: {initial: 1, min: 1, max: 2",
     "    autoscaling:", "expected ',' or '}'"),
    ("region: us-east-1", "region: us-east-1\n---\nextra: 1", "---", "but found another document"),
])
def test_yaml_syntax_error_names_the_line(tree, old, new, at, problem):
    tree.replace(DEV, old, new)
    error = one(tree.file_errors(DEV), DEV, "", "invalid YAML", "fix the YAML syntax")
    assert problem in error.problem
    assert error.line == line_of(tree.text(DEV), at)
    assert str(error).startswith(f"{DEV}:{error.line}: (file): invalid YAML")


def test_yaml_syntax_error_in_one_file_does_not_hide_others(tree):
    tree.replace(DEV, "  intent-1b:", "\tintent-1b:")
    tree.replace(STAGING, "promote_after: dev", "promote_after: qa")
    errors = tree.errors()
    one(errors, DEV, "", "invalid YAML")
    one(errors, STAGING, "promote_after", "no other environment named 'qa'")


def test_json_pin_manifest_is_accepted(tree):
    data = read_data(tree.path(PIN_1B))
    tree.path(PIN_1B).unlink()
    tree.write(PIN_1B.replace(".yaml", ".json"), json.dumps(data, indent=2))
    assert tree.load().pins[(MODEL_1B, "v1")].manifest_sha256 == data["manifest_sha256"]


def test_json_pin_manifest_syntax_error_names_the_line(tree):
    rel = PIN_1B.replace(".yaml", ".json")
    data = read_data(tree.path(PIN_1B))
    tree.path(PIN_1B).unlink()
    text = json.dumps(data, indent=2).replace('"max_batch_size": 128,', '"max_batch_size": 128,,')
    tree.write(rel, text)
    error = one(tree.errors(), rel, "", "invalid JSON", "fix the JSON syntax")
    assert error.line == line_of(text, '"max_batch_size": 128,,')


def test_json_pin_manifest_hand_edit_is_caught(tree):
    rel = PIN_1B.replace(".yaml", ".json")
    data = read_data(tree.path(PIN_1B))
    tree.path(PIN_1B).unlink()
    data["serving"]["max_batch_size"] = 256
    tree.write(rel, json.dumps(data))
    one(tree.file_errors(rel), rel, "manifest_sha256", "does not match", "pin a new version")


def test_same_version_in_yaml_and_json_is_pinned_twice(tree):
    tree.write(PIN_1B.replace(".yaml", ".json"), json.dumps(read_data(tree.path(PIN_1B))))
    errors = tree.errors()
    assert [e.field for e in errors] == ["version"] and "pinned twice" in errors[0].problem


# --- immutability of pins ------------------------------------------------------------------------

IMAGE_3B = ("763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference@sha256:"
            "b6a0958c475d0fce710dfdc6be2fdcb317dd8232f9eeed19ad1cb642f422e7e0")


@pytest.mark.parametrize("new, problem", [
    ("763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.31.0-lmi13.0.0-cu124", "it has a tag"),
    ("763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.31.0@sha256:"
     "b6a0958c475d0fce710dfdc6be2fdcb317dd8232f9eeed19ad1cb642f422e7e0", "pinned by digest"),
    (IMAGE_3B[:-1], "the digest is malformed"),
])
def test_image_must_be_pinned_by_digest(tree, new, problem):
    line = tree.replace(PIN_3B, IMAGE_3B, new)
    error = one(tree.file_errors(PIN_3B), PIN_3B, "container.images.us-east-1", problem, "@sha256:<64 hex>")
    assert error.line == line


def test_image_region_must_match_its_key(tree):
    line = tree.replace(PIN_3B, IMAGE_3B, IMAGE_3B.replace(".us-east-1.", ".us-west-2."))
    error = one(tree.file_errors(PIN_3B), PIN_3B, "container.images.us-east-1", "lives in us-west-2",
                "pin-image --regions us-east-1")
    assert error.line == line


@pytest.mark.parametrize("revision", ["main", "0cb88a4f764b7a12671c53f0838cd831a0843b9",
                                      "0CB88A4F764B7A12671C53F0838CD831A0843B95"])
def test_revision_must_be_a_40_hex_commit(tree, revision):
    tree.replace(PIN_3B, "revision: 0cb88a4f764b7a12671c53f0838cd831a0843b95", f"revision: '{revision}'")
    one(tree.file_errors(PIN_3B), PIN_3B, "source.revision", "not a 40-hex commit id", "full commit sha")


@pytest.mark.parametrize("sha", ["ee1c9e50", "EE1C9E5048115368F1888A4838CB63DB13457598B0E0B883B665251DE5D70FDE"])
def test_weight_file_sha256_must_be_64_lower_hex(tree, sha):
    tree.replace(PIN_3B, "sha256: ee1c9e5048115368f1888a4838cb63db13457598b0e0b883b665251de5d70fde",
                 f"sha256: {sha}")
    one(tree.file_errors(PIN_3B), PIN_3B, "weights.files.0.sha256", "is not a SHA-256", "64 lower-case hex")


@pytest.mark.parametrize("prefix", ["llama-3-2-3b-instruct/v1", "/llama-3-2-3b-instruct/v1/",
                                    "s3://bucket/llama-3-2-3b-instruct/v1/"])
def test_weights_prefix_must_be_a_key_prefix_ending_in_slash(tree, prefix):
    line = tree.replace(PIN_3B, "prefix: llama-3-2-3b-instruct/v1/", f"prefix: {prefix}")
    error = one(tree.file_errors(PIN_3B), PIN_3B, "weights.prefix", "must be a key prefix ending in '/'",
                "trailing '/'")
    assert error.line == line


def test_weights_prefix_must_be_under_the_model(tree):
    data = tree.pin_data(PIN_3B)
    data["weights"]["prefix"] = "llama-3-2-1b-instruct/v1/"
    with pytest.raises(ValidationError):
        seal(data)  # the pin commands cannot write such a pin either
    line = tree.replace(PIN_3B, "prefix: llama-3-2-3b-instruct/v1/", "prefix: llama-3-2-1b-instruct/v1/")
    error = one(tree.file_errors(PIN_3B), PIN_3B, "weights.prefix", "is outside 'llama-3-2-3b-instruct/'",
                "upload under llama-3-2-3b-instruct/v1/")
    assert error.line == line


def test_weights_must_be_a_whole_snapshot(tree):
    tree.replace(PIN_3B, "  - path: config.json", "  - path: config.jsn")
    one(tree.file_errors(PIN_3B), PIN_3B, "weights", "no config.json", "config.json included")


@pytest.mark.parametrize("old, new", [
    ("  max_batch_size: 64", "  max_batch_size: 65"),
    ("  framework_version: 0.31.0", "  framework_version: 0.31.1"),
    ("  enable_prefix_caching: true", "  enable_prefix_caching: false"),
])
def test_hand_edit_of_pinned_content_breaks_the_hash(tree, old, new):
    tree.replace(PIN_3B, old, new)
    errors = tree.errors()
    error = one(errors, PIN_3B, "manifest_sha256", "does not match the pinned content",
                "restore the file from git, or pin a new version")
    assert error.line == line_of(tree.text(PIN_3B), "manifest_sha256:")
    # the broken pin is reported once: environments using it get no second, misleading error
    assert {e.file for e in errors} == {PIN_3B}


def test_edit_of_approval_keeps_the_hash_but_gates_approved_only_environments(tree):
    with tree.yaml(PIN_3B) as doc:
        doc["approval"] = CommentedMap(status="PendingManualApproval")
    errors = tree.errors()
    assert not [e for e in errors if e.file == PIN_3B], errors  # the hash still matches
    for env, name in ((STAGING, "staging"), (PROD, "prod")):
        one(errors, env, f"{EP}.version", f"llama-3-2-3b-instruct/v1 is PendingManualApproval, and {name} "
            "serves approved versions only", "approve it first")
    assert not [e for e in errors if e.file == DEV]  # dev has require_approved_versions: false


def test_edit_of_approval_evidence_keeps_the_pin_valid(tree):
    tree.replace(PIN_3B, "  evidence: reports/", "  evidence: s3://reports/")
    assert tree.load().pins[(MODEL_3B, "v1")].approval.evidence.startswith("s3://reports/")


def test_approved_without_by_and_at_is_refused(tree):
    line = tree.replace(PIN_1B, "  by: ml-platform@example.com\n", "")
    error = one(tree.file_errors(PIN_1B), PIN_1B, "approval", "status Approved without 'by' and 'at'",
                "record who decided and when")
    assert error.line == line - 2  # the approval: key


# --- instance types and GPU memory ---------------------------------------------------------------


def test_non_g5_instance_is_refused_without_opt_in(tree):
    line = tree.replace(DEV, "instance_type: ml.g5.xlarge", "instance_type: ml.g6.xlarge")
    error = one(tree.errors(), DEV, f"{EP}.instance_type", "'ml.g6.xlarge' is not ml.g5",
                "set allow_non_g5_instance: true")
    assert error.line == line


def test_non_g5_instance_is_accepted_with_opt_in(tree):
    tree.replace(DEV, "instance_type: ml.g5.xlarge",
                 "instance_type: ml.g6.xlarge\n    allow_non_g5_instance: true")
    assert tree.load().environments["dev"].endpoints["intent-3b"].instance_type == "ml.g6.xlarge"


@pytest.mark.parametrize("instance", ["ml.g5.3xlarge", "ml.m5.xlarge"])
def test_unknown_or_cpu_instance_type_is_refused_even_with_opt_in(tree, instance):
    tree.replace(DEV, "instance_type: ml.g5.xlarge",
                 f"instance_type: {instance}\n    allow_non_g5_instance: true")
    error = one(tree.errors(), DEV, f"{EP}.instance_type", "is not a GPU instance type this project supports")
    assert all(name in error.fix for name in INSTANCES if name.startswith("ml.g5."))


def test_instance_types_come_from_botocore_through_a_cache_keyed_by_its_model_files(tmp_path, monkeypatch):
    import config.project as project

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    expected = project._botocore_instance_types()
    assert "ml.g5.xlarge" in expected
    calls = []
    monkeypatch.setattr(project, "_botocore_instance_types", lambda: calls.append(1) or expected)
    for _ in range(2):
        project.sagemaker_instance_types.cache_clear()
        assert project.sagemaker_instance_types() == expected
    assert calls == [1]  # the second process-equivalent read the cache, not botocore
    # Another set of model files (a botocore upgrade, AWS_DATA_PATH, ~/.aws/models): botocore again.
    key = project._sagemaker_model_key()
    monkeypatch.setattr(project, "_sagemaker_model_key", lambda: key + [["/elsewhere/service-2.json", 1, 1]])
    project.sagemaker_instance_types.cache_clear()
    assert project.sagemaker_instance_types() == expected and calls == [1, 1]
    project.sagemaker_instance_types.cache_clear()


@pytest.mark.parametrize("instance", ["g5.xlarge", "ML.G5.XLARGE"])
def test_malformed_instance_type(tree, instance):
    tree.replace(DEV, "instance_type: ml.g5.xlarge", f"instance_type: {instance}")
    one(tree.errors(), DEV, f"{EP}.instance_type", "should match pattern", "documented format")


def test_long_context_with_many_sequences_does_not_fit_one_a10g(tree):
    def long_context(data):
        data["serving"]["max_model_len"] = 131072
        data["resources"]["min_concurrent_sequences"] = 8

    tree.new_version("v3", edit=long_context)
    tree.replace(DEV, "    version: v1", "    version: v3")
    error = one(tree.errors(), DEV, f"{EP}.instance_type", "does not fit ml.g5.xlarge",
                "lower serving.max_model_len / resources.min_concurrent_sequences")
    # 114688 B/token x 131072 tokens x 8 sequences = 112 GiB against 24 GiB x 0.9 - 6 GiB weights - 1.5
    for number in ("8 sequence(s)", "131072 tokens", "KV cache", "needs 112.0 GiB", "21.6 GiB usable",
                   "weights 6.0 GiB", "only 14.1 GiB is left"):
        assert number in error.problem, (number, error.problem)


def test_same_long_context_fits_across_eight_gpus(tree):
    def sharded(data):
        data["serving"]["max_model_len"] = 131072
        data["serving"]["tensor_parallel_degree"] = 8
        data["resources"]["min_concurrent_sequences"] = 8

    tree.new_version("v3", edit=sharded)
    tree.replace(DEV, "    version: v1\n    instance_type: ml.g5.xlarge",
                 "    version: v3\n    instance_type: ml.g5.48xlarge")
    assert tree.load().environments["dev"].endpoints["intent-3b"].instance_type == "ml.g5.48xlarge"


@pytest.mark.parametrize("instance, gpus", [("ml.g5.12xlarge", 4), ("ml.g5.48xlarge", 8)])
def test_tensor_parallel_degree_must_equal_gpu_count(tree, instance, gpus):
    tree.replace(DEV, "instance_type: ml.g5.xlarge", f"instance_type: {instance}")
    one(tree.errors(), DEV, f"{EP}.instance_type",
        f"uses tensor_parallel_degree 1 but {instance} has {gpus} GPU(s)",
        f"tensor_parallel_degree {gpus}")


def test_tensor_parallel_degree_matching_gpu_count_is_accepted(tree):
    tree.new_version("v3", edit=lambda d: d["serving"].update(tensor_parallel_degree=4))
    tree.replace(DEV, "    version: v1\n    instance_type: ml.g5.xlarge",
                 "    version: v3\n    instance_type: ml.g5.12xlarge")
    tree.load()
    tree.replace(DEV, "instance_type: ml.g5.12xlarge", "instance_type: ml.g5.xlarge")
    one(tree.errors(), DEV, f"{EP}.instance_type", "tensor_parallel_degree 4 but ml.g5.xlarge has 1 GPU(s)")


# --- deployment guardrails, timeouts, instance counts --------------------------------------------


@pytest.mark.parametrize("rel, old, new, field, problem", [
    (STAGING, "value: 50}", "value: 51}", "deployment.canary_size.value", "51% is outside SageMaker's 1-50%"),
    (STAGING, "strategy: canary\n      canary_size: {type: capacity-percent, value: 50}",
     "strategy: linear\n      linear_step: {type: capacity-percent, value: 9}",
     "deployment.linear_step.value", "9% is outside SageMaker's 10-50%"),
    (PROD, "value: 1}", "value: 2}", "deployment.canary_size", "2 instance(s) is more than half of instances.min (2)"),
    (PROD, "strategy: canary\n      canary_size: {type: instance-count, value: 1}",
     "strategy: linear\n      linear_step: {type: instance-count, value: 2}",
     "deployment.linear_step", "more than half of instances.min (2)"),
    (PROD, "strategy: canary\n      canary_size", "strategy: all-at-once\n      canary_size",
     "deployment.canary_size", "canary_size is set but strategy is all-at-once"),
    (STAGING, "wait_seconds: 600", "wait_seconds: 3601", "deployment.wait_seconds", "less than or equal to 3600"),
    (STAGING, "baking_seconds: 600", "baking_seconds: 3601", "deployment.baking_seconds", "3600"),
    (STAGING, "max_execution_seconds: 3600", "max_execution_seconds: 1200", "deployment.max_execution_seconds",
     "max_execution_seconds 1200 must exceed wait_seconds + baking_seconds (1200)"),
    (STAGING, "max_execution_seconds: 3600", "max_execution_seconds: 599", "deployment.max_execution_seconds",
     "greater than or equal to 600"),
    (STAGING, "max_execution_seconds: 3600", "max_execution_seconds: 28801", "deployment.max_execution_seconds",
     "less than or equal to 28800"),
    (PROD, "container_startup_seconds: 1800", "container_startup_seconds: 59",
     "timeouts.container_startup_seconds", "greater than or equal to 60"),
    (PROD, "container_startup_seconds: 1800", "container_startup_seconds: 3601",
     "timeouts.container_startup_seconds", "less than or equal to 3600"),
    (PROD, "{initial: 2, min: 2, max: 8}", "{initial: 1, min: 2, max: 8}", "instances",
     "need min <= initial <= max, got 2 / 1 / 8"),
    (PROD, "{initial: 2, min: 2, max: 8}", "{initial: 9, min: 2, max: 8}", "instances",
     "need min <= initial <= max, got 2 / 9 / 8"),
    (PROD, "{initial: 2, min: 2, max: 8}", "{initial: 2, min: 2, max: 101}", "instances.max",
     "less than or equal to 100"),
])
def test_out_of_range_endpoint_setting(tree, rel, old, new, field, problem):
    line = tree.replace(rel, old, new)
    error = one(tree.file_errors(rel), rel, f"{EP}.{field}", problem)
    key = field.split(".")[-1]  # the error points at the deepest key that is in the file
    offset = next((i for i, text in enumerate(new.splitlines()) if key in text), 0)
    assert error.line == line + offset


def test_linear_step_in_instances_must_be_at_least_10_percent_of_the_largest_fleet(tree):
    tree.replace(PROD, "strategy: canary\n      canary_size: {type: instance-count, value: 1}",
                 "strategy: linear\n      linear_step: {type: instance-count, value: 1}")
    assert tree.load().environments["prod"].endpoints["intent-3b"].instances.max == 8  # 1 of 8 is 12.5%
    tree.replace(PROD, "{initial: 2, min: 2, max: 8}", "{initial: 2, min: 2, max: 11}")
    one(tree.errors(), PROD, f"{EP}.deployment.linear_step",
        "linear step of 1 instance(s) is less than SageMaker's 10% of instances.max (11)", "capacity-percent")


def test_canary_in_instances_only_depends_on_the_smallest_fleet(tree):
    tree.replace(PROD, "{initial: 2, min: 2, max: 8}", "{initial: 2, min: 2, max: 100}")
    assert tree.load().environments["prod"].endpoints["intent-3b"].instances.max == 100


def test_guardrail_boundaries_are_accepted(tree):
    tree.replace(STAGING, "wait_seconds: 600", "wait_seconds: 3600")
    tree.replace(STAGING, "baking_seconds: 600", "baking_seconds: 3600")
    tree.replace(STAGING, "max_execution_seconds: 3600", "max_execution_seconds: 7201")
    tree.replace(PROD, "container_startup_seconds: 1800", "container_startup_seconds: 60")
    tree.replace(PROD, "model_download_seconds: 1800", "model_download_seconds: 3600")
    tree.replace(DEV, "strategy: all-at-once\n      wait_seconds: 120",
                 "strategy: linear\n      linear_step: {type: capacity-percent, value: 10}\n      wait_seconds: 120")
    project = tree.load()
    deployment = project.environments["staging"].endpoints["intent-3b"].deployment
    assert (deployment.wait_seconds, deployment.baking_seconds, deployment.max_execution_seconds) == (3600, 3600, 7201)
    assert project.environments["dev"].endpoints["intent-3b"].deployment.linear_step.value == 10


def test_default_deployment_settings_must_still_exceed_waits(tree):
    # defaults: wait 600 + baking 600 < max_execution 3600; a long wait alone breaks that
    tree.replace(STAGING, "      max_execution_seconds: 3600\n", "")
    tree.replace(STAGING, "wait_seconds: 600", "wait_seconds: 3600")
    one(tree.errors(), STAGING, f"{EP}.deployment.max_execution_seconds",
        "max_execution_seconds 3600 must exceed wait_seconds + baking_seconds (4200)", "raise max_execution_seconds")


# --- versions, approval, production rules --------------------------------------------------------


def test_live_version_must_be_pinned_and_the_error_lists_known_versions(tree):
    line = tree.replace(DEV, "    version: v1", "    version: v9")
    error = one(tree.errors(), DEV, f"{EP}.version", "no pin model_artifacts/llama-3-2-3b-instruct/v9.yaml",
                "use a pinned version (v1, v2)")
    assert error.line == line


def test_unpinned_model_says_to_pin_it_first(tree):
    tree.replace(DEV, "    model: llama-3-2-3b-instruct", "    model: llama-3-2-11b-vision")
    one(tree.errors(), DEV, f"{EP}.version", "no pin model_artifacts/llama-3-2-11b-vision/v1.yaml",
        "pin llama-3-2-11b-vision first")


def test_pending_version_is_refused_where_approval_is_required_by_default(tree):
    tree.new_version("v3", pending=True)
    assert "require_approved_versions" not in tree.text(STAGING)  # the default applies
    tree.replace(STAGING, "    version: v1", "    version: v3")
    one(tree.errors(), STAGING, f"{EP}.version",
        "llama-3-2-3b-instruct/v3 is PendingManualApproval, and staging serves approved versions only",
        "python -m scripts approve --model llama-3-2-3b-instruct --version v3")


def test_rejected_version_is_refused_where_approval_is_required(tree):
    tree.new_version("v3", edit=lambda d: d["approval"].update(status="Rejected"))
    tree.replace(PROD, "    version: v1", "    version: v3")
    one(tree.errors(), PROD, f"{EP}.version", "llama-3-2-3b-instruct/v3 was rejected")


def test_dev_without_required_approval_accepts_a_pending_version(tree):
    tree.new_version("v3", pending=True)
    tree.replace(DEV, "    version: v1", "    version: v3")
    project = tree.load()
    pin = project.pin_for(project.environments["dev"].endpoints["intent-3b"])
    assert pin.version == "v3" and not pin.is_approved


def test_production_cannot_disable_approval(tree):
    tree.replace(PROD, "production: true", "production: true\nrequire_approved_versions: false")
    one(tree.errors(), PROD, "require_approved_versions", "production environments must serve approved "
        "versions only", "remove require_approved_versions: false")


def test_production_endpoint_needs_a_no_traffic_alarm(tree):
    tree.replace(PROD, "      no_traffic_minutes: 30\n", "")
    one(tree.errors(), PROD, f"{EP}.alarms.no_traffic_minutes", "has no alarms.no_traffic_minutes",
        "set alarms.no_traffic_minutes")


def test_non_production_endpoint_needs_no_no_traffic_alarm(tree):
    tree.replace(PROD, "production: true", "production: false")
    tree.replace(PROD, "      no_traffic_minutes: 30\n", "")
    assert tree.load().environments["prod"].endpoints["intent-3b"].alarms.no_traffic_minutes is None


# --- names and paths ------------------------------------------------------------------------------


def test_environment_name_must_equal_file_name(tree):
    line = tree.replace(STAGING, "name: staging", "name: stage")
    error = one(tree.errors(), STAGING, "name", "name 'stage' differs from the file name",
                "rename the file to stage.yaml or set name: staging")
    assert error.line == line


def test_promote_after_must_name_an_existing_environment_file(tree):
    line = tree.replace(STAGING, "promote_after: dev", "promote_after: qa")
    error = one(tree.errors(), STAGING, "promote_after", "no other environment named 'qa'", "use one of: dev, prod")
    assert error.line == line


def test_pin_path_must_match_its_model_and_version(tree):
    data = tree.pin_data(PIN_3B)
    data.update(version="v3")
    data["weights"]["prefix"] = "llama-3-2-3b-instruct/v3/"
    rel = tree.add_pin(data, rel="model_artifacts/llama-3-2-3b-instruct/v4.yaml")
    one(tree.errors(), rel, "model", "pins llama-3-2-3b-instruct/v3 but lives at " + rel,
        "move it to model_artifacts/llama-3-2-3b-instruct/v3.yaml")


def test_pin_in_another_models_folder_is_refused(tree):
    rel = "model_artifacts/llama-3-2-1b-instruct/v2.yaml"
    tree.write(rel, tree.text("model_artifacts/llama-3-2-3b-instruct/v2.yaml"))
    one(tree.errors(), rel, "model", "but lives at", "move it to model_artifacts/llama-3-2-3b-instruct/v2.yaml")


def _env_named(tree: Tree, env: str, endpoint: str) -> str:
    rel = f"environments/{env}.yaml"
    tree.write(rel, tree.text(DEV).replace("name: dev", f"name: {env}").replace("  intent-3b:", f"  {endpoint}:"))
    return rel


def test_endpoint_name_longer_than_63_is_refused(tree):
    rel = _env_named(tree, "e" * 20, "x" * 43)  # 20 + '-' + 43 = 64
    error = one(tree.errors(), rel, "endpoints." + "x" * 43, f"endpoint name '{'e' * 20}-{'x' * 43}' is longer than 63",
                "shorten")
    assert error.line == line_of(tree.text(rel), "x" * 43)


def test_endpoint_name_of_63_is_accepted(tree):
    _env_named(tree, "e" * 20, "x" * 42)
    assert ("e" * 20) in tree.load().environments


def test_endpoint_key_must_be_a_lower_case_name(tree):
    tree.replace(DEV, "  intent-3b:", "  Intent_3B:")
    one(tree.errors(), DEV, "endpoints.Intent_3B.[key]", "is not a valid name", "lower-case letters")


# --- network ---------------------------------------------------------------------------------------


def test_vpc_subnets_without_security_groups(tree):
    line = tree.replace(PROD, "      security_group_ids: [sg-0c3d4e5f60718293a]", "      security_group_ids: []")
    error = one(tree.errors(), PROD, f"{EP}.network.security_group_ids",
                "a VPC needs both subnet_ids and security_group_ids", "give both, or neither")
    assert error.line == line


def test_vpc_security_groups_without_subnets(tree):
    tree.replace(PROD, "subnet_ids: [subnet-0a1b2c3d4e5f60718, subnet-0b2c3d4e5f6071829]", "subnet_ids: []")
    one(tree.errors(), PROD, f"{EP}.network.subnet_ids", "a VPC needs both")


def test_vpc_ids_must_have_their_prefix(tree):
    tree.replace(PROD, "subnet-0b2c3d4e5f6071829", "vpc-0b2c3d4e5f6071829")
    one(tree.errors(), PROD, f"{EP}.network.subnet_ids.1", "'vpc-0b2c3d4e5f6071829' is not a subnet id",
        "use subnet-... ids")


# --- container environment -------------------------------------------------------------------------


@pytest.mark.parametrize("base, name", [(PIN_3B, "HF_MODEL_ID"), (PIN_3B, "OPTION_MAX_MODEL_LEN"),
                                        (PIN_1B, "SM_NUM_GPUS"), (PIN_1B, "MAX_TOTAL_TOKENS")])
def test_extra_env_must_not_override_generated_variables(tree, base, name):
    rel = tree.new_version("v3", base=base, edit=lambda d: d["serving"].update(extra_env={name: "x"}))
    one(tree.errors(), rel, "serving.extra_env", f"extra_env sets {name}, which the serving settings already set",
        "change the typed serving setting")


def test_more_than_16_container_env_entries_is_refused(tree):
    # LMI sets 8 variables: 8 extra ones are the most SageMaker takes
    ok = tree.new_version("v3", edit=lambda d: d["serving"].update(extra_env={f"X{i}": "1" for i in range(8)}))
    assert tree.load().pins[(MODEL_3B, "v3")].serving.extra_env["X7"] == "1"
    tree.new_version("v4", edit=lambda d: d["serving"].update(extra_env={f"X{i}": "1" for i in range(9)}))
    errors = tree.errors()
    one(errors, "model_artifacts/llama-3-2-3b-instruct/v4.yaml", "serving.extra_env",
        "17 container environment entries, SageMaker allows 16", "remove 1 extra_env entries")
    assert not [e for e in errors if e.file == ok]


def test_extra_env_names_must_be_env_var_names(tree):
    rel = "model_artifacts/llama-3-2-3b-instruct/v3.yaml"
    tree.new_version("v3")
    tree.replace(rel, "  extra_env: {}", "  extra_env:\n    lower-case: x")
    one(tree.errors(), rel, "serving.extra_env.lower-case.[key]", "not an environment variable name", "upper case")


# --- everything is reported together ---------------------------------------------------------------


def test_errors_in_many_files_are_all_reported_together(tree):
    tree.replace(DEV, "object_lock_days: 30", "object_lock_days: 30\nnotfy: []")
    tree.replace(DEV, "      target: 300", "      target: -1")  # second endpoint, same file
    tree.replace(STAGING, "  intent-3b:", "\tintent-3b:")
    tree.replace(PROD, "container_startup_seconds: 1800", "container_startup_seconds: 30")
    tree.replace(PROD, "promote_after: staging", "promote_after: qa")
    tree.replace(PIN_1B, "  max_batch_size: 128", "  max_batch_size: 129")
    tree.replace(PIN_3B, "revision: 0cb88a4f764b7a12671c53f0838cd831a0843b95", "revision: main")
    with pytest.raises(SpecErrors) as caught:
        tree.load()
    errors = caught.value.errors
    one(errors, DEV, "notfy", "unknown key")
    one(errors, DEV, "endpoints.intent-1b.autoscaling.target", "greater than 0")
    one(errors, STAGING, "", "invalid YAML")
    one(errors, PROD, f"{EP}.timeouts.container_startup_seconds", "greater than or equal to 60")
    one(errors, PIN_1B, "manifest_sha256", "does not match")
    one(errors, PIN_3B, "source.revision", "40-hex")
    assert len(errors) == 6, "\n".join(map(str, errors))
    lines = str(caught.value).splitlines()
    assert lines == [str(e) for e in errors]
    # sorted by file, then line: a reader goes through the files in order
    assert [e.file for e in errors] == sorted(e.file for e in errors)


def test_several_errors_in_one_file_are_all_reported(tree):
    tree.replace(PROD, "{initial: 2, min: 2, max: 8}", "{initial: 2, min: 2, max: 8, maxx: 3}")
    tree.replace(PROD, "wait_seconds: 600", "wait_seconds: 4000")
    tree.replace(PROD, "disk_percent: 85", "disk_percent: 185")
    tree.replace(PROD, 'account: "333333333333"', 'account: "3333"')
    errors = tree.errors()
    assert {e.field for e in errors} == {f"{EP}.instances.maxx", f"{EP}.deployment.wait_seconds",
                                         f"{EP}.alarms.disk_percent", "account"}
    assert {e.file for e in errors} == {PROD}


def test_a_line_break_in_a_value_does_not_split_the_error_line(tree):
    tree.replace(PIN_3B, "revision: 0cb88a4f764b7a12671c53f0838cd831a0843b95", 'revision: "main\\nlatest"')
    with pytest.raises(SpecErrors) as caught:
        tree.load()
    assert len(str(caught.value).splitlines()) == len(caught.value.errors) == 1
    assert "; fix: " in str(caught.value)


# --- properties ------------------------------------------------------------------------------------

NUMERIC_FIELDS = {  # path in dev.yaml -> is it an integer field
    ("endpoints", "intent-3b", "instances", "min"): True,
    ("endpoints", "intent-3b", "instances", "max"): True,
    ("endpoints", "intent-3b", "autoscaling", "target"): False,
    ("endpoints", "intent-3b", "deployment", "wait_seconds"): True,
    ("endpoints", "intent-1b", "data_capture_percent"): True,
    ("object_lock_days",): True,
}
NOT_NUMERIC = "ghjkmqvwzGHJKMQVWZ@$%^*|<>?~"  # a string with one of these never parses as a number
# typed raw into the file: one line, and no comment or anchor that could hide the junk
RAW_JUNK = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="#&"),
                   min_size=1, max_size=40).filter(lambda s: any(c in NOT_NUMERIC for c in s))


def _junk(integer: bool) -> st.SearchStrategy:
    bad = [
        st.integers(max_value=-1),
        st.integers(min_value=10**20, max_value=10**40),  # above every upper bound but target's
        st.floats(allow_nan=True, allow_infinity=True).filter(lambda f: not math.isfinite(f) or f < 0),
        st.text(min_size=1, max_size=30).filter(lambda s: any(c in NOT_NUMERIC for c in s)),
        st.none(),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text("abcxyz", max_size=5), st.integers(), max_size=2),
    ]
    if integer:
        bad.append(st.floats(min_value=0.01, max_value=1e6).filter(lambda f: f != int(f)))
    return st.one_of(bad)


@pytest.fixture(scope="module")
def shared_tree(tmp_path_factory) -> Tree:
    return copy_tree(tmp_path_factory.mktemp("shared"))


def _assert_reported(caught: SpecErrors, rel: str) -> None:
    lines = str(caught).splitlines()
    assert len(lines) == len(caught.errors) >= 1
    for line in lines:
        assert line.startswith(rel), line
        problem_and_fix = line.split("; fix: ")
        assert len(problem_and_fix) >= 2 and problem_and_fix[-1].strip(), line


@settings(FAST, max_examples=12)
@given(data=st.data())
def test_junk_in_numeric_fields_is_always_reported_as_spec_errors(shared_tree, data):
    path, integer = data.draw(st.sampled_from(sorted(NUMERIC_FIELDS.items())))
    value = data.draw(_junk(integer) if path[-1] != "target" else _junk(False).filter(
        lambda v: not (isinstance(v, int) and v > 0)))
    original = shared_tree.text(DEV)
    try:
        with shared_tree.yaml(DEV) as doc:
            node = doc
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = value
        with pytest.raises(SpecErrors) as caught:
            require(Environment, shared_tree.path(DEV), DEV)  # what load_project does per file
    finally:
        shared_tree.write(DEV, original)
    _assert_reported(caught.value, DEV)
    dotted = ".".join(path)  # the field itself, or its parent for a cross-field rule (min > max)
    assert any(dotted == e.field or dotted.startswith(e.field + ".") for e in caught.value.errors), caught.value


@FAST
@given(junk=RAW_JUNK)
def test_raw_junk_text_never_crashes_the_loader(shared_tree, junk):
    """Typed straight into the file: may break the YAML itself, which must be reported too."""
    original = shared_tree.text(DEV)
    try:
        shared_tree.write(DEV, original.replace("      target: 8", "      target: " + junk, 1))
        with pytest.raises(SpecErrors) as caught:
            require(Environment, shared_tree.path(DEV), DEV)  # what load_project does per file
    finally:
        shared_tree.write(DEV, original)
    _assert_reported(caught.value, DEV)


@st.composite
def _fleet_and_guardrails(draw):
    low = draw(st.integers(1, 100))
    high = draw(st.integers(low, 100))
    initial = draw(st.integers(low, high))
    wait = draw(st.integers(0, 3600))
    baking = draw(st.integers(0, 3600))
    max_execution = draw(st.integers(max(600, wait + baking + 1), 28800))
    return dict(instances=dict(initial=initial, min=low, max=high),
                deployment=dict(strategy="canary", canary_size=dict(type="capacity-percent",
                                                                    value=draw(st.integers(1, 50))),
                                wait_seconds=wait, baking_seconds=baking, max_execution_seconds=max_execution),
                timeouts=dict(container_startup_seconds=draw(st.integers(60, 3600)),
                              model_download_seconds=draw(st.integers(60, 3600))))


@settings(FAST, max_examples=8)
@given(settings_=_fleet_and_guardrails())
def test_any_setting_within_sagemaker_ranges_is_accepted(shared_tree, settings_):
    original = shared_tree.text(STAGING)
    try:
        with shared_tree.yaml(STAGING) as doc:
            endpoint = doc["endpoints"]["intent-3b"]
            for key, value in settings_.items():
                endpoint[key] = value
            # scheduled bounds must sit inside instances: not what this property is about
            endpoint["autoscaling"].pop("schedules", None)
        endpoint = shared_tree.load().environments["staging"].endpoints["intent-3b"]
    finally:
        shared_tree.write(STAGING, original)
    assert endpoint.instances.model_dump() == settings_["instances"]
    assert endpoint.deployment.canary_size.value == settings_["deployment"]["canary_size"]["value"]
    assert endpoint.deployment.max_execution_seconds == settings_["deployment"]["max_execution_seconds"]
    assert endpoint.timeouts.model_dump() == settings_["timeouts"]


PIN_FILES = [PIN_1B, PIN_3B, "model_artifacts/llama-3-2-3b-instruct/v2.yaml"]


def _shuffled(node, rng: random.Random):
    if isinstance(node, dict):
        keys = list(node)
        rng.shuffle(keys)
        out = CommentedMap()
        for key in keys:
            out[key] = _shuffled(node[key], rng)
        return out
    if isinstance(node, list):
        return [_shuffled(v, rng) for v in node]  # list order is content (weight files)
    return node


@settings(FAST, max_examples=12)
@given(rel=st.sampled_from(PIN_FILES), rng=st.randoms(use_true_random=False))
def test_manifest_hash_is_stable_under_key_reordering(shared_tree, rel, rng):
    original = shared_tree.text(rel)
    data = read_data(shared_tree.path(rel))
    shuffled = _shuffled(data, rng)
    try:
        yaml = YAML(typ="rt", pure=True)
        with shared_tree.path(rel).open("w") as handle:
            yaml.dump(shuffled, handle)
        pin = require(Pin, shared_tree.path(rel), rel)  # what load_project does per pin, one file only
    finally:
        shared_tree.write(rel, original)
    assert pin.manifest_sha256 == data["manifest_sha256"] == pin.content_hash()


def _leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, path + (index,))
    else:
        yield path


SWAPS = {"djl-lmi": "huggingface-llm", "huggingface-llm": "djl-lmi", "bf16": "fp16", "fp16": "bf16"}


def _changed(value, draw):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + draw(st.sampled_from([1, -1, 1024]))
    if isinstance(value, float):
        return draw(st.floats(0.31, 0.98).filter(lambda f: f != value))
    if value in SWAPS:
        return SWAPS[value]
    hexes = re.search(r"[0-9a-f]{40,64}$", value)
    if hexes:
        at = draw(st.integers(hexes.start(), len(value) - 1))
        return value[:at] + ("0" if value[at] != "0" else "1") + value[at + 1:]
    at = draw(st.integers(1, len(value) - 1)) if len(value) > 1 else 1
    return value[:at] + "x" + value[at:]


@settings(FAST, max_examples=12)
@given(rel=st.sampled_from(PIN_FILES), data=st.data())
def test_any_change_of_pinned_content_changes_the_hash_and_is_caught(shared_tree, rel, data):
    pinned = read_data(shared_tree.path(rel))
    old_hash = pinned.pop("manifest_sha256")
    content = {k: pinned[k] for k in PinnedContent.model_fields}
    path = data.draw(st.sampled_from(list(_leaves(content))))
    node = pinned
    for part in path[:-1]:
        node = node[part]
    changed = _changed(node[path[-1]], data.draw)
    node[path[-1]] = changed
    try:
        new = seal(pinned)
    except ValidationError:
        assume(False)  # e.g. renamed config.json: invalid for other reasons, covered above
    assert new.manifest_sha256 != old_hash
    # the same change made by hand in the file (old hash kept) is refused
    original = shared_tree.text(rel)
    try:
        with shared_tree.yaml(rel) as doc:
            node = doc
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = changed
        with pytest.raises(SpecErrors) as caught:
            require(Pin, shared_tree.path(rel), rel)  # what load_project does per pin, one file only
    finally:
        shared_tree.write(rel, original)
    one(caught.value.errors, rel, "manifest_sha256", "does not match")


def test_seal_ignores_the_approval_record():
    data = read_data(REPO / PIN_3B)
    stored = data.pop("manifest_sha256")
    assert seal(data).manifest_sha256 == stored
    data["approval"] = {"status": "Rejected", "by": "someone", "at": "2025-01-01T00:00:00Z"}
    data["description"] = "another description"
    assert seal(data).manifest_sha256 == stored
    assert isinstance(seal(data), Pin)


# --- smoke_test ----------------------------------------------------------------------------------


def test_smoke_test_expect_must_be_a_label(tree):
    tree.replace(STAGING, "expect: cancel_order}", "expect: cancel_my_order}")
    error = one(tree.errors(), STAGING, "endpoints.intent-3b.smoke_test.1.expect", "not one of the evaluation labels")
    assert error.line == line_of(tree.text(STAGING), "cancel_my_order")


def test_smoke_test_needs_the_evaluation_block(tree):
    with tree.yaml(STAGING) as doc:
        del tree.endpoint(doc)["evaluation"]
    one(tree.errors(), STAGING, "endpoints.intent-3b.smoke_test", "needs the evaluation block")
