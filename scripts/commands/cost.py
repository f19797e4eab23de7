"""`cost`: monthly cost of an environment's endpoints against a per-token API, and the break-even volume."""

from __future__ import annotations

from pathlib import Path

import click

from scripts.lib.flags import Number, required
from scripts.costing.cost_model import (WEEKS_PER_MONTH, BreakEven, Cost, NotWeekly, Plan, Workload, break_even,
                                   capacity_calls_per_month, endpoint_cost)
from scripts.costing.prices import DEFAULT_FILE, load_prices
from scripts.lib.errors import UserError
from scripts.lib.output import Output
from scripts.lib.repo import project, repo_root


def _calls(value: float | None) -> str:
    if value is None:
        return "never"
    if value >= 1e6:
        return f"{value / 1e6:,.2f}M"
    return f"{value:,.0f}"


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(repo_root()))
    except ValueError:
        return str(path)


def pick_endpoints(env, key: str | None) -> dict:
    if key is None:
        return dict(env.endpoints)
    if key in env.component_endpoints:
        return {}
    if key not in env.endpoints:
        raise UserError(f"--endpoint: '{key}' is not an endpoint of {env.name}; fix: use one of: "
                        f"{', '.join(sorted([*env.endpoints, *env.component_endpoints]))}")
    return {key: env.endpoints[key]}


@click.command("cost")
@click.option("--env", "env_name", default=None, help="Environment (environments/<env>.yaml).")
@click.option("--endpoint", "endpoint_key", default=None, help="Only this endpoint (default: all of the environment).")
@click.option("--calls-per-month", type=Number(int, low=0, example="1000000"), default=1_000_000, show_default=True,
              help="Monthly call volume to price.")
@click.option("--report", "report_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="An evaluate report.json: measured tokens per call (the baseline API's own when it ran) and "
                   "latency.")
@click.option("--input-tokens", type=Number(float, low=0, example="110"), default=None,
              help="Input (prompt) tokens per call (default: measured, from --report).")
@click.option("--output-tokens", type=Number(float, low=0, example="5"), default=None,
              help="Output tokens per call (default: measured, from --report).")
@click.option("--api", "api_name", default="gpt-4o-mini", show_default=True,
              help="API to compare with (a key under apis: in the price file).")
@click.option("--peak-factor", type=Number(float, low=1, example="3"), default=3.0, show_default=True,
              help="Peak load as a multiple of the month's average load.")
@click.option("--busy-hours-per-week", type=Number(float, low=0, high=168, example="55"), default=55.0,
              show_default=True, help="Hours per week the peak lasts (default: 08:00-19:00 on weekdays).")
@click.option("--latency-ms", type=Number(float, low=1, high=60000, example="500"), default=None,
              help="Latency per call, for the concurrent-requests metric (default: the report's mean, else 500).")
@click.option("--promotions-per-month", type=Number(float, low=0, example="2"), default=2.0, show_default=True,
              help="Version promotions per month (both fleets billed during wait + baking).")
@click.option("--shadow-weeks", type=Number(float, low=0, high=52, example="2"), default=2.0, show_default=True,
              help="Migration plan: weeks the endpoint shadows the API (both bills at full volume).")
@click.option("--canary-weeks", type=Number(float, low=0, high=52, example="2"), default=2.0, show_default=True,
              help="Migration plan: weeks of canary (the API still answers the rest).")
@click.option("--canary-share", type=Number(float, low=0, high=1, example="0.1"), default=0.1, show_default=True,
              help="Migration plan: share of calls the endpoint answers during the canary.")
@click.option("--active-hours-per-week", type=Number(float, low=0, high=168, example="55"), default=None,
              help="Component endpoints that scale to zero: hours per week requests arrive (default: the busy hours).")
@click.option("--active-periods-per-week", type=Number(float, low=0, high=168, example="5"), default=5.0,
              show_default=True, help="... in this many separate windows (each ends with the idle tail, each "
                                      "begins with a cold start).")
@click.option("--shadow-sample", type=Number(float, low=0, high=1, example="0.2"), default=None,
              help="Migration plan: share of calls the endpoint sees in shadow [default: the endpoint's "
                   "routing.shadow_sample_percent].")
@click.option("--fallback-rate", type=Number(float, low=0, high=1, example="0.02"), default=0.02, show_default=True,
              help="Migration plan: share of calls routed to Llama that the API answers after all (fallbacks).")
@click.option("--prices", "prices_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help=f"Price file (default: {DEFAULT_FILE}).")
@click.option("--png", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Also draw monthly cost against monthly calls into this PNG.")
@click.option("--json", "json_mode", is_flag=True, default=None, help="JSON lines output.")
def command(env_name: str | None, endpoint_key: str | None, calls_per_month: int, report_path: Path | None,
            input_tokens: float | None, output_tokens: float | None, api_name: str, peak_factor: float,
            busy_hours_per_week: float, latency_ms: float | None, promotions_per_month: float, shadow_weeks: float,
            canary_weeks: float, canary_share: float, active_hours_per_week: float | None,
            active_periods_per_week: float, shadow_sample: float | None, fallback_rate: float,
            prices_file: Path | None, png: Path | None, json_mode: bool | None) -> None:
    """Monthly cost of an environment's endpoints vs a per-token API, and the break-even calls per month.

    Minimum instances run around the clock (per schedule); at peak the fleet runs
    ceil(peak load / autoscaling target) instances, capped at max, for the busy
    hours; promotions bill both fleets for wait + baking. Tokens per call and latency come
    from an evaluate report (--report) unless given. Next to the steady state: the migration
    plan (weeks of shadow and canary, API and endpoint both billed). Shadow variants are not
    modelled. Component endpoints (LoRA adapters on one base) are priced three ways: one dedicated
    endpoint per adapter, the shared base always on, and the shared base scaling to zero outside
    --active-hours-per-week. Assumptions and a worked example: docs/cost.md.
    """
    required("--env", env_name, "name the environment, e.g. --env prod")
    inputs = _inputs(report_path, input_tokens, output_tokens, latency_ms)
    if png is not None and not png.parent.exists():
        raise UserError(f"--png: directory {png.parent} does not exist; fix: create it or choose another path")
    loaded = project(env_name)
    env = loaded.environments[env_name]
    path = prices_file or repo_root() / DEFAULT_FILE
    prices = load_prices(path, _display(path))
    api = prices.api(api_name)
    regional = prices.region(env.region)
    workload = Workload(calls_per_month, inputs["input_tokens"], inputs["output_tokens"], peak_factor,
                        busy_hours_per_week, inputs["latency_ms"] / 1000)
    api_per_call = api.per_call(workload.input_tokens, workload.output_tokens)
    api_monthly = api_per_call * calls_per_month

    results: list[tuple[Cost, BreakEven, float]] = []
    shadows: dict[str, str] = {}
    for key, endpoint in pick_endpoints(env, endpoint_key).items():
        shadow = getattr(endpoint, "shadow_version", None)  # shadow variants are newer than this model
        if shadow:
            shadows[key] = str(shadow)
        hourly = prices.hourly(env.region, endpoint.instance_type)
        try:
            plan = Plan.of(key, endpoint, hourly)
        except NotWeekly as exc:
            raise UserError(f"environments/{env.name}.yaml: endpoints.{key}.autoscaling.schedules.{exc.index}.cron: "
                            f"{exc}, and the cost model places schedules in a week; fix: use day-of-month '?', "
                            "month '*' and year '*' (e.g. '0 19 ? * MON-FRI *')") from None
        results.append((endpoint_cost(plan, workload, promotions_per_month),
                        break_even(plan, workload, api_per_call, promotions_per_month),
                        capacity_calls_per_month(plan, workload)))

    from scripts.costing import components

    if active_hours_per_week is not None and active_hours_per_week < busy_hours_per_week:
        raise UserError(f"--active-hours-per-week: {active_hours_per_week:g} is below --busy-hours-per-week "
                        f"{busy_hours_per_week:g}; fix: requests arrive at least during the busy hours")
    activity = components.Activity(busy_hours_per_week if active_hours_per_week is None else active_hours_per_week,
                                   active_periods_per_week)
    shared = [components.options(key, c, loaded.pins[(c.base.model, c.base.version)],
                                 prices.hourly(env.region, c.instance_type), activity)
              for key, c in env.component_endpoints.items() if endpoint_key in (None, key)]

    out = Output(json_mode)
    for warning in inputs["warnings"]:
        out.event("warning", f"warning: {warning}")
    for key, shadow in shadows.items():
        out.event("warning", f"warning: {key} runs a shadow variant ({shadow}); its instances are NOT included: "
                  "add them by hand while the shadow test runs", endpoint=key, shadow_version=shadow)
    result = _report(out, env, workload, api_name, api, api_per_call, api_monthly, regional, prices.display, results,
                     promotions_per_month)
    result["inputs"] = {k: v for k, v in inputs.items() if k != "warnings"}
    if shared:
        from scripts.costing.component_report import report_components

        result["component_endpoints"] = report_components(out, shared, workload, api_name, api_per_call,
                                                          promotions_per_month)
    samples = {key: shadow_sample if shadow_sample is not None else e.routing.shadow_sample_percent / 100
               for key, e in pick_endpoints(env, endpoint_key).items()}
    result["migration"] = _migration(out, results, workload, api_name, api_per_call, promotions_per_month,
                                     shadow_weeks, canary_weeks, canary_share, samples, fallback_rate)
    if png is not None:
        from scripts.costing.chart import Series, render

        render(png, title=f"{env.name}: self-hosted Llama on SageMaker vs {api_name}",
               subtitle=(f"{workload.input_tokens:g} input + {workload.output_tokens:g} output tokens per call "
                         f"({inputs['tokens_from']}); peak {peak_factor:g}x average for {busy_hours_per_week:g} "
                         f"h/week; {promotions_per_month:g} promotion(s)/month; SageMaker {env.region} prices "
                         f"{regional.described}; {api_name} prices {api.described}"),
               series=[Series(cost.plan, point) for cost, point, _ in results]
               + [Series(plan, break_even(plan, workload, api_per_call, promotions_per_month))
                  for option in shared for plan in option.plans], workload=workload,
               api_name=api_name, api_per_call=api_per_call, promotions_per_month=promotions_per_month)
        out.event("png", f"chart written to {png}", path=str(png))
        result["png"] = str(png)
    out.result(result)


def _report(out: Output, env, workload: Workload, api_name: str, api, api_per_call: float, api_monthly: float,
            regional, prices_display: str, results, promotions_per_month: float) -> dict:
    out.event("workload", f"{env.name} ({env.region}) at {workload.calls_per_month:,.0f} calls/month, "
              f"{workload.input_tokens:g} input + {workload.output_tokens:g} output tokens per call",
              environment=env.name, region=env.region, calls_per_month=workload.calls_per_month,
              input_tokens=workload.input_tokens, output_tokens=workload.output_tokens)
    out.event("prices", f"prices ({prices_display}): SageMaker {env.region} {regional.described}; {api_name} "
              f"({api.provider}) ${api.input_per_million:g} in / ${api.output_per_million:g} out per 1M tokens, "
              f"{api.described}", file=prices_display, sagemaker_basis=regional.basis,
              sagemaker_retrieved=regional.retrieved, api=api_name, api_basis=api.basis, api_checked=api.checked)
    if regional.basis != "price-list-api":
        out.event("warning", f"warning: {env.region} SageMaker prices are {regional.described}: python -m scripts "
                  f"prices-refresh --region {env.region}", region=env.region, basis=regional.basis)
    rows = []
    for cost, _, capacity in results:
        plan = cost.plan
        rows.append([plan.name, plan.instance_type, f"${plan.hourly:g}", f"{plan.min_instances}-{plan.max_instances}",
                     cost.instances_needed, f"{cost.base_instance_hours:,.1f}", _money(cost.base_monthly),
                     _money(cost.scale_out_monthly), _money(cost.promotion_monthly), _money(cost.monthly),
                     f"${cost.monthly / workload.calls_per_month * 1000:,.4f}" if workload.calls_per_month else "-"])
    out.table(f"Self-hosted, per month at {workload.calls_per_month:,.0f} calls",
              ["endpoint", "instance", "per hour", "min-max", "needed at peak", "base instance-h", "base",
               "scale-out", "promotions", "total", "per 1k calls"], rows)
    scheduled = [(cost.plan, level) for cost, _, _ in results for level in cost.plan.levels if level.name != "instances"]
    if scheduled:
        out.table("Schedules (hours per week in force)", ["endpoint", "schedule", "min-max", "hours/week"],
                  [[plan.name, level.name, f"{level.min}-{level.max}", f"{level.hours_per_week:g}"]
                   for plan, level in scheduled])
    out.event("api", f"{api_name}: {_money(api_monthly)} per month (${api_per_call * 1000:,.4f} per 1k calls)",
              api=api_name, monthly=round(api_monthly, 2), per_call=api_per_call)
    out.table(f"Break-even against {api_name} (calls/month)",
              ["endpoint", "first break-even", "endpoint cost there", "self-hosted cheaper for good from",
               "within max instances"],
              [[cost.plan.name, _calls(point.calls_per_month), _money(point.hosted_monthly),
                _calls(point.for_good_calls),
                "no: needs more than max" if point.for_good_beyond_capacity else "yes"] for cost, point, _ in results])
    for cost, point, capacity in results:
        plan = cost.plan
        if cost.capacity_exceeded:
            out.event("warning", f"warning: {plan.name}: the peak needs {cost.instances_needed} instance(s), more "
                      f"than the max in force during busy hours; the fleet serves about {_calls(capacity)} "
                      "calls/month at peak (raise instances.max or the target)", endpoint=plan.name,
                      instances_needed=cost.instances_needed, capacity_calls_per_month=round(capacity))
        cheaper = "the API" if api_monthly < cost.monthly else "the endpoint"
        out.event("verdict", f"{plan.name}: at {workload.calls_per_month:,.0f} calls/month {cheaper} is cheaper "
                  f"({_money(api_monthly)} vs {_money(cost.monthly)}); break-even at {_calls(point.calls_per_month)} "
                  "calls/month" + (f", self-hosted cheaper for good from {_calls(point.for_good_calls)}"
                                   if point.for_good_calls != point.calls_per_month else ""),
                  endpoint=plan.name)
    out.event("assumptions", "assumptions: 730 h/month; minimum instances around the clock per schedule; peak = "
              f"{workload.peak_factor:g}x the average load for {workload.busy_hours_per_week:g} h/week, instances at "
              "peak = ceil(peak load / autoscaling target) capped at max; latency "
              f"{workload.latency_seconds * 1000:g} ms for concurrent-requests; {promotions_per_month:g} "
              "promotion(s)/month bill both fleets for wait + baking; shadow variants, storage, CloudWatch and "
              "data transfer not included (docs/cost.md)")
    return {
        "environment": env.name, "region": env.region, "workload": {
            "calls_per_month": workload.calls_per_month, "input_tokens": workload.input_tokens,
            "output_tokens": workload.output_tokens, "peak_factor": workload.peak_factor,
            "busy_hours_per_week": workload.busy_hours_per_week, "latency_ms": workload.latency_seconds * 1000,
            "promotions_per_month": promotions_per_month},
        "api": {"name": api_name, "monthly": round(api_monthly, 2), "per_call": api_per_call, "basis": api.basis,
                "checked": api.checked},
        "prices": {"file": prices_display, "basis": regional.basis, "retrieved": regional.retrieved},
        "endpoints": [{
            "endpoint": cost.plan.name, "instance_type": cost.plan.instance_type, "hourly": cost.plan.hourly,
            "min": cost.plan.min_instances, "max": cost.plan.max_instances,
            "schedules": [{"name": lv.name, "min": lv.min, "max": lv.max, "hours_per_week": lv.hours_per_week}
                          for lv in cost.plan.levels if lv.name != "instances"],
            "instances_needed_at_peak": cost.instances_needed,
            "base_instance_hours": round(cost.base_instance_hours, 3),
            "scale_out_instance_hours": round(cost.scale_out_instance_hours, 3),
            "promotion_instance_hours": round(cost.promotion_instance_hours, 3),
            "base_monthly": round(cost.base_monthly, 2), "scale_out_monthly": round(cost.scale_out_monthly, 2),
            "promotion_monthly": round(cost.promotion_monthly, 2), "monthly": round(cost.monthly, 2),
            "capacity_exceeded": cost.capacity_exceeded,
            "capacity_calls_per_month": round(capacity) if capacity != float("inf") else None,
            "break_even_calls_per_month": round(point.calls_per_month) if point.calls_per_month else None,
            "break_even_monthly": round(point.hosted_monthly, 2), "break_even_beyond_capacity": point.beyond_capacity,
            "cheaper_for_good_from_calls_per_month": round(point.for_good_calls) if point.for_good_calls else None,
            "cheaper_for_good_monthly": round(point.for_good_monthly, 2),
            "cheaper_for_good_beyond_capacity": point.for_good_beyond_capacity,
        } for cost, point, capacity in results],
    }


def _inputs(report_path: Path | None, input_tokens: float | None, output_tokens: float | None,
            latency_ms: float | None) -> dict:
    """Tokens per call and latency: flags first, then the evaluate report, never a silent default for tokens."""
    measured = None
    if report_path is not None:
        from scripts.costing.measured import read_measurements

        measured = read_measurements(report_path, _display(report_path))
    if measured is None and (input_tokens is None or output_tokens is None):
        flag = "--input-tokens" if input_tokens is None else "--output-tokens"
        raise UserError(f"{flag}: missing; fix: give --report <evaluate's report.json> (tokens measured by the "
                        "containers and the API), or both --input-tokens and --output-tokens")
    given = input_tokens is not None and output_tokens is not None
    tokens_from = "given" if given else (f"measured: {measured.shown}, {measured.where}"
                                          + (", the API's own counts" if measured.api_counted else ""))
    latency = latency_ms or (measured.latency_ms if measured and measured.latency_ms else None)
    latency_from = "given" if latency_ms else ("measured: " + measured.shown if latency else "assumed")
    return {"input_tokens": input_tokens if input_tokens is not None else measured.input_tokens,
            "output_tokens": output_tokens if output_tokens is not None else measured.output_tokens,
            "tokens_from": tokens_from, "latency_ms": round(latency or 500.0, 1), "latency_from": latency_from,
            "warnings": (measured.warnings if measured and not given else [])}


def _migration(out: Output, results, workload: Workload, api_name: str, api_per_call: float,
               promotions_per_month: float, shadow_weeks: float, canary_weeks: float, canary_share: float,
               samples: dict[str, float], fallback_rate: float) -> list:
    from scripts.costing.migration import migration

    plans = []
    for cost, _, _ in results:
        plan = migration(cost.plan, workload, api_per_call, promotions_per_month, shadow_weeks, canary_weeks,
                         canary_share, samples[cost.plan.name], fallback_rate)
        rows = [[p.name, f"{p.weeks:g}", _money(p.api), _money(p.endpoint), _money(p.total)] for p in plan.phases]
        rows.append(["migration, all phases", f"{plan.weeks:g}", _money(sum(p.api for p in plan.phases)),
                     _money(sum(p.endpoint for p in plan.phases)), _money(plan.total)])
        rows.append([f"steady state (llama, {fallback_rate:.0%} fallbacks), same weeks", f"{plan.weeks:g}",
                     _money(plan.fallback_weekly * plan.weeks),
                     _money((plan.steady_weekly - plan.fallback_weekly) * plan.weeks),
                     _money(plan.steady_weekly * plan.weeks)])
        rows.append(["staying on the API, same weeks", f"{plan.weeks:g}", _money(plan.api_weekly * plan.weeks),
                     _money(0), _money(plan.api_weekly * plan.weeks)])
        out.table(f"{cost.plan.name}: migrating off {api_name} at {workload.calls_per_month:,.0f} calls/month",
                  ["phase", "weeks", api_name, "endpoint", "total"], rows)
        out.event("migration", f"{cost.plan.name}: migrating costs {_money(plan.total)} over {plan.weeks:g} weeks, "
                  f"{_money(plan.extra_over_steady)} more than the steady state over the same weeks; then "
                  f"{_money(cost.monthly)}/month against {_money(plan.api_weekly * WEEKS_PER_MONTH)}/month on the API",
                  endpoint=cost.plan.name)
        out.event("fallbacks", f"{cost.plan.name}: a fallback costs one {api_name} call (${api_per_call * 1000:,.4f} "
                  f"per 1k); at {fallback_rate:.0%} of {workload.calls_per_month:,.0f} calls/month, "
                  f"{_money(plan.fallback_weekly * WEEKS_PER_MONTH)}/month on top of the endpoint",
                  endpoint=cost.plan.name, fallback_rate=fallback_rate,
                  fallback_monthly=round(plan.fallback_weekly * WEEKS_PER_MONTH, 2))
        plans.append({"endpoint": cost.plan.name, "weeks": plan.weeks, "total": round(plan.total, 2),
                      "fallback_rate": fallback_rate, "shadow_sample": samples[cost.plan.name],
                      "fallback_monthly": round(plan.fallback_weekly * WEEKS_PER_MONTH, 2),
                      "extra_over_steady_state": round(plan.extra_over_steady, 2),
                      "phases": [{"phase": p.name, "weeks": p.weeks, "api": round(p.api, 2),
                                  "endpoint": round(p.endpoint, 2)} for p in plan.phases]})
    return plans
