"""`cost`: monthly cost of an environment's endpoints against a per-token API, and the break-even volume."""

from __future__ import annotations

from pathlib import Path

import click

from scripts.lib.flags import Number, required
from scripts.costing.cost_model import (BreakEven, Cost, NotWeekly, Plan, Workload, break_even,
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
    if key not in env.endpoints:
        raise UserError(f"--endpoint: '{key}' is not an endpoint of {env.name}; fix: use one of: "
                        f"{', '.join(sorted(env.endpoints))}")
    return {key: env.endpoints[key]}


@click.command("cost")
@click.option("--env", "env_name", default=None, help="Environment (environments/<env>.yaml).")
@click.option("--endpoint", "endpoint_key", default=None, help="Only this endpoint (default: all of the environment).")
@click.option("--calls-per-month", type=Number(int, low=0, example="1000000"), default=1_000_000, show_default=True,
              help="Monthly call volume to price.")
@click.option("--input-tokens", type=Number(float, low=0, example="300"), default=300, show_default=True,
              help="Input (prompt) tokens per call.")
@click.option("--output-tokens", type=Number(float, low=0, example="5"), default=5, show_default=True,
              help="Output tokens per call.")
@click.option("--api", "api_name", default="gpt-4o-mini", show_default=True,
              help="API to compare with (a key under apis: in the price file).")
@click.option("--peak-factor", type=Number(float, low=1, example="3"), default=3.0, show_default=True,
              help="Peak load as a multiple of the month's average load.")
@click.option("--busy-hours-per-week", type=Number(float, low=0, high=168, example="55"), default=55.0,
              show_default=True, help="Hours per week the peak lasts (default: 08:00-19:00 on weekdays).")
@click.option("--latency-ms", type=Number(float, low=1, high=60000, example="500"), default=500.0, show_default=True,
              help="Latency per call, for the concurrent-requests metric (measure it with `loadtest`).")
@click.option("--promotions-per-month", type=Number(float, low=0, example="2"), default=2.0, show_default=True,
              help="Version promotions per month (both fleets billed during wait + baking).")
@click.option("--prices", "prices_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help=f"Price file (default: {DEFAULT_FILE}).")
@click.option("--png", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Also draw monthly cost against monthly calls into this PNG.")
@click.option("--json", "json_mode", is_flag=True, default=None, help="JSON lines output.")
def command(env_name: str | None, endpoint_key: str | None, calls_per_month: int, input_tokens: float,
            output_tokens: float, api_name: str, peak_factor: float, busy_hours_per_week: float, latency_ms: float,
            promotions_per_month: float, prices_file: Path | None, png: Path | None, json_mode: bool | None) -> None:
    """Monthly cost of an environment's endpoints vs a per-token API, and the break-even calls per month.

    Minimum instances run around the clock (per schedule); at peak the fleet runs
    ceil(peak load / autoscaling target) instances, capped at max, for the busy
    hours; promotions bill both fleets for wait + baking. Shadow variants are not
    modelled. Assumptions and a worked example: docs/cost.md.
    """
    required("--env", env_name, "name the environment, e.g. --env prod")
    if png is not None and not png.parent.exists():
        raise UserError(f"--png: directory {png.parent} does not exist; fix: create it or choose another path")
    env = project(env_name).environments[env_name]
    path = prices_file or repo_root() / DEFAULT_FILE
    prices = load_prices(path, _display(path))
    api = prices.api(api_name)
    regional = prices.region(env.region)
    workload = Workload(calls_per_month, input_tokens, output_tokens, peak_factor, busy_hours_per_week,
                        latency_ms / 1000)
    api_per_call = api.per_call(input_tokens, output_tokens)
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

    out = Output(json_mode)
    for key, shadow in shadows.items():
        out.event("warning", f"warning: {key} runs a shadow variant ({shadow}); its instances are NOT included: "
                  "add them by hand while the shadow test runs", endpoint=key, shadow_version=shadow)
    result = _report(out, env, workload, api_name, api, api_per_call, api_monthly, regional, prices.display, results,
                     promotions_per_month)
    if png is not None:
        from scripts.costing.chart import Series, render

        render(png, title=f"{env.name}: self-hosted Llama on SageMaker vs {api_name}",
               subtitle=(f"{workload.input_tokens:g} input + {workload.output_tokens:g} output tokens per call; "
                         f"peak {peak_factor:g}x average for {busy_hours_per_week:g} h/week; "
                         f"{promotions_per_month:g} promotion(s)/month; prices {env.region} {regional.basis} "
                         f"{regional.retrieved}, {api_name} {api.retrieved}"),
               series=[Series(cost.plan, point) for cost, point, _ in results], workload=workload,
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
    out.event("prices", f"prices ({prices_display}): SageMaker {env.region} {regional.basis}, retrieved "
              f"{regional.retrieved}; {api_name} ({api.provider}) ${api.input_per_million:g} in / "
              f"${api.output_per_million:g} out per 1M tokens, retrieved {api.retrieved}",
              file=prices_display, sagemaker_basis=regional.basis, sagemaker_retrieved=regional.retrieved,
              api=api_name, api_retrieved=api.retrieved)
    if regional.basis != "listed":
        out.event("warning", f"warning: {env.region} SageMaker prices are an estimate, not listed figures: "
                  f"python -m scripts prices-refresh --region {env.region}", region=env.region)
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
        "api": {"name": api_name, "monthly": round(api_monthly, 2), "per_call": api_per_call,
                "retrieved": api.retrieved},
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
