"""The cost chart: monthly cost against monthly calls, self-hosted endpoints vs the API, break-even marked.

Both axes are logarithmic: volumes from thousands to tens of millions of calls and costs from
dollars to thousands sit on one chart, the API's per-call price is a straight line, and the
seed's break-even range (0.5-1M calls/month, shaded) is as wide as any other factor of two.
Break-evens are numbered markers explained in a box (one line each, so labels cannot overlap,
and markers at the same point get their numbers side by side); one that lies beyond what the
configured maximum fleet can serve says so (and is an X), and each fleet's capacity and the
given volume are vertical lines named in the legend, not labels on the plot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from scripts.costing.cost_model import BreakEven, Plan, Workload, capacity_calls_per_month, endpoint_cost

SEED_RANGE = (500_000, 1_000_000)  # "Self-hosting typically becomes cost-effective at 500K-1M+ API calls per month"
COLOURS = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf"]


@dataclass(frozen=True)
class Series:
    plan: Plan
    break_even: BreakEven


def _calls_label(value: float, _position: object = None) -> str:
    if value >= 1e6:
        return f"{value / 1e6:g}M"
    if value >= 1e3:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def _calls_short(value: float) -> str:
    return f"{value / 1e6:.2f}M" if value >= 1e6 else f"{value:,.0f}"


def _dollars(value: float, _position: object = None) -> str:
    return f"${value:,.0f}" if value >= 10 else f"${value:,.2f}"


def x_range(series: list[Series], workload: Workload) -> tuple[float, float]:
    points = [workload.calls_per_month, *SEED_RANGE]
    for item in series:
        points += [c for c in (item.break_even.calls_per_month, item.break_even.for_good_calls) if c]
        capacity = capacity_calls_per_month(item.plan, workload)
        if math.isfinite(capacity):
            points.append(capacity)
    points = [p for p in points if p > 0]
    low = 10 ** math.floor(math.log10(min(points) / 3))
    high = 10 ** math.ceil(math.log10(max(points) * 1.5))
    return max(low, 1_000.0), high


def render(path: Path, *, title: str, subtitle: str, series: list[Series], workload: Workload, api_name: str,
           api_per_call: float, promotions_per_month: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    left, right = x_range(series, workload)
    xs = [left * (right / left) ** (i / 800) for i in range(801)]
    figure, axes = plt.subplots(figsize=(11, 7), dpi=120)
    axes.axvspan(*SEED_RANGE, color="orange", alpha=0.15, label="the seed's break-even estimate: 0.5-1M calls/month")
    if api_per_call > 0:
        axes.plot(xs, [x * api_per_call for x in xs], color="#d62728", linewidth=2.2,
                  label=f"{api_name} API (${api_per_call * 1000:.4f} per 1k calls)")
    notes = []
    for i, item in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        capacity = capacity_calls_per_month(item.plan, workload)
        costs = [endpoint_cost(item.plan, workload.with_calls(x), promotions_per_month).monthly for x in xs]
        within = [(x, c) for x, c in zip(xs, costs) if x <= capacity]
        beyond = [(x, c) for x, c in zip(xs, costs) if x >= capacity]
        label = f"{item.plan.name}: {item.plan.instance_type}, {item.plan.min_instances}-{item.plan.max_instances} instances"
        if within:  # later series thinner, so one that runs along another still shows
            axes.plot(*zip(*within), color=colour, linewidth=max(1.2, 3.4 - 1.0 * i), drawstyle="steps-post",
                      label=label)
        if len(beyond) > 1:
            axes.plot(*zip(*beyond), color=colour, linewidth=1.5, linestyle=":", drawstyle="steps-post",
                      label=f"{item.plan.name}: beyond its max fleet (cannot serve the peak)")
        if math.isfinite(capacity) and left < capacity < right:
            axes.axvline(capacity, color=colour, linestyle=(0, (1, 3)), linewidth=1.2,
                         label=f"{item.plan.name}: what its max fleet serves at peak, "
                               f"{_calls_short(capacity)} calls/month")
        notes.append(_break_even_note(axes, i, item, colour, capacity))
    if workload.calls_per_month > 0:
        axes.axvline(workload.calls_per_month, color="grey", linestyle="--", linewidth=1,
                     label=f"given volume: {_calls_short(workload.calls_per_month)} calls/month")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlim(left, right)
    axes.xaxis.set_major_formatter(FuncFormatter(_calls_label))
    axes.yaxis.set_major_formatter(FuncFormatter(_dollars))
    axes.set_xlabel("calls per month (log scale)")
    axes.set_ylabel("cost per month, USD (log scale)")
    figure.suptitle(title, fontsize=13, x=0.01, ha="left")
    axes.set_title(subtitle, fontsize=8, color="dimgrey", loc="left", wrap=True)
    axes.grid(True, which="both", alpha=0.25)
    axes.text(0.01, 0.97, "\n".join(notes), transform=axes.transAxes, fontsize=8, va="top", ha="left",
              bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "grey", "alpha": 0.9})
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=8, frameon=False)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _break_even_note(axes, index: int, item: Series, colour: str, capacity: float) -> str:
    point, number = item.break_even, index + 1
    if not point.calls_per_month:
        return f"({number}) {item.plan.name}: no break-even (the API costs nothing per call)"
    axes.scatter([point.calls_per_month], [point.hosted_monthly], s=70, zorder=5, color=colour, edgecolor="black",
                 marker="o" if not point.beyond_capacity else "X")
    # numbers of markers at the same place sit side by side instead of on top of each other
    axes.annotate(str(number), (point.calls_per_month, point.hosted_monthly), textcoords="offset points",
                  xytext=(6 + 10 * index, 6), fontsize=9, color=colour, fontweight="bold")
    text = (f"({number}) {item.plan.name}: break-even {_calls_short(point.calls_per_month)} calls/month at "
            f"{_dollars(point.hosted_monthly)}/month")
    if point.beyond_capacity:
        text += f": BEYOND its max fleet ({_calls_short(capacity)} calls/month at peak)"
    if point.for_good_calls and point.for_good_calls != point.calls_per_month:
        axes.scatter([point.for_good_calls], [point.for_good_monthly], s=70, zorder=5, color="white",
                     edgecolor=colour, linewidth=2)
        text += f"; cheaper for good from {_calls_short(point.for_good_calls)} (open circle)"
        if point.for_good_beyond_capacity:
            text += ", beyond its max fleet"
    return text
