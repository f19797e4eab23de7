"""What `validate` promises users: every bad input is refused with its file, field and a fix.

Each test starts from a copy of the repo's own environments/ and
model_artifacts/ (tests/config_helpers.py) and breaks one thing, so the
examples stay the source of truth and a test fails if a rule stops holding.
This file: keys and types, YAML/JSON syntax, pin immutability, deployment guardrails;
test_config_instances.py: instance types and GPU fit. test_config_rules.py: versions, approval,
production, names, network, container environment, reporting everything at once.
"""

from __future__ import annotations

import json

import pytest

from config_helpers import (DEV, EP, MODEL_1B, MODEL_3B, PIN_1B, PIN_3B, PROD, STAGING, line_of, one,
                            read_data)
from config_helpers import tree  # noqa: F401 (fixture)

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap

from config.environment import Autoscaling, Environment
from config.manifest_io import seal


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
                      "      baking_seconds: 300\n      max_execution_seconds: 4800\n", "")
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


@pytest.mark.parametrize("rel, old, new, field", [
    (DEV, "instances: {initial: 1, min: 1, max: 2}", "instances: {initial: 1, min: true, max: 2}",
     f"{EP}.instances.min"),
    (DEV, "latency_p99_ms: 8000", "latency_p99_ms: True", f"{EP}.alarms.latency_p99_ms"),
    (DEV, "      target: 8\n", "      target: false\n", f"{EP}.autoscaling.target"),
    (PIN_3B, "tensor_parallel_degree: 1", "tensor_parallel_degree: true", "serving.tensor_parallel_degree"),
])
def test_a_boolean_is_never_taken_as_a_number(tree, rel, old, new, field):
    """pydantic's lax mode reads true as 1: `min: true` is a typo, not one instance."""
    tree.refuses(rel, old, new, field, "is a boolean, not a number", "write the value itself")


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


def test_json_pin_manifest_key_given_twice_is_refused_with_its_line(tree):
    """RFC 8259 leaves a repeated key undefined (Python keeps the last one, others the first): a pin
    must mean one thing, so the second occurrence is an error, with its line."""
    rel = PIN_1B.replace(".yaml", ".json")
    text = json.dumps(read_data(tree.path(PIN_1B)), indent=2)
    tree.path(PIN_1B).unlink()
    text = text.replace('"max_batch_size": 128,', '"max_batch_size": 128,\n    "max_batch_size": 4,')
    tree.write(rel, text)
    error = one(tree.errors(), rel, "max_batch_size", 'key "max_batch_size" is given twice', "keep one of them")
    assert error.line == line_of(text, '"max_batch_size": 4,')


def test_json_pin_manifest_validation_errors_name_their_line(tree):
    rel = PIN_1B.replace(".yaml", ".json")
    text = json.dumps(read_data(tree.path(PIN_1B)), indent=2).replace('"max_batch_size": 128,', '"max_batch_size": -1,')
    tree.path(PIN_1B).unlink()
    tree.write(rel, text)
    errors = [e for e in tree.errors() if e.file == rel]
    error = one(errors, rel, "serving.max_batch_size", "greater than 0")
    assert error.line == line_of(text, '"max_batch_size": -1,')


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
    tree.refuses(PIN_3B, IMAGE_3B, new, "container.images.us-east-1", problem, "@sha256:<64 hex>", alone=True)


def test_image_region_must_match_its_key(tree):
    tree.refuses(PIN_3B, IMAGE_3B, IMAGE_3B.replace(".us-east-1.", ".us-west-2."),
                 "container.images.us-east-1", "lives in us-west-2", "pin-image --regions us-east-1", alone=True)


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
    tree.refuses(PIN_3B, "prefix: llama-3-2-3b-instruct/v1/", f"prefix: {prefix}",
                 "weights.prefix", "must be a key prefix ending in '/'", "trailing '/'", alone=True)


def test_weights_prefix_must_be_under_the_model(tree):
    data = tree.pin_data(PIN_3B)
    data["weights"]["prefix"] = "llama-3-2-1b-instruct/v1/"
    with pytest.raises(ValidationError):
        seal(data)  # the pin commands cannot write such a pin either
    tree.refuses(PIN_3B, "prefix: llama-3-2-3b-instruct/v1/", "prefix: llama-3-2-1b-instruct/v1/",
                 "weights.prefix", "is outside 'llama-3-2-3b-instruct/'", "upload under llama-3-2-3b-instruct/v1/", alone=True)


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
    (STAGING, "max_execution_seconds: 5400", "max_execution_seconds: 4800", "deployment.max_execution_seconds",
     "max_execution_seconds 4800 must exceed what a deployment may take: 1800 s download + 1800 s start-up "
     "(timeouts) + 1 x 600 s wait + 600 s baking = 4800 s"),
    (STAGING, "max_execution_seconds: 5400", "max_execution_seconds: 599", "deployment.max_execution_seconds",
     "greater than or equal to 600"),
    (STAGING, "max_execution_seconds: 5400", "max_execution_seconds: 28801", "deployment.max_execution_seconds",
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
    tree.replace(PROD, "max_execution_seconds: 5400", "max_execution_seconds: 14400")  # 11 steps of 600 s fit
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
    tree.replace(STAGING, "max_execution_seconds: 5400", "max_execution_seconds: 10801")  # 1800+1800+3600+3600
    tree.replace(PROD, "container_startup_seconds: 1800", "container_startup_seconds: 60")
    tree.replace(PROD, "model_download_seconds: 1800", "model_download_seconds: 3600")
    tree.replace(DEV, "strategy: all-at-once\n      wait_seconds: 120",
                 "strategy: linear\n      linear_step: {type: capacity-percent, value: 10}\n      wait_seconds: 300")
    tree.replace(DEV, "max_execution_seconds: 4800", "max_execution_seconds: 6901")  # 3600 + 10 x 300 + 300
    project = tree.load()
    deployment = project.environments["staging"].endpoints["intent-3b"].deployment
    assert (deployment.wait_seconds, deployment.baking_seconds, deployment.max_execution_seconds) == (3600, 3600, 10801)
    assert project.environments["dev"].endpoints["intent-3b"].deployment.linear_step.value == 10


def test_default_deployment_settings_must_still_exceed_waits(tree):
    # defaults: 1800 s + 1800 s timeouts + wait 600 + baking 600 < max_execution 7200; a long wait alone breaks that
    tree.replace(STAGING, "      max_execution_seconds: 5400", "      # max_execution_seconds: the default")
    tree.replace(STAGING, "wait_seconds: 600", "wait_seconds: 3600")
    one(tree.errors(), STAGING, f"{EP}.deployment.max_execution_seconds",
        "max_execution_seconds 7200 must exceed what a deployment may take: 1800 s download + 1800 s start-up "
        "(timeouts) + 1 x 3600 s wait + 600 s baking = 7800 s", "raise max_execution_seconds above 7800")
