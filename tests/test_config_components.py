"""What `validate` promises about adapter pins and component endpoints (issue 16).

Same method as test_config_rules.py: a copy of the repo's examples with one thing changed; each
problem is one line naming file, field and fix.
"""

from __future__ import annotations

import copy

import pytest

from config_helpers import DEV, MODEL_1B, MODEL_3B, PIN_3B, PROD, Tree, copy_tree, one, read_data

from config.adapter_pin import base_weights_sha256
from config.components import base_container_environment
from config.manifest_io import render_adapter, seal_adapter

CE = "component_endpoints.intents-lora"
SUPPORT_V1 = f"model_artifacts/{MODEL_3B}/adapters/support-intents/v1.yaml"


@pytest.fixture
def tree(tmp_path) -> Tree:
    return copy_tree(tmp_path)


def adapter_data(tree: Tree, rel: str = SUPPORT_V1) -> dict:
    data = read_data(tree.path(rel))
    data.pop("manifest_sha256")
    return copy.deepcopy(data)


def add_adapter(tree: Tree, data: dict) -> str:
    pin = seal_adapter(data)
    rel = f"model_artifacts/{pin.base.model}/adapters/{pin.adapter}/{pin.version}.yaml"
    tree.write(rel, render_adapter(pin))
    return rel


def test_the_example_serves_two_adapters_on_one_3b_base_and_dev_scales_to_zero(tree):
    project = tree.load()
    endpoint = project.environments["dev"].component_endpoints["intents-lora"]
    assert (endpoint.base.model, list(endpoint.adapters)) == (MODEL_3B, ["support", "orders"])
    assert endpoint.scales_to_zero
    pins = [project.adapters[(a.adapter, a.version)] for a in endpoint.adapters.values()]
    assert {p.base.weights_sha256 for p in pins} == {base_weights_sha256(project.pins[(MODEL_3B, "v1")])}


def test_an_adapter_serves_on_a_pin_with_the_same_weights_but_not_on_other_weights(tree):
    # v2 is a container-only upgrade of v1 (same weight files): the same base for an adapter.
    tree.replace(DEV, "      version: v1\n      copies:", "      version: v2\n      copies:")
    tree.load()
    tree.new_version("v3", edit=lambda d: d["weights"]["files"][2].update(sha256="ab" * 32))
    tree.replace(DEV, "      version: v2\n      copies:", "      version: v3\n      copies:")
    errors = tree.errors()
    for component in ("support", "orders"):
        one(errors, DEV, f"{CE}.adapters.{component}.version", "was trained on base weights",
            "train and pin the adapter again on this base")


def test_an_adapter_pin_whose_base_weights_differ_from_its_named_base_is_refused(tree):
    data = adapter_data(tree)
    data["version"], data["weights"]["prefix"] = "v9", f"{MODEL_3B}/adapters/support-intents/v9/"
    data["base"]["weights_sha256"] = "cd" * 32
    rel = add_adapter(tree, data)
    one(tree.errors(), rel, "base", "was trained on base weights cdcdcdcdcdcd", "serve it on the base it was trained on")


def test_an_adapter_for_another_model_is_refused_on_this_base(tree):
    with tree.yaml(DEV) as data:
        base = data["component_endpoints"]["intents-lora"]["base"]
        base["model"] = MODEL_1B
    errors = tree.errors()
    one(errors, DEV, f"{CE}.adapters.support.version", "adapts llama-3-2-3b-instruct, the base component serves "
                                                       "llama-3-2-1b-instruct")
    # the 1B pin runs TGI: no adapter components on it
    one(errors, DEV, f"{CE}.base.version", "adapter components need LMI (djl-lmi) 0.31.0 or later")


def test_lmi_before_0_31_cannot_host_adapter_components(tree):
    tree.new_version("v3", edit=lambda d: d["container"].update(framework_version="0.30.0"))
    tree.replace(DEV, "      version: v1\n      copies:", "      version: v3\n      copies:")
    one(tree.errors(), DEV, f"{CE}.base.version", "runs djl-lmi 0.30.0", "djl-lmi >= 0.31.0")


def test_an_adapter_rank_above_the_base_max_lora_rank_is_refused(tree):
    tree.replace(DEV, "max_lora_rank: 16", "max_lora_rank: 8")
    one(tree.errors(), DEV, f"{CE}.adapters.orders.version", "has rank 16, above the base's lora.max_lora_rank 8",
        "raise base.lora.max_lora_rank to at least 16")


def test_max_lora_rank_must_be_one_vllm_accepts(tree):
    tree.replace(DEV, "max_lora_rank: 16", "max_lora_rank: 12")
    one(tree.errors(), DEV, f"{CE}.base.lora.max_lora_rank", "")


def test_an_unpinned_adapter_version_names_the_pinned_ones(tree):
    tree.replace(DEV, "adapter: support-intents\n        version: v1", "adapter: support-intents\n        version: v7")
    one(tree.errors(), DEV, f"{CE}.adapters.support.version", "no adapter pin", "use a pinned version (v1, v2)")


def test_production_does_not_scale_to_zero_unless_it_says_so(tree):
    block = tree.text(DEV)[tree.text(DEV).index("component_endpoints:"):]
    tree.write(PROD, tree.text(PROD) + "\n" + block.replace("*intent-eval", "{prompt_template: 'Classify {text} as "
               "one of {labels}', labels: [a, b], thresholds: {min_accuracy: 0.9}}").replace("*intent-smoke", "[]"))
    one(tree.errors(), PROD, f"{CE}.instances.min", "prod does not allow scaling to zero", "allow_scale_to_zero: true")
    tree.replace(PROD, "production: true", "production: true\nallow_scale_to_zero: true")
    assert "intents-lora" in tree.load().environments["prod"].component_endpoints


def test_production_component_endpoints_that_stay_up_need_a_no_traffic_alarm(tree):
    block = tree.text(DEV)[tree.text(DEV).index("component_endpoints:"):]
    block = block.replace("{initial: 1, min: 0, max: 2}", "{initial: 1, min: 1, max: 2}").replace(
        "{initial: 1, min: 0, max: 1}", "{initial: 1, min: 1, max: 1}")
    tree.write(PROD, tree.text(PROD) + "\n" + block.replace("*intent-eval", "null").replace("*intent-smoke", "[]"))
    one(tree.errors(), PROD, f"{CE}.alarms.no_traffic_minutes", "no alarms.no_traffic_minutes")


@pytest.mark.parametrize("old, new, field, problem", [
    ("instances: {initial: 1, min: 0, max: 2}", "instances: {initial: 1, min: 1, max: 2}", "base.copies.min",
     "requests fail while the copies are at zero"),
    ("copies: {initial: 1, min: 0, max: 1}", "copies: {initial: 1, min: 1, max: 1}", "instances.min",
     "never reaches zero instances"),
])
def test_scale_to_zero_needs_both_the_instances_and_the_copies_at_zero(tree, old, new, field, problem):
    tree.replace(DEV, old, new)
    one(tree.errors(), DEV, f"{CE}.{field}", problem)


def test_instances_max_must_leave_room_for_a_rolling_update_of_the_base(tree):
    # InferenceComponentRollingUpdatePolicy: each batch's new copies start before old ones go
    tree.replace(DEV, "instances: {initial: 1, min: 0, max: 2}", "instances: {initial: 1, min: 0, max: 1}")
    one(tree.errors(), DEV, f"{CE}.instances.max", "2 copies, but 1 ml.g5.xlarge instance(s) hold 1",
        "set instances.max: 2")
    tree.replace(DEV, "copies: {initial: 1, min: 0, max: 1}", "copies: {initial: 1, min: 0, max: 3}")
    tree.replace(DEV, "instances: {initial: 1, min: 0, max: 1}", "instances: {initial: 1, min: 0, max: 3}")
    one(tree.errors(), DEV, f"{CE}.instances.max", "4 copies, but 3 ml.g5.xlarge", "set instances.max: 4")


def test_a_component_endpoint_key_may_not_repeat_an_endpoint_key(tree):
    tree.replace(DEV, "  intents-lora:", "  intent-1b:")
    one(tree.errors(), DEV, "component_endpoints.intent-1b", "is also under endpoints")


def test_component_names_must_fit_sagemaker_63_characters(tree):
    tree.replace(DEV, "      orders:\n", "      orders-with-a-quite-long-component-id-for-sure1:\n")
    one(tree.errors(), DEV, CE, "is longer than 63", "shorten")


def test_the_adapter_component_id_base_is_reserved(tree):
    tree.replace(DEV, "      orders:\n", "      base:\n")
    one(tree.errors(), DEV, f"{CE}.adapters.base", "is the base component's")


def test_a_pending_adapter_does_not_serve_where_approval_is_required(tree):
    tree.replace(DEV, "require_approved_versions: false", "require_approved_versions: true")
    tree.replace(DEV, "adapter: support-intents\n        version: v1", "adapter: support-intents\n        version: v2")
    one(tree.errors(), DEV, f"{CE}.adapters.support.version", "PendingManualApproval",
        "python -m scripts approve --adapter support-intents --version v2")


def test_a_hand_edited_adapter_pin_is_refused(tree):
    tree.replace(SUPPORT_V1, "rank: 16", "rank: 8")
    one(tree.errors(), SUPPORT_V1, "manifest_sha256", "does not match the pinned content")


def test_an_adapter_pin_lives_where_its_content_says(tree):
    moved = f"model_artifacts/{MODEL_3B}/adapters/other-name/v1.yaml"
    tree.write(moved, tree.text(SUPPORT_V1))
    one(tree.errors(), moved, "adapter", "lives at", "adapters/support-intents/v1.yaml")


def test_a_model_version_named_adapters_is_refused(tree):
    tree.new_version("adapters")
    one(tree.errors(), f"model_artifacts/{MODEL_3B}/adapters.yaml", "version", "would have the adapters' prefix")


@pytest.mark.parametrize("edit, field, problem", [
    (lambda d: d["lora"].update(target_modules=["q_proj", "mlp"]), "lora.target_modules",
     "are not Llama modules vLLM applies LoRA to"),
    (lambda d: d["weights"].update(prefix="llama-3-2-3b-instruct/v1/"), "weights.prefix", "is not llama-3-2-3b"),
    (lambda d: d["weights"]["members"].pop(0), "weights.members", "no adapter_config.json"),
    (lambda d: d["weights"]["members"][1].update(path="adapter_model.bin"), "weights.members",
     "no *.safetensors"),
    (lambda d: d["weights"]["files"][0].update(path="adapter.zip"), "weights.files", "not adapter.tar.gz"),
    (lambda d: d["training"].update(data_sha256="not-a-sha"), "training.data_sha256", "is not a SHA-256"),
])
def test_adapter_pin_fields_are_checked(tree, edit, field, problem):
    from pydantic import ValidationError

    from config.adapter_pin import AdapterPin
    from config.loader import errors_of

    data = adapter_data(tree)
    edit(data)
    with pytest.raises(ValidationError) as caught:
        seal_adapter(data)
    errors = errors_of(AdapterPin, data, "pin.yaml", caught.value)
    assert any(e.field == field and problem in e.problem and e.fix for e in errors), errors


def test_the_base_container_gets_lmis_lora_options_within_16_entries(tree):
    project = tree.load()
    pin = project.pins[(MODEL_3B, "v1")]
    lora = project.environments["dev"].component_endpoints["intents-lora"].base.lora
    env = base_container_environment(pin, lora, with_adapters=True)
    assert {k: env[k] for k in ("OPTION_ENABLE_LORA", "OPTION_MAX_LORAS", "OPTION_MAX_LORA_RANK")} == \
        {"OPTION_ENABLE_LORA": "true", "OPTION_MAX_LORAS": "2", "OPTION_MAX_LORA_RANK": "16"}
    assert "OPTION_ENABLE_LORA" not in base_container_environment(pin, lora, with_adapters=False)
    crowded = tree.new_version("v3", edit=lambda d: d["serving"].update(
        extra_env={f"EXTRA_{i}": "1" for i in range(6)}))
    assert crowded
    tree.replace(DEV, "      version: v1\n      copies:", "      version: v3\n      copies:")
    one(tree.errors(), DEV, f"{CE}.base.version", "17 container environment entries with the LoRA options")


def test_an_environment_needs_some_endpoint(tree):
    text = tree.text(DEV)
    tree.write(DEV, text[:text.index("endpoints:\n")] + "endpoints: {}\n")
    one(tree.errors(), DEV, "endpoints", "no endpoint")
    assert PIN_3B
