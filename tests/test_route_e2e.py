"""`route` end to end: the real CDK CLI deploys the routing stack into the emulator; the parameter the
clients read, the config and the history agree afterwards, and the gates refuse what they should."""

from __future__ import annotations

import json

import pytest

from cli_helpers import run_cli
from lab_helpers import history_of, lab_factory, on_lab  # noqa: F401
from pinned_llama_client.settings import Mode, Routing

pytestmark = pytest.mark.e2e
KEYS = ["route", "routefail"]


@pytest.fixture(scope="module")
def lab(lab_factory):
    lab = lab_factory(KEYS)
    # `route` edits tokens: give the lab's endpoints the routing block they were deployed with (the default)
    path = lab.root / "environments" / "dev.yaml"
    text = path.read_text()
    for key in KEYS:
        text = text.replace(f"\n  {key}:\n", f"\n  {key}:\n    routing: {{mode: api, canary_percent: 10}}\n")
    path.write_text(text)
    return lab


@pytest.fixture(autouse=True)
def _aws(on_lab):
    pass


def route(*args: str):
    return run_cli("route", "--env", "dev", "--json", *args)


def live(lab, key: str) -> Routing:
    value = lab.emulator.client("ssm").get_parameter(Name=f"/llama/dev/{key}/routing")["Parameter"]["Value"]
    return Routing.from_document(json.loads(value))


def configured(lab, key: str):
    from config.project import load_project

    return load_project(lab.root, "dev").environments["dev"].endpoints[key].routing


def test_a_cutover_is_routed_step_by_step_with_history(lab):
    assert live(lab, "route").mode is Mode.API  # deployed with the environment
    for args, expected in ((["--mode", "shadow"], (Mode.SHADOW, 10)), (["--mode", "canary", "--percent", "25"],
                                                                      (Mode.CANARY, 25)),
                           (["--mode", "llama"], (Mode.LLAMA, 25)), (["--mode", "llama-only"], (Mode.LLAMA_ONLY, 25))):
        result = route("--endpoint", "route", *args)
        assert result.code == 0, result.err
        now = live(lab, "route")
        assert (now.mode, now.canary_percent) == expected
        assert (configured(lab, "route").mode, configured(lab, "route").canary_percent) == expected
    records = [r for r in history_of(lab, "route") if r["kind"] == "route"]
    assert [(r["from_route"], r["to_route"], r["outcome"]) for r in records] == [
        ("api", "shadow (sample 100%)", "routed"), ("shadow (sample 100%)", "canary 25%", "routed"),
        ("canary 25%", "llama", "routed"), ("llama", "llama-only", "routed")]
    text = (lab.root / "environments" / "dev.yaml").read_text()
    assert "mode: llama-only" in text and "canary_percent: 25" in text  # one token each, layout kept
    shown = run_cli("route", "--env", "dev", "--endpoint", "route", "--json")
    assert shown.code == 0 and json.loads(shown.out.splitlines()[-1])["drift"] is False
    back = route("--endpoint", "route", "--mode", "api")  # toward the API: never gated
    assert back.code == 0 and live(lab, "route").mode is Mode.API


def test_llama_only_before_llama_is_refused_and_nothing_changes(lab):
    before = (lab.root / "environments" / "dev.yaml").read_text()
    result = route("--endpoint", "routefail", "--mode", "llama-only")
    assert result.code == 4, result.err
    assert "order: the live mode is api, not llama" in result.out
    assert (lab.root / "environments" / "dev.yaml").read_text() == before
    assert live(lab, "routefail").mode is Mode.API
    assert history_of(lab, "routefail")[-1]["outcome"] == "refused"


def test_a_firing_alarm_refuses_a_route_toward_llama_but_not_back(lab):
    lab.emulator.set_alarm_state("dev-routefail-5xx", "ALARM")
    try:
        refused = route("--endpoint", "routefail", "--mode", "shadow")
        assert refused.code == 4 and "dev-routefail-5xx" in refused.out
        assert route("--endpoint", "routefail", "--mode", "api").code == 0  # not gated (nothing to change)
    finally:
        lab.emulator.set_alarm_state("dev-routefail-5xx", "OK")


def test_a_failed_deploy_restores_the_config_to_what_is_live(lab):
    lab.emulator.fail_stack_update("llama-dev-routefail-routing")
    result = route("--endpoint", "routefail", "--mode", "shadow")
    assert result.code == 6, result.err
    assert live(lab, "routefail").mode is Mode.API and configured(lab, "routefail").mode is Mode.API
    record = history_of(lab, "routefail")[-1]
    assert (record["outcome"], record["config_restored_to"]) == ("deploy-failed", "api")


@pytest.mark.parametrize("args, message", [
    (["--mode", "shadow", "--percent", "10"], "--percent: only canary"),
    (["--percent", "10"], "--percent: goes with --mode canary"),
    (["--mode", "sometimes"], "Invalid value for '--mode'"),
])
def test_flags_are_checked_before_anything_runs(lab, args, message):
    result = route("--endpoint", "route", *args)
    assert result.code == 2 and message in result.err


def test_a_read_only_config_is_refused_before_anything_is_recorded(lab):
    path = lab.root / "environments" / "dev.yaml"
    before, records = path.read_text(), len(history_of(lab, "routefail"))
    path.chmod(0o444)  # refused even for root: someone made it read-only on purpose
    try:
        result = route("--endpoint", "routefail", "--mode", "shadow")
    finally:
        path.chmod(0o644)
    assert result.code == 2 and "read-only (mode 0444)" in result.err, result.err
    assert path.read_text() == before and len(history_of(lab, "routefail")) == records
    assert live(lab, "routefail").mode is Mode.API
