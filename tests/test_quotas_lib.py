"""scripts/lib/quotas.py: what a blue/green update needs of the account's endpoint instance quotas
(the emulator side: tests/test_emulator_quotas.py)."""

from __future__ import annotations

from conftest import ROOT

from config.project import load_project
from scripts.lib.quotas import deployment_instances, quota_name

ENDPOINT = load_project(ROOT).environments["prod"].endpoints["intent-3b"]


def test_an_update_needs_the_live_fleet_twice():
    assert deployment_instances(ENDPOINT, live_instances=5) == {"ml.g5.2xlarge": 10}  # scaled out past initial 2


def test_a_shadow_adds_its_old_and_new_fleets_on_its_own_type():
    shadowed = ENDPOINT.model_copy(update={"shadow_version": "v2", "shadow_instance_type": "ml.g5.xlarge"})
    assert deployment_instances(shadowed, live_instances=2, live_shadow_instances=2) == {
        "ml.g5.2xlarge": 4, "ml.g5.xlarge": 2 + ENDPOINT.instances.initial}


def test_quotas_are_named_as_service_quotas_names_them():
    assert quota_name("ml.g5.xlarge") == "ml.g5.xlarge for endpoint usage"
