"""What `validate` promises users (continued): the rules across fields and files.

Versions and approval, production rules, names and paths, networks, the container
environment, smoke tests, and every problem reported at once. Same method as
test_config_validation.py: a copy of the repo's examples with one thing broken.
"""

from __future__ import annotations

import pytest

from config_helpers import DEV, EP, MODEL_3B, PIN_1B, PIN_3B, PROD, STAGING, Tree, line_of, one
from config_helpers import tree  # noqa: F401 (fixture)

from config.errors import SpecErrors


# --- versions, approval, production rules --------------------------------------------------------


def test_live_version_must_be_pinned_and_the_error_lists_known_versions(tree):
    tree.refuses(DEV, "    version: v1", "    version: v9",
                 f"{EP}.version", "no pin model_artifacts/llama-3-2-3b-instruct/v9.yaml", "use a pinned version (v1, v2)")


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


def test_every_production_endpoint_without_a_no_traffic_alarm_is_reported_not_only_the_first(tree):
    """A model-level check collects every problem: pydantic stops at the first error a validator raises."""
    text = tree.text(PROD).replace("      no_traffic_minutes: 30\n", "")
    block = text[text.index("  intent-3b:"):]
    tree.write(PROD, text + block.replace("  intent-3b:", "  intent-3b-eu:", 1))
    tree.replace(PROD, "production: true", "production: true\nrequire_approved_versions: false")
    errors = [e for e in tree.errors() if e.file == PROD]
    assert sorted(e.field for e in errors) == [
        "endpoints.intent-3b-eu.alarms.no_traffic_minutes", f"{EP}.alarms.no_traffic_minutes",
        "require_approved_versions"]


def test_non_production_endpoint_needs_no_no_traffic_alarm(tree):
    tree.replace(PROD, "production: true", "production: false")
    tree.replace(PROD, "      no_traffic_minutes: 30\n", "")
    assert tree.load().environments["prod"].endpoints["intent-3b"].alarms.no_traffic_minutes is None


# --- names and paths ------------------------------------------------------------------------------


def test_environment_name_must_equal_file_name(tree):
    tree.refuses(STAGING, "name: staging", "name: stage",
                 "name", "name 'stage' differs from the file name", "rename the file to stage.yaml or set name: staging")


def test_promote_after_must_name_an_existing_environment_file(tree):
    tree.refuses(STAGING, "promote_after: dev", "promote_after: qa",
                 "promote_after", "no other environment named 'qa'", "use one of: dev, prod")


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
    tree.refuses(PROD, "      security_group_ids: [sg-0c3d4e5f60718293a]", "      security_group_ids: []",
                 f"{EP}.network.security_group_ids", "a VPC needs both subnet_ids and security_group_ids", "give both, or neither")


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


# --- smoke_test ----------------------------------------------------------------------------------


def test_smoke_test_expect_must_be_a_label(tree):
    tree.replace(STAGING, "expect: cancel_order}", "expect: cancel_my_order}")
    error = one(tree.errors(), STAGING, "endpoints.intent-3b.smoke_test.1.expect", "not one of the evaluation labels")
    assert error.line == line_of(tree.text(STAGING), "cancel_my_order")


def test_smoke_test_needs_the_evaluation_block(tree):
    with tree.yaml(STAGING) as doc:
        del tree.endpoint(doc)["evaluation"]
    one(tree.errors(), STAGING, "endpoints.intent-3b.smoke_test", "needs the evaluation block")
