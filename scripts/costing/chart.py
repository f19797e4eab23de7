"""The cost chart: monthly cost against monthly calls, self-hosted endpoints vs the API, break-even marked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scripts.costing.cost_model import BreakEven, Plan, Workload, capacity_calls_per_month, endpoint_cost


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
    return f"{value / 1e6:.1f}M" if value >= 1e6 else f"{value:,.0f}"


def _dollars(value: float, _position: object = None) -> str:
    return f"${value:,.0f}"


def render(path: Path, *, title: str, subtitle: str, series: list[Series], workload: Workload, api_name: str,
           api_per_call: float, promotions_per_month: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter
    from matplotlib.transforms import blended_transform_factory

    found = [c for s in series for c in (s.break_even.calls_per_month, s.break_even.for_good_calls) if c]
    right = max([workload.calls_per_month * 1.25, *(c * 1.6 for c in found), 1_000.0])
    xs = [right * i / 600 for i in range(601)]

    figure, axes = plt.subplots(figsize=(10, 6.5), dpi=120)
    axes.plot(xs, [x * api_per_call for x in xs], color="#d62728", linewidth=2.2,
              label=f"{api_name} API (${api_per_call * 1000:.3f} per 1k calls)")
    colours = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf"]
    for i, item in enumerate(series):
        colour = colours[i % len(colours)]
        capacity = capacity_calls_per_month(item.plan, workload)
        costs = [endpoint_cost(item.plan, workload.with_calls(x), promotions_per_month).monthly for x in xs]
        within = [(x, c) for x, c in zip(xs, costs) if x <= capacity]
        beyond = [(x, c) for x, c in zip(xs, costs) if x >= capacity]
        label = (f"{item.plan.name}: {item.plan.instance_type}, {item.plan.min_instances}-{item.plan.max_instances} "
                 f"instances")
        axes.plot(*zip(*within), color=colour, linewidth=2.2, drawstyle="steps-post", label=label)
        if len(beyond) > 1:
            axes.plot(*zip(*beyond), color=colour, linewidth=1.5, linestyle=":", drawstyle="steps-post",
                      label=f"{item.plan.name}: beyond max instances (cannot serve the peak)")
        point = item.break_even
        if point.calls_per_month:
            axes.scatter([point.calls_per_month], [point.hosted_monthly], s=90, zorder=5, color=colour,
                         edgecolor="black")
            text = (f"{item.plan.name}: break-even {_calls_short(point.calls_per_month)} calls/month, "
                    f"{_dollars(point.hosted_monthly)}")
            if point.for_good_calls and point.for_good_calls != point.calls_per_month:
                axes.scatter([point.for_good_calls], [point.for_good_monthly], s=90, zorder=5, color="white",
                             edgecolor=colour, linewidth=2)
                axes.axvspan(point.calls_per_month, point.for_good_calls, color=colour, alpha=0.08)
                text += (f"\nself-hosted cheaper for good from {_calls_short(point.for_good_calls)}"
                         " (open circle; shaded: either, by fleet size)")
            axes.annotate(text, (point.calls_per_month, point.hosted_monthly), textcoords="offset points",
                          xytext=(-330, 60 + 50 * i), fontsize=9,
                          arrowprops={"arrowstyle": "->", "color": colour},
                          bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": colour})
    if workload.calls_per_month > 0:
        axes.axvline(workload.calls_per_month, color="grey", linestyle="--", linewidth=1)
        axes.text(workload.calls_per_month, 0.55, f" given volume\n {_calls_short(workload.calls_per_month)}/month",
                  transform=blended_transform_factory(axes.transData, axes.transAxes), fontsize=8, color="dimgrey")
    axes.set_xlim(0, right)
    axes.set_ylim(0, None)
    axes.xaxis.set_major_formatter(FuncFormatter(_calls_label))
    axes.yaxis.set_major_formatter(FuncFormatter(_dollars))
    axes.set_xlabel("calls per month")
    axes.set_ylabel("cost per month (USD)")
    figure.suptitle(title, fontsize=13, x=0.01, ha="left")
    axes.set_title(subtitle, fontsize=8, color="dimgrey", loc="left", wrap=True)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=8, frameon=False)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
