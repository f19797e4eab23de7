"""`cost`'s migration plan with the application client's routing: a sampled shadow, and the fallbacks the
API still answers in canary and after the cutover (what a fallback costs)."""

from __future__ import annotations

import pytest

import cli_helpers
from scripts.costing.cost_model import Plan, Workload
from scripts.costing.migration import migration
from test_cost_inputs import endpoint


def test_fallbacks_and_a_sampled_shadow_by_hand():
    # The prod shape of test_cost_inputs: the endpoint's minimum fleet costs $509.621/week whatever the
    # volume; the API $11.0466/week at 1M calls. Fallback rate 2%: the canary's API share is
    # 0.9 + 0.1 x 0.02 = 0.902 -> 2 weeks x 11.0466 x 0.902 = 19.928; the steady state adds
    # 11.0466 x 0.02 = 0.2209/week of API calls.
    plan = migration(Plan.of("intent-3b", endpoint(), 1.515), Workload(1_000_000, 300, 5), 0.000048, 2,
                     shadow_weeks=2, canary_weeks=2, canary_share=0.1, shadow_sample=0.25, fallback_rate=0.02)
    shadow, canary = plan.phases
    assert shadow.name == "shadow (25% sampled)" and shadow.endpoint == pytest.approx(1019.242, abs=1e-3)
    assert canary.api == pytest.approx(19.928, abs=1e-3)
    assert plan.fallback_weekly == pytest.approx(0.2209, abs=1e-4)
    assert plan.steady_weekly == pytest.approx(509.621 + 0.2209, abs=1e-3)


def test_without_fallbacks_the_plan_is_issue_14s():
    plain = migration(Plan.of("x", endpoint(), 1.515), Workload(1_000_000, 300, 5), 0.000048, 2, 2, 2, 0.1)
    assert plain.fallback_weekly == 0 and plain.phases[1].api == pytest.approx(19.884, abs=1e-3)


def test_the_command_reports_what_fallbacks_cost():
    result = cli_helpers.run_cli("cost", "--env", "prod", "--input-tokens", "300", "--output-tokens", "5",
                                 "--fallback-rate", "0.05", "--shadow-sample", "0.5", "--json")
    assert result.code == 0, result.err
    (plan,) = result.result()["migration"]
    assert (plan["fallback_rate"], plan["shadow_sample"]) == (0.05, 0.5)
    assert plan["phases"][0]["phase"] == "shadow (50% sampled)"
    (event,) = [e for e in result.json_lines() if e.get("event") == "fallbacks"]
    assert event["fallback_monthly"] == pytest.approx(0.05 * result.result()["api"]["monthly"], abs=0.01)


def test_the_fallback_rate_is_a_share():
    result = cli_helpers.run_cli("cost", "--env", "prod", "--input-tokens", "1", "--output-tokens", "1",
                                 "--fallback-rate", "1.5")
    assert result.code == 2 and "--fallback-rate" in result.err
