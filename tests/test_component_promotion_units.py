"""Component promotion pieces without AWS (issue 16): the config edit of a component's version,
what DescribeInferenceComponent says about a component, the gates that need no call, how a watch
ends, and the status row of a component at zero or coming back from it."""

from __future__ import annotations

import pytest

from conftest import ROOT
from config.project import load_project
from scripts.lib.errors import UserError
from scripts.promotion import component_gates, component_status, config_edit
from scripts.promotion.component_live import ComponentInspector, ComponentState
from scripts.promotion.components import ComponentPromotion, _decide
from scripts.promotion.endpoint_status import last_promotion
from scripts.promotion.flow import Request
from scripts.promotion.gates import FAIL, PASS, SKIP
from scripts.promotion.watch import DEPLOY_FAILED, PROMOTED, ROLLED_BACK

DEV = "environments/dev.yaml"
ARCHIVE = "s3://b/llama-3-2-3b-instruct/adapters/support-intents/{}/adapter.tar.gz"


# ----- config edit
@pytest.mark.parametrize("node, before, after", [
    (("component_endpoints", "intents-lora", "adapters", "support"),
     "        adapter: support-intents\n        version: v1", "        adapter: support-intents\n        version: v2"),
    (("component_endpoints", "intents-lora", "base"),
     "      model: llama-3-2-3b-instruct\n      version: v1", "      model: llama-3-2-3b-instruct\n      version: v2"),
])
def test_a_component_version_edit_changes_one_token(node, before, after):
    text = (ROOT / DEV).read_text()
    edited = config_edit.with_version(text, DEV, "intents-lora", "v2", node)
    changed = [(a, b) for a, b in zip(text.splitlines(), edited.splitlines()) if a != b]
    assert len(changed) == 1 and before in text and after in edited


def test_an_unknown_component_is_one_clear_line():
    with pytest.raises(UserError, match=r"component_endpoints.intents-lora.adapters.nope.version: not found"):
        config_edit.with_version((ROOT / DEV).read_text(), DEV, "intents-lora", "v2",
                                 ("component_endpoints", "intents-lora", "adapters", "nope"))


# ----- what SageMaker says
class FakeSageMaker:
    def __init__(self, described: dict):
        self.described = described

    def describe_inference_component(self, InferenceComponentName):
        return self.described

    def describe_model(self, ModelName):
        return {"PrimaryContainer": {"ModelPackageName": "arn:pkg/1"}}

    def describe_model_package(self, ModelPackageName):
        return {"CustomerMetadataProperties": {"pin-model": "m", "pin-version": "v2", "pin-manifest-sha256": "ab"}}


def test_an_adapter_is_read_from_its_archive_and_a_base_from_its_package():
    adapter = ComponentInspector(FakeSageMaker({
        "InferenceComponentStatus": "InService", "Specification": {
            "BaseInferenceComponentName": "ep-base", "Container": {"ArtifactUrl": ARCHIVE.format("v3")}}})).component("a")
    assert (adapter.adapter, adapter.adapter_version, adapter.serves, adapter.desired) == ("support-intents", "v3", "v3",
                                                                                          None)
    base = ComponentInspector(FakeSageMaker({
        "InferenceComponentStatus": "InService", "RuntimeConfig": {"DesiredCopyCount": 0, "CurrentCopyCount": 0},
        "Specification": {"ModelName": "model"}})).component("ep-base")
    assert (base.version, base.manifest_sha256, base.serves, base.at_zero, base.waking) == ("v2", "ab", "v2", True, False)


@pytest.mark.parametrize("desired, current, at_zero, waking", [(0, 0, True, False), (1, 0, False, True),
                                                               (1, 1, False, False)])
def test_zero_and_waking(desired, current, at_zero, waking):
    state = ComponentState("ep-base", True, "InService", desired=desired, current=current)
    assert (state.at_zero, state.waking) == (at_zero, waking)


# ----- gates
def test_a_component_at_zero_is_refused_until_a_copy_is_up():
    adapter = ComponentState("ep-support", True, "InService", artifact_url=ARCHIVE.format("v1"), adapter_version="v1")
    results = component_gates.component_ready(adapter, ComponentState("ep-base", True, "InService", desired=0,
                                                                      current=0))
    assert [(g.name, g.result) for g in results] == [("component", PASS), ("capacity", FAIL)]
    assert "scaled to zero" in results[1].detail
    results = component_gates.component_ready(adapter, ComponentState("ep-base", True, "InService", desired=1,
                                                                      current=1))
    assert [g.result for g in results] == [PASS, PASS]


def test_a_missing_or_updating_component_is_refused():
    base = ComponentState("ep-base", True, "InService", desired=1, current=1)
    assert component_gates.component_ready(ComponentState("ep-x", False), base)[0].result == FAIL
    assert component_gates.component_ready(ComponentState("ep-x", True, "Updating"), base)[0].result == FAIL


def test_adapter_gates_that_need_only_the_repo():
    project = load_project(ROOT)
    dev = project.environments["dev"]
    v2 = project.adapters[("support-intents", "v2")]
    config = dev.component_endpoints["intents-lora"].adapters["support"]
    assert component_gates.adapter_approved(dev, v2).result == SKIP  # dev does not require approval
    assert component_gates.promotion_order(project, dev, "support", config, "v2").result == SKIP  # no promote_after
    approved = dev.model_copy(update={"require_approved_versions": True})
    gate = component_gates.adapter_approved(approved, v2)
    assert gate.result == FAIL and "approve --adapter support-intents --version v2" in gate.fix
    assert component_gates.adapter_approved(approved, project.adapters[("support-intents", "v1")]).result == PASS


def test_promotion_order_looks_for_the_adapter_version_in_the_previous_environment():
    project = load_project(ROOT)
    dev = project.environments["dev"]
    config = dev.component_endpoints["intents-lora"].adapters["support"]
    later = dev.model_copy(update={"name": "later", "promote_after": "dev"})
    assert component_gates.promotion_order(project, later, "support", config, "v1").result == PASS
    gate = component_gates.promotion_order(project, later, "support", config, "v2")
    assert gate.result == FAIL and "not live in dev" in gate.detail


# ----- how a watch ends
@pytest.mark.parametrize("state, rc, kind", [
    (ComponentState("c", True, "InService", artifact_url="u", adapter_version="v2"), 0, PROMOTED),
    (ComponentState("c", True, "InService", artifact_url="u", adapter_version="v1",
                    failure_reason="Update was rolled back: alarm c-5xx"), 0, ROLLED_BACK),
    (ComponentState("c", True, "Failed", failure_reason="boom"), 0, DEPLOY_FAILED),
    (ComponentState("c", True, "InService", artifact_url="u", adapter_version="v1"), 1, DEPLOY_FAILED),
    (ComponentState("c", True, "InService", artifact_url="u", adapter_version="v1"), 0, DEPLOY_FAILED),
])
def test_decide(state, rc, kind):
    assert _decide(state, "v2", rc, [], lambda: "cdk said no").kind == kind


def test_strategy_does_not_apply_to_a_component():
    request = Request(env="dev", endpoint="intents-lora", version="v2", strategy="canary")
    with pytest.raises(UserError, match="--strategy"):
        ComponentPromotion(ROOT, request, "support", None)


# ----- status
def _row(state: ComponentState):
    project = load_project(ROOT)
    dev = project.environments["dev"]
    row = component_status.ComponentStatusRow("dev-intents-lora-base", "v1")
    component_status._fill(row, state, project.pins[("llama-3-2-3b-instruct", "v1")], None, dev)
    return row


def test_status_of_a_base_at_zero_says_requests_fail_for_minutes_and_is_not_a_problem():
    pin = load_project(ROOT).pins[("llama-3-2-3b-instruct", "v1")]
    row = _row(ComponentState("dev-intents-lora-base", True, "InService", desired=0, current=0, version="v1",
                              manifest_sha256=pin.manifest_sha256))
    assert "requests fail for minutes" in row.note and "requests fail for minutes" in row.cells()[4]
    assert not row.needs_attention and row.to_dict()["note"] == row.note


def test_status_of_a_base_coming_back_from_zero_is_in_flight():
    pin = load_project(ROOT).pins[("llama-3-2-3b-instruct", "v1")]
    row = _row(ComponentState("dev-intents-lora-base", True, "InService", desired=1, current=0, version="v1",
                              manifest_sha256=pin.manifest_sha256))
    assert row.in_flight == component_status.WAKING and row.needs_attention


def test_status_of_a_component_names_its_last_promotion():
    records = [{"env": "dev", "endpoint": "intents-lora/support", "kind": "promote", "from_version": "v1",
                "to_version": "v2", "outcome": "promoted", "finished_at": "2025-01-01T00:00:00"},
               {"env": "dev", "endpoint": "intents-lora/orders", "kind": "promote", "outcome": "refused"}]
    assert last_promotion(records, "dev", "intents-lora/support").startswith("promote v1→v2 promoted")
    assert last_promotion(records, "dev", "intents-lora/base") == ""


@pytest.mark.parametrize("component, gating", [
    ("base", {"dev-intents-lora-base-5xx", "dev-intents-lora-base-4xx-rate", "dev-intents-lora-base-latency-p99",
              "dev-intents-lora-support-5xx", "dev-intents-lora-orders-5xx"}),
    ("support", {"dev-intents-lora-support-5xx", "dev-intents-lora-support-4xx-rate",
                 "dev-intents-lora-support-latency-p99"}),
])
def test_only_the_alarms_that_roll_a_component_back_gate_its_promotion(component, gating):
    from scripts.promotion.gates import no_alarms

    promotion = ComponentPromotion.__new__(ComponentPromotion)  # no AWS: only the names are needed
    env = load_project(ROOT).environments["dev"]
    promotion.name, promotion.endpoint = env.endpoint_name("intents-lora"), env.component_endpoints["intents-lora"]
    promotion.is_base, promotion.ic = component == "base", f"dev-intents-lora-{component}"
    assert set(promotion._rollback_alarms()) == gating
    quiet_hours = ["dev-intents-lora-no-traffic", "dev-intents-lora-gpu-memory"]
    assert no_alarms(quiet_hours, promotion._rollback_alarms()).result == PASS  # notify-only: listed, not refused
    assert no_alarms(quiet_hours + [sorted(gating)[0]], promotion._rollback_alarms()).result == FAIL
