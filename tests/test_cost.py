"""Cost arithmetic against hand-computed cases; the price book validated on load; prices-refresh (Stubber);
the `cost` command's output, chart and one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date

import boto3
import pytest

import cli_helpers
from botocore.stub import Stubber
from conftest import ROOT

from scripts.costing.cost_model import (HOURS_PER_MONTH, Plan, Workload, break_even, endpoint_cost, overlap_hours,
                                   weekly_levels)
from scripts.costing.prices import load_prices
from scripts.costing.refresh import SERVICE_CODE, filters
from scripts.lib.errors import UserError
from config.environment import Endpoint
from config.schedule import ScalingSchedule

PRICES = ROOT / "pricing" / "prices.yaml"
GPT_4O_MINI_PER_CALL = (300 * 0.15 + 5 * 0.60) / 1_000_000  # 300 in + 5 out tokens = $0.000048
TOKENS = ("--input-tokens", "300", "--output-tokens", "5")


def endpoint(**changes) -> Endpoint:
    data = {"model": "llama-3-2-3b-instruct", "version": "v1", "instance_type": "ml.g5.2xlarge",
            "instances": {"initial": 2, "min": 2, "max": 8},
            "autoscaling": {"metric": "concurrent-requests", "target": 8},
            "deployment": {"strategy": "canary", "canary_size": {"type": "instance-count", "value": 1},
                           "wait_seconds": 600, "baking_seconds": 900, "max_execution_seconds": 5400}}
    data.update(changes)
    return Endpoint.model_validate(data)


def schedule(name, cron, low, high, zone="UTC") -> ScalingSchedule:
    return ScalingSchedule(name=name, cron=cron, min=low, max=high, timezone=zone)


def nights_and_days(low: int, high: int, target: int, wait_seconds: int, baking_seconds: int) -> Endpoint:
    """Instances `low`-`high` scaled on concurrent requests (`target`), with two Berlin schedules: nights
    (from 19:00 on weekdays) at 1-1, days (from 08:00) at `low`-`high`; all-at-once deployments."""
    return endpoint(instances={"initial": low, "min": low, "max": high},
                    autoscaling={"metric": "concurrent-requests", "target": target, "schedules": [
                        {"name": "nights", "cron": "0 19 ? * MON-FRI *", "min": 1, "max": 1,
                         "timezone": "Europe/Berlin"},
                        {"name": "days", "cron": "0 8 ? * MON-FRI *", "min": low, "max": high,
                         "timezone": "Europe/Berlin"}]},
                    deployment={"strategy": "all-at-once", "wait_seconds": wait_seconds,
                                "baking_seconds": baking_seconds})


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    result = cli_helpers.run_cli(*args)
    return result.code, result.out, result.err


def result_of(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


# -- schedules in a week ------------------------------------------------------------------


def test_weekday_working_hours_in_berlin_are_55_of_168_hours():
    # mornings: 08:00-19:00 Mon-Fri = 11 h x 5 = 55 h; evenings: the other 168 - 55 = 113 h
    # (Friday 19:00 holds through the weekend until Monday 08:00).
    levels = weekly_levels(1, 2, [schedule("evenings", "0 19 ? * MON-FRI *", 1, 1, "Europe/Berlin"),
                                  schedule("mornings", "0 8 ? * MON-FRI *", 1, 2, "Europe/Berlin")])
    assert [(lv.name, lv.min, lv.max, lv.hours_per_week) for lv in levels] == \
        [("evenings", 1, 1, 113.0), ("mornings", 1, 2, 55.0)]


def test_schedules_in_different_time_zones_are_placed_on_one_clock():
    # weekend-low from Saturday 00:00 New York (05:00 UTC in January) until Monday 06:00 UTC:
    # Sat 05:00 -> Mon 06:00 = 19 + 24 + 6 = 49 h; the rest of the week 168 - 49 = 119 h.
    levels = weekly_levels(2, 4, [schedule("weekend", "0 0 ? * SAT *", 1, 1, "America/New_York"),
                                  schedule("weekdays", "0 6 ? * MON *", 2, 4)])
    assert {lv.name: lv.hours_per_week for lv in levels} == {"weekend": 49.0, "weekdays": 119.0}


def test_without_schedules_the_configured_bounds_hold_all_week():
    (level,) = weekly_levels(2, 8, [])
    assert (level.min, level.max, level.hours_per_week) == (2, 8, 168.0)


# -- monthly cost -------------------------------------------------------------------------


def test_prod_shape_at_one_million_calls_is_the_minimum_fleet_plus_two_promotions():
    # base: 2 instances x 730 h x $1.515 = $2,211.90
    # peak: 1e6 / 2,628,000 s x 3 = 1.1416 calls/s x 0.5 s = 0.571 concurrent -> ceil(0.571 / 8) = 1 <= min 2: no scale-out
    # promotions: 2 x 2 instances x (600 s wait + 900 s baking) / 3600 = 1.6667 h x $1.515 = $2.525
    plan = Plan.of("intent-3b", endpoint(), 1.515)
    cost = endpoint_cost(plan, Workload(1_000_000, 300, 5), promotions_per_month=2)
    assert cost.instances_needed == 1
    assert cost.base_instance_hours == pytest.approx(1460.0)
    assert cost.scale_out_instance_hours == 0
    assert cost.promotion_instance_hours == pytest.approx(1.6667, abs=1e-4)
    assert cost.base_monthly == pytest.approx(2211.90)
    assert cost.monthly == pytest.approx(2214.425, abs=1e-3)


def test_schedules_and_scale_out_by_hand():
    # ml.g5.2xlarge at $1.515; nights (19:00-08:00 + weekends, 113 h/week) 1-1, days (55 h/week) 2-6;
    # target 2 concurrent per instance; all-at-once, wait 120 s + baking 300 s.
    # volume 10,512,000 calls/month = 10,512,000 / (730 x 3600 s) = 4 calls/s average;
    # peak 3 x 4 = 12 calls/s x 0.5 s latency = 6 concurrent -> ceil(6 / 2) = 3 instances.
    # base:      (1 x 113 + 2 x 55) = 223 instance-h/week x 730/168 = 968.9881 instance-h/month
    # scale-out: 55 busy h/week in the 2-6 schedule at 3 instances: (3 - 2) x 55 = 55 h/week = 238.9881 h/month
    # promotions: 2 x 2 instances (instances.min) x (120 + 300) s = 0.4667 h
    # total: 1208.4429 h x $1.515 = $1,830.79
    e = nights_and_days(2, 6, target=2, wait_seconds=120, baking_seconds=300)
    cost = endpoint_cost(Plan.of("x", e, 1.515), Workload(10_512_000, 300, 5), promotions_per_month=2)
    assert cost.instances_needed == 3
    assert cost.base_instance_hours == pytest.approx(968.9881, abs=1e-4)
    assert cost.scale_out_instance_hours == pytest.approx(238.9881, abs=1e-4)
    assert cost.promotion_instance_hours == pytest.approx(0.4667, abs=1e-4)
    assert cost.monthly == pytest.approx(1830.79, abs=0.01)
    assert cost.busy_hours_placed == {"days": 55.0} and not cost.capacity_exceeded


def test_invocations_metric_at_exactly_the_target_needs_no_extra_instance():
    # 4,380,000 calls/month = 4,380,000 / (730 x 60 min) = 100 calls/min; peak x3 = 300/min = target 300 -> 1 instance
    e = endpoint(instances={"initial": 1, "min": 1, "max": 2},
                 autoscaling={"metric": "invocations-per-instance", "target": 300},
                 deployment={"strategy": "all-at-once", "wait_seconds": 60, "baking_seconds": 120})
    plan = Plan.of("x", e, 1.408)
    assert endpoint_cost(plan, Workload(4_380_000, 300, 5), 0).instances_needed == 1
    assert endpoint_cost(plan, Workload(4_380_001, 300, 5), 0).instances_needed == 2


def test_peak_beyond_the_max_is_capped_and_flagged():
    # dev shape (1-2 instances, target 8): 30M calls -> 11.42 calls/s x 3 x 0.5 s = 17.1 concurrent -> 3 > max 2
    e = endpoint(instances={"initial": 1, "min": 1, "max": 2},
                 deployment={"strategy": "all-at-once", "wait_seconds": 60, "baking_seconds": 120})
    cost = endpoint_cost(Plan.of("x", e, 1.408), Workload(30_000_000, 300, 5), 0)
    assert cost.instances_needed == 3 and cost.capacity_exceeded
    assert cost.scale_out_instance_hours == pytest.approx(55 * HOURS_PER_MONTH / 168)  # 1 extra, capped at 2


def test_busy_hours_beyond_the_working_schedule_spill_into_the_night_and_hit_its_max():
    # dev shape with schedules: days (55 h) 1-2, nights (113 h) 1-1; 60 busy hours -> 55 in days + 5 in nights.
    # 10M calls: 10,000,000 / 2,628,000 s = 3.805 calls/s x 3 x 0.5 s = 5.71 concurrent; target 4 -> 2 instances.
    # scale-out: (2 - 1) x 55 h in days + (1 - 1) x 5 h in nights = 55 h/week; nights cap the peak at 1: flagged.
    e = nights_and_days(1, 2, target=4, wait_seconds=60, baking_seconds=120)
    cost = endpoint_cost(Plan.of("x", e, 1.408), Workload(10_000_000, 300, 5, busy_hours_per_week=60), 0)
    assert cost.instances_needed == 2 and cost.busy_hours_placed == {"days": 55.0, "nights": 5.0}
    assert cost.scale_out_instance_hours == pytest.approx(55 * HOURS_PER_MONTH / 168) and cost.capacity_exceeded


@pytest.mark.parametrize("deployment, fleet, hours", [
    ({"strategy": "canary", "canary_size": {"type": "instance-count", "value": 1}, "wait_seconds": 600,
      "baking_seconds": 900}, 2, 1500 / 3600),
    ({"strategy": "linear", "linear_step": {"type": "capacity-percent", "value": 20}, "wait_seconds": 300,
      "baking_seconds": 600}, 4, (5 * 300 + 600) / 3600),  # 100/20 = 5 steps, one wait each
    ({"strategy": "all-at-once", "wait_seconds": 120, "baking_seconds": 300}, 1, 420 / 3600),
])
def test_both_fleets_overlap_for_the_waits_plus_baking(deployment, fleet, hours):
    e = endpoint(instances={"initial": fleet, "min": fleet, "max": 10}, deployment=deployment)
    assert overlap_hours(e.deployment, fleet) == pytest.approx(hours)


def test_break_even_of_the_prod_shape_by_hand():
    # hosted at k instances at peak: $2,214.425 + (k - 2) x 55 h/week x 730/168 x $1.515 ($362.067 per extra instance)
    # k instances hold while calls <= k x 8 / (3 x 0.5 s / 2,628,000 s) = k x 14,016,000
    # k = 5: calls in (56.064M, 70.08M], cost $3,300.626 -> $3,300.626 / $0.000048 = 68,763,039 (inside: first)
    # k = 6: calls in (70.08M, 84.096M], cost $3,662.693 -> 76,306,101 (inside: API cheaper again up to here)
    # k = 7: cost $4,024.76 -> 83.85M, below the step's start: the endpoint stays cheaper from 76,306,101 on
    point = break_even(Plan.of("intent-3b", endpoint(), 1.515), Workload(1_000_000, 300, 5), GPT_4O_MINI_PER_CALL, 2)
    assert point.calls_per_month == pytest.approx(68_763_039, abs=1)
    assert point.hosted_monthly == pytest.approx(3300.626, abs=1e-3)
    assert point.for_good_calls == pytest.approx(76_306_101, abs=1)
    assert not point.beyond_capacity and not point.for_good_beyond_capacity


def test_a_free_api_has_no_break_even():
    point = break_even(Plan.of("x", endpoint(), 1.515), Workload(0, 0, 0), 0.0, 2)
    assert point.calls_per_month is None and point.for_good_calls is None


# -- the price book --------------------------------------------------------------------------


def test_the_shipped_price_book_loads_with_sources_and_dates():
    book = load_prices(PRICES, "pricing/prices.yaml").book
    assert book.apis["gpt-4o-mini"].input_per_million == 0.15 and book.apis["gpt-4o-mini"].output_per_million == 0.60
    assert {"gpt-4o", "gpt-4o-mini"} <= set(book.apis)
    for region in ("us-east-1", "eu-west-1"):
        block = book.sagemaker_hosting[region]
        assert block.source
        assert {f"ml.g5.{s}" for s in ("xlarge", "2xlarge", "4xlarge", "12xlarge", "48xlarge")} <= set(block.hourly)
    # Nothing here was fetched: the hand-typed figures say so and carry no retrieval date (issue 14).
    assert book.sagemaker_hosting["us-east-1"].basis == "unverified"
    assert book.sagemaker_hosting["eu-west-1"].basis == "estimate"  # derived figures say so
    assert all(block.retrieved is None for block in book.sagemaker_hosting.values())
    assert all(api.basis == "unverified" and api.checked is None for api in book.apis.values())


@pytest.mark.parametrize("old, new, field, words", [
    ("ml.g5.xlarge: 1.408", "ml.g5.xlarge: -1", "sagemaker_hosting.us-east-1.hourly.ml.g5.xlarge", "greater than 0"),
    ("    basis: unverified\n", "    basis: listed\n", "sagemaker_hosting.us-east-1.basis",
     "'price-list-api', 'unverified' or 'estimate'"),
    ("    input_per_million: 0.15\n", "", "apis.gpt-4o-mini.input_per_million", "Field required"),
    ("    basis: unverified\n    note: Run", "    basis: unverified\n    retrieved: 2026-11-23\n    note: Run",
     "sagemaker_hosting.us-east-1.retrieved", "only prices-refresh retrieves"),
    ("    basis: unverified\n    input_per_million: 0.15", "    basis: checked\n    input_per_million: 0.15",
     "apis.gpt-4o-mini.checked", "basis 'checked' and a 'checked' date go together"),
    ("currency: USD", "currency: USD\nvat: 19", "vat", "unknown key"),
])
def test_a_bad_price_file_stops_with_one_line_naming_file_field_and_fix(tmp_path, old, new, field, words):
    bad = tmp_path / "prices.yaml"
    text = PRICES.read_text()
    assert old in text
    bad.write_text(text.replace(old, new, 1))
    with pytest.raises(UserError) as raised:
        load_prices(bad, "pricing/prices.yaml")
    message = str(raised.value)
    assert "\n" not in message and message.startswith("pricing/prices.yaml:")
    assert f": {field}: " in message and words in message and "; fix: " in message, message


# -- the cost command ----------------------------------------------------------------------------


def test_cost_command_reports_the_prod_figures_and_draws_the_chart(monkeypatch, capsys, tmp_path):
    png = tmp_path / "cost.png"
    code, out, err = run_cli(monkeypatch, capsys, "cost", "--env", "prod", "--calls-per-month", "1000000",
                             "--input-tokens", "300", "--output-tokens", "5", "--png", str(png), "--json")
    assert code == 0, err
    result = result_of(out)
    (prod,) = result["endpoints"]
    assert result["api"] == {"name": "gpt-4o-mini", "monthly": 48.0, "per_call": 4.8e-05, "basis": "unverified",
                             "checked": None}
    assert result["inputs"] == {"input_tokens": 300, "output_tokens": 5, "tokens_from": "given", "latency_ms": 500.0,
                                "latency_from": "assumed"}
    # $2.525 is 2.52499... in binary: rounds to 2.52
    assert (prod["instance_type"], prod["monthly"], prod["promotion_monthly"]) == ("ml.g5.2xlarge", 2214.43, 2.52)
    assert prod["break_even_calls_per_month"] == 68_763_039
    assert prod["cheaper_for_good_from_calls_per_month"] == 76_306_101
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert any(json.loads(line).get("event") == "assumptions" for line in out.splitlines()[:-1])


def test_cost_command_counts_dev_schedules_and_promotions_flag(monkeypatch, capsys):
    code, out, _ = run_cli(monkeypatch, capsys, "cost", "--env", "dev", "--endpoint", "intent-3b",
                           "--promotions-per-month", "0", "--api", "gpt-4o", "--input-tokens", "110",
                           "--output-tokens", "4", "--json")
    assert code == 0
    (dev,) = result_of(out)["endpoints"]
    assert dev["schedules"] == [{"name": "evenings", "min": 1, "max": 1, "hours_per_week": 113.0},
                                {"name": "mornings", "min": 1, "max": 2, "hours_per_week": 55.0}]
    # 1 instance around the clock: 730 h x $1.408 = $1,027.84; no promotions
    assert dev["monthly"] == 1027.84 and dev["promotion_instance_hours"] == 0


@pytest.mark.parametrize("args, message", [
    (["--env", "prod", "--calls-per-month", "-5"], "error: --calls-per-month: -5 is out of range; fix: "),
    (["--env", "prod", "--calls-per-month", "many"], "error: --calls-per-month: 'many' is not a number; fix: "),
    (["--env", "prod", "--peak-factor", "0.5"], "error: --peak-factor: 0.5 is out of range; fix: "),
    (["--env", "prod", "--busy-hours-per-week", "200"], "error: --busy-hours-per-week: 200 is out of range; fix: "),
    (["--env", "prod", "--api", "gpt-5", *TOKENS], "error: --api: 'gpt-5' is not in pricing/prices.yaml; fix: "),
    (["--env", "prod", "--endpoint", "nope", *TOKENS], "error: --endpoint: 'nope' is not an endpoint of prod; fix: "),
    (["--calls-per-month", "10"], "error: --env: missing; fix: "),
    (["--env", "prod"], "error: --input-tokens: missing; fix: give --report <evaluate's report.json>"),
    (["--env", "prod", "--input-tokens", "100"], "error: --output-tokens: missing; fix: "),
    (["--env", "prod", "--report", "nowhere.json"], "error: --report: cannot read nowhere.json"),
    (["--env", "prod", "--input-tokens", "1", "--output-tokens", "1", "--canary-share", "2"],
     "error: --canary-share: 2 is out of range; fix: "),
])
def test_bad_flags_exit_2_with_one_line(monkeypatch, capsys, args, message):
    code, out, err = run_cli(monkeypatch, capsys, "cost", *args)
    assert code == 2 and out == ""
    assert err.startswith(message) and err.count("\n") == 1, err


@pytest.mark.slow  # full tier: the command in a subprocess
@pytest.mark.parametrize("args, message", [
    (["--env", "prod", "--calls-per-month", "1.5"], "error: --calls-per-month: '1.5' is not a whole number; fix: "),
    (["--env", "prod", "--prices", "BAD", "--input-tokens", "300", "--output-tokens", "5"], "error: BAD:"),
])
def test_bad_input_through_the_real_entry_point_no_traceback(tmp_path, args, message):
    bad = tmp_path / "prices.yaml"
    bad.write_text(PRICES.read_text().replace("output_per_million: 0.60", "output_per_million: free"))
    args = [str(bad) if a == "BAD" else a for a in args]
    result = subprocess.run([sys.executable, "-m", "scripts", "cost", *args], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith(message.replace("BAD", str(bad))), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr and result.stdout == ""
    if "--prices" in args:
        assert ": apis.gpt-4o-mini.output_per_million: " in result.stderr and "; fix: write a number" in result.stderr


# -- prices-refresh ------------------------------------------------------------------------------


def product(region: str, instance: str, usd: str, usagetype: str | None = None) -> str:
    sku = f"SKU{abs(hash((region, instance, usd))) % 10**8}"
    return json.dumps({
        "product": {"productFamily": "ML Instance", "sku": sku, "attributes": {
            "regionCode": region, "instanceName": instance, "component": "Hosting",
            "usagetype": usagetype or f"USE1-Host:{instance}", "servicecode": SERVICE_CODE}},
        "serviceCode": SERVICE_CODE,
        "terms": {"OnDemand": {f"{sku}.JRTCKXETXF": {"priceDimensions": {f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
            "unit": "Hrs", "pricePerUnit": {"USD": usd}, "description": f"${usd} per hour for {instance}"}}}}}})


@pytest.fixture
def pricing_stub(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("pricing", region_name="us-east-1")
    stubber = Stubber(client)
    from scripts.lib import aws

    monkeypatch.setattr(aws, "client", lambda service, region=None: client)
    with stubber:
        yield stubber
    stubber.assert_no_pending_responses()


def expect(stubber, region, instance, price_list, token=None, next_token=None):
    params = {"ServiceCode": SERVICE_CODE, "Filters": filters(region, instance), "FormatVersion": "aws_v1",
              "MaxResults": 100, **({"NextToken": token} if token else {})}
    response = {"FormatVersion": "aws_v1", "PriceList": price_list, **({"NextToken": next_token} if next_token else {})}
    stubber.add_response("get_products", response, params)


def test_prices_refresh_rewrites_the_region_from_the_price_list(pricing_stub, tmp_path, monkeypatch, capsys):
    copy = tmp_path / "prices.yaml"
    shutil.copy(PRICES, copy)
    expect(pricing_stub, "us-east-1", "ml.g5.xlarge", [product("us-east-1", "ml.g5.xlarge", "1.4100000000")])
    # a paginated answer, with a variant usage type the plain hosting price wins over
    expect(pricing_stub, "us-east-1", "ml.g5.2xlarge",
           [product("us-east-1", "ml.g5.2xlarge", "1.9900000000", "USE1-Host-Dedicated:ml.g5.2xlarge")],
           next_token="page-2")
    expect(pricing_stub, "us-east-1", "ml.g5.2xlarge", [product("us-east-1", "ml.g5.2xlarge", "1.5200000000")],
           token="page-2")
    expect(pricing_stub, "us-east-1", "ml.g5.4xlarge", [])  # not listed: keep the old figure, say so
    code, out, err = run_cli(monkeypatch, capsys, "prices-refresh", "--region", "us-east-1", "--prices", str(copy),
                             "--instance-type", "ml.g5.xlarge", "--instance-type", "ml.g5.2xlarge",
                             "--instance-type", "ml.g5.4xlarge", "--json")
    assert code == 0, err
    book = load_prices(copy).book
    east = book.sagemaker_hosting["us-east-1"]
    assert east.hourly["ml.g5.xlarge"] == 1.41 and east.hourly["ml.g5.2xlarge"] == 1.52
    assert east.hourly["ml.g5.4xlarge"] == 2.03 and east.hourly["ml.g5.48xlarge"] == 20.36  # kept
    assert east.basis == "price-list-api" and east.retrieved == date.today() and "Price List API" in east.source
    assert "ml.g5.4xlarge" in east.note and "ml.g5.48xlarge" in east.note
    original = load_prices(PRICES).book
    assert book.sagemaker_hosting["eu-west-1"] == original.sagemaker_hosting["eu-west-1"]
    assert book.apis == original.apis
    assert copy.read_text().startswith("# Price book for `python -m scripts cost`")  # comments kept
    assert result_of(out)["prices"] == {"us-east-1": {"ml.g5.xlarge": 1.41, "ml.g5.2xlarge": 1.52}}


def test_prices_refresh_writes_nothing_when_the_price_list_has_nothing(pricing_stub, tmp_path, monkeypatch, capsys):
    copy = tmp_path / "prices.yaml"
    shutil.copy(PRICES, copy)
    before = copy.read_bytes()
    expect(pricing_stub, "eu-west-1", "ml.g5.xlarge", [])
    code, _, err = run_cli(monkeypatch, capsys, "prices-refresh", "--region", "eu-west-1", "--prices", str(copy),
                           "--instance-type", "ml.g5.xlarge", "--json")
    assert code == 1 and "no hosting price" in err and err.count("\n") == 1
    assert copy.read_bytes() == before and list(tmp_path.iterdir()) == [copy]  # no temp file left behind


def test_prices_refresh_refuses_bad_flags_before_calling_aws(monkeypatch, capsys):
    code, _, err = run_cli(monkeypatch, capsys, "prices-refresh", "--region", "Ireland")
    assert code == 2 and err.startswith("error: --region: 'Ireland' is not a region code; fix: ")
