"""`cost` for component endpoints: adapters sharing a base, hours at zero, and the break-even they move,
against figures computed by hand (dev intents-lora: 2 adapters, ml.g5.xlarge at $1.408/h, 0-1 instances)."""

from __future__ import annotations

import cli_helpers
import pytest
from conftest import ROOT

from config.project import load_project
from scripts.costing.components import TAIL_HOURS, Activity, options
from scripts.costing.cost_model import Workload, break_even, endpoint_cost

PER_CALL = (110 * 0.15 + 4 * 0.60) / 1_000_000  # gpt-4o-mini: $0.0000189
WORKLOAD = Workload(1_000_000, 110, 4, latency_seconds=0.5)


@pytest.fixture(scope="module")
def dev():
    project = load_project(ROOT, "dev")
    endpoint = project.environments["dev"].component_endpoints["intents-lora"]
    return endpoint, project.pins[(endpoint.base.model, endpoint.base.version)]


def test_hours_at_zero_are_the_week_outside_the_active_windows_and_their_idle_tails():
    activity = Activity(55, 5)
    assert TAIL_HOURS == pytest.approx(25 / 60)  # copies 15 min after the last request, the instance 10 min later
    assert activity.awake_hours == pytest.approx(55 + 5 * 25 / 60)  # 57.083
    assert activity.zero_hours == pytest.approx(168 - 57.0833, abs=1e-3)  # 110.917
    assert Activity(160, 20).zero_hours == 0  # the tails fill the week


def test_two_adapters_cost_one_base_and_scale_to_zero_costs_the_awake_hours(dev):
    endpoint, base = dev
    option = options("intents-lora", endpoint, base, 1.408, Activity(55, 5))
    costs = {plan.name.split(": ")[1]: endpoint_cost(plan, WORKLOAD, 2) for plan in option.plans}
    # promotions: 2 a month x one batch of one copy (one instance) for wait_seconds 120 = 0.0667 h = $0.09
    assert costs["2 dedicated endpoint(s)"].monthly == pytest.approx(2 * 730 * 1.408 + 0.0939, abs=0.01)  # 2,055.77
    assert costs["2 adapter(s) on one base"].monthly == pytest.approx(730 * 1.408 + 0.0939, abs=0.01)  # 1,027.93
    # 57.083 h a week awake x 730/168 = 248.04 instance-hours = $349.24, + $0.09
    assert costs["one base, scale to zero"].base_instance_hours == pytest.approx(57.0833 * 730 / 168, abs=0.01)
    assert costs["one base, scale to zero"].monthly == pytest.approx(349.34, abs=0.01)


def test_the_break_even_moves_down_with_a_shared_base_and_again_with_scale_to_zero(dev):
    endpoint, base = dev
    option = options("intents-lora", endpoint, base, 1.408, Activity(55, 5))
    points = [break_even(plan, WORKLOAD, PER_CALL, 2).calls_per_month for plan in option.plans]
    assert [round(p / 1e6, 2) for p in points] == [108.77, 54.39, 18.48]  # monthly cost / $0.0000189


def test_copies_per_instance_scale_the_target_and_no_scale_to_zero_means_two_options(dev):
    endpoint, base = dev
    bigger = endpoint.model_copy(update={"instance_type": "ml.g5.12xlarge",
                                         "instances": endpoint.instances.model_copy(update={"min": 1}),
                                         "base": endpoint.base.model_copy(update={"copies": endpoint.base.copies.model_copy(
                                             update={"min": 1, "max": 4})})})
    option = options("x", bigger, base, 7.09, Activity(55, 5))
    assert option.shared_to_zero is None and len(option.plans) == 2
    assert option.shared.target == 4 * 4  # 4 concurrent requests per copy, 4 one-GPU copies per instance


def test_the_cost_command_prints_the_three_options_next_to_each_other(tmp_path):
    png = tmp_path / "cost.png"
    result = cli_helpers.run_cli("cost", "--env", "dev", "--endpoint", "intents-lora", "--input-tokens", "110",
                                 "--output-tokens", "4", "--png", str(png), "--json")
    assert result.code == 0, result.err
    (shared,) = result.result()["component_endpoints"]
    assert [o["monthly"] for o in shared["options"]] == [2055.77, 1027.93, 349.34]
    assert [o["hours_at_zero_per_week"] for o in shared["options"]] == [0, 0, 110.917]
    events = {e["event"]: e for e in result.json_lines() if "event" in e}
    assert "moves 108.77M" in events["break-even-moves"]["message"]
    assert "fail for minutes" in events["cold-starts"]["message"] and events["cold-starts"]["cold_starts_per_month"] == 21.7
    assert png.read_bytes().startswith(b"\x89PNG")


def test_active_hours_below_the_busy_hours_are_refused():
    result = cli_helpers.run_cli("cost", "--env", "dev", "--input-tokens", "1", "--output-tokens", "1",
                                 "--active-hours-per-week", "20")
    assert result.code == 2 and result.errors == [
        "error: --active-hours-per-week: 20 is below --busy-hours-per-week 55; fix: requests arrive at least during "
        "the busy hours"]
