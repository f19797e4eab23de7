"""`cost` inputs from measurements (an evaluate report), the migration plan, and what the chart shows."""

from __future__ import annotations

import json

import pytest

import cli_helpers
from test_cost import endpoint

from scripts.costing.cost_model import Plan, Workload, break_even
from scripts.costing.migration import migration


def report(tmp_path, *, baseline: bool = True, sources: str = "reported") -> str:
    """An evaluate report's fields `cost` reads (report_version 2)."""
    tokens = {"prompt": 13_800, "completion": 480, "answers": 120, "prompt_per_call": 115.0,
              "completion_per_call": 4.0, "prompt_source": sources, "completion_source": sources}
    data = {"report_version": 2, "kind": "intent-evaluation", "environment": "dev", "endpoint": "intent-3b",
            "model": "llama-3-2-3b-instruct", "version": "v1", "tokens": tokens,
            "latency_ms": {"count": 120, "mean": 250.0, "p95": 400.0}, "baseline": None}
    if baseline:  # gpt-4o-mini counts with its own tokenizer: fewer tokens than Llama's for the same prompt
        data["baseline"] = {"model": "openai:gpt-4o-mini", "tokens": {
            "prompt": 12_000, "completion": 360, "answers": 120, "prompt_per_call": 100.0, "completion_per_call": 3.0,
            "prompt_source": "reported", "completion_source": "reported"}, "latency_ms": {"count": 120}}
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_cost_takes_the_apis_measured_tokens_and_the_endpoints_latency_from_a_report(tmp_path):
    result = cli_helpers.run_cli("cost", "--env", "prod", "--report", report(tmp_path), "--json")
    assert result.code == 0, result.err
    r = result.result()
    assert (r["inputs"]["input_tokens"], r["inputs"]["output_tokens"], r["inputs"]["latency_ms"]) == (100.0, 3.0, 250.0)
    assert r["inputs"]["tokens_from"].endswith("dev/intent-3b llama-3-2-3b-instruct v1, the API's own counts")
    # 1M calls x (100 x $0.15 + 3 x $0.60) / 1M = $16.80
    assert r["api"]["monthly"] == 16.8 and r["workload"]["latency_ms"] == 250.0
    warnings = [e["message"] for e in result.json_lines() if e.get("event") == "warning"]
    assert not any("no baseline run" in w for w in warnings)


def test_without_a_baseline_the_endpoints_counts_are_used_and_approximations_are_flagged(tmp_path):
    result = cli_helpers.run_cli("cost", "--env", "prod", "--report", report(tmp_path, baseline=False,
                                                                              sources="approximate"), "--json")
    assert result.code == 0, result.err
    assert (result.result()["inputs"]["input_tokens"], result.result()["inputs"]["output_tokens"]) == (115.0, 4.0)
    warnings = [e["message"] for e in result.json_lines() if e.get("event") == "warning"]
    assert any("has no baseline run: the API's tokens are taken as the endpoint's" in w for w in warnings)
    assert any("prompt tokens are approximate (characters / 4)" in w for w in warnings)
    flags = cli_helpers.run_cli("cost", "--env", "prod", "--report", report(tmp_path), "--input-tokens", "300",
                                "--output-tokens", "5", "--latency-ms", "500", "--json").result()["inputs"]
    assert flags == {"input_tokens": 300, "output_tokens": 5, "tokens_from": "given", "latency_ms": 500,
                     "latency_from": "given"}


def test_a_file_that_is_not_an_evaluation_report_is_one_line(tmp_path):
    bad = tmp_path / "r.json"
    bad.write_text('{"kind": "something-else"}')
    result = cli_helpers.run_cli("cost", "--env", "prod", "--report", str(bad))
    assert result.code == 2 and result.errors == [f"error: {bad}: kind: not an evaluation report; fix: give the "
                                                  "report.json evaluate wrote"]


def test_migration_plan_of_the_prod_shape_by_hand():
    # endpoint: $2,214.425/month at 1M calls and at 100k (the minimum fleet of two holds both):
    #   per week x 168/730 = $509.621. API: 1M x $0.000048 = $48/month = $11.0466/week.
    # shadow, 2 weeks: API 22.093 + endpoint 1,019.242; canary 10%, 2 weeks: API 0.9 x 22.093 = 19.884
    #   + endpoint 1,019.242. Total 2,080.461; steady state 4 weeks 2,038.484; extra 41.977 (the API's share).
    plan = migration(Plan.of("intent-3b", endpoint(), 1.515), Workload(1_000_000, 300, 5), 0.000048, 2,
                     shadow_weeks=2, canary_weeks=2, canary_share=0.1)
    shadow, canary = plan.phases
    assert (shadow.api, shadow.endpoint) == (pytest.approx(22.093, abs=1e-3), pytest.approx(1019.242, abs=1e-3))
    assert (canary.api, canary.endpoint) == (pytest.approx(19.884, abs=1e-3), pytest.approx(1019.242, abs=1e-3))
    assert plan.total == pytest.approx(2080.461, abs=1e-3)
    assert plan.extra_over_steady == pytest.approx(41.977, abs=1e-3)
    assert migration(Plan.of("x", endpoint(), 1.515), Workload(1_000_000, 300, 5), 0.000048, 2, 0, 0, 0.1).phases == []


def test_the_cost_command_shows_the_migration_next_to_the_steady_state():
    result = cli_helpers.run_cli("cost", "--env", "prod", "--input-tokens", "300", "--output-tokens", "5",
                                 "--shadow-weeks", "3", "--canary-weeks", "1", "--canary-share", "0.25", "--json")
    assert result.code == 0, result.err
    (plan,) = result.result()["migration"]
    assert plan["weeks"] == 4 and [p["phase"] for p in plan["phases"]] == ["shadow", "canary (25% on the endpoint)"]
    rows = [e for e in result.json_lines() if e.get("event") == "row" and "migrating off" in e.get("table", "")]
    assert [r["phase"] for r in rows][-2:] == ["steady state (llama, 2% fallbacks), same weeks",
                                                "staying on the API, same weeks"]


def test_the_chart_is_log_scaled_shows_the_seed_range_and_says_when_a_break_even_is_beyond_capacity(tmp_path,
                                                                                                    monkeypatch):
    import matplotlib.pyplot as plt

    from scripts.costing.chart import SEED_RANGE, Series, render, x_range

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    workload = Workload(1_000_000, 110, 4)
    plan = Plan.of("intent-3b", endpoint(), 1.515)
    point = break_even(plan, workload, (110 * 0.15 + 4 * 0.6) / 1e6, 2)
    assert point.beyond_capacity  # 232M calls/month, the 8-instance max serves 112M
    render(tmp_path / "c.png", title="t", subtitle="s", series=[Series(plan, point), Series(plan, point)],
           workload=workload, api_name="gpt-4o-mini", api_per_call=(110 * 0.15 + 4 * 0.6) / 1e6,
           promotions_per_month=2)
    (axes,) = figures[0].axes
    assert (axes.get_xscale(), axes.get_yscale()) == ("log", "log")
    left, right = x_range([Series(plan, point)], workload)
    assert left <= SEED_RANGE[0] and right >= point.calls_per_month
    texts = [t.get_text() for t in axes.texts]
    notes = next(t for t in texts if t.startswith("(1)"))
    assert "BEYOND its max fleet (112.13M calls/month at peak)" in notes and notes.count("\n") == 1
    numbers = [t for t in axes.texts if t.get_text() in ("1", "2")]
    assert len({n.xyann for n in numbers}) == 2  # the same break-even twice: numbers side by side
    labels = axes.get_legend_handles_labels()[1]
    assert "the seed's break-even estimate: 0.5-1M calls/month" in labels
    assert any(label.startswith("given volume: 1.00M") for label in labels)
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
