"""What `cost` prints for component endpoints: the adapters on dedicated endpoints, on one base, and on
one base that scales to zero, with how the break-even against the API moves between them."""

from __future__ import annotations

from scripts.costing.components import Options
from scripts.costing.cost_model import WEEKS_PER_MONTH, Workload, break_even, endpoint_cost
from scripts.lib.output import Output


def _calls(value: float | None) -> str:
    if value is None:
        return "never"
    return f"{value / 1e6:,.2f}M" if value >= 1e6 else f"{value:,.0f}"


def report_components(out: Output, shared: list[Options], workload: Workload, api_name: str, api_per_call: float,
                      promotions_per_month: float) -> list[dict]:
    results = []
    for option in shared:
        rows, entries = [], []
        for plan in option.plans:
            cost = endpoint_cost(plan, workload, promotions_per_month)
            point = break_even(plan, workload, api_per_call, promotions_per_month)
            zero_hours = sum(level.hours_per_week for level in plan.levels if level.max == 0)
            rows.append([plan.name, f"{cost.instance_hours:,.1f}", f"{zero_hours:g}", f"${cost.monthly:,.2f}",
                         _calls(point.calls_per_month), _calls(point.for_good_calls),
                         "no: needs more than max" if point.for_good_beyond_capacity else "yes"])
            entries.append({"option": plan.name, "instance_hours": round(cost.instance_hours, 3),
                            "hours_at_zero_per_week": round(zero_hours, 3), "monthly": round(cost.monthly, 2),
                            "break_even_calls_per_month": round(point.calls_per_month) if point.calls_per_month
                            else None, "cheaper_for_good_from": round(point.for_good_calls) if point.for_good_calls
                            else None, "beyond_capacity": point.for_good_beyond_capacity})
        out.table(f"{option.endpoint}: {option.adapters} adapter(s), per month at {workload.calls_per_month:,.0f} "
                  f"calls (all adapters together)", ["option", "instance-h/month", "hours at zero/week", "total",
                                                     f"break-even vs {api_name}", "cheaper for good from", "within max instances"], rows)
        moves = " -> ".join(f"{_calls(e['break_even_calls_per_month'])} ({e['option'].split(': ', 1)[1]})"
                            for e in entries)
        out.event("break-even-moves", f"{option.endpoint}: break-even against {api_name} moves {moves}",
                  endpoint=option.endpoint, options=entries)
        if option.shared_to_zero is not None:
            activity = option.activity
            out.event("cold-starts", f"{option.endpoint}: at zero {activity.zero_hours:g} h a week; after each of "
                      f"{activity.periods_per_week:g} wake-up(s) a week the first requests fail for minutes while an "
                      "instance starts and the model loads (clients fall back meanwhile)",
                      endpoint=option.endpoint, hours_at_zero_per_week=round(activity.zero_hours, 3),
                      cold_starts_per_month=round(activity.periods_per_week * WEEKS_PER_MONTH, 1))
        results.append({"endpoint": option.endpoint, "adapters": option.adapters,
                        "active_hours_per_week": option.activity.hours_per_week,
                        "active_periods_per_week": option.activity.periods_per_week, "options": entries})
    return results
