"""What the move off the API costs while both run, next to the steady state.

A migration in the seed's phases: weeks of shadow (the API answers every call and the endpoint
gets a copy of each: both bills at full volume), then weeks of canary (`canary_share` of calls
answered by the endpoint, the rest still by the API; the endpoint's fleet runs at least its
minimum whatever its share), then the steady state (the endpoint alone). Weeks are 168 h, a month
730 h (cost_model.WEEKS_PER_MONTH). A shadow *variant* (a second version on the endpoint) is
another matter: `cost` warns about it separately.

With the application client (client/pinned_llama_client), the phases are its routing modes: in
`shadow` the endpoint sees only `shadow_sample` of the calls (the routing's shadow_sample_percent);
in `canary` and in the steady state (`llama`), `fallback_rate` of the calls routed to Llama are
answered by the API after all (a failed or invalid Llama answer, an open circuit), each billed as
one API call: the steady state is the endpoint plus those.
"""

from __future__ import annotations

from dataclasses import dataclass

from scripts.costing.cost_model import WEEKS_PER_MONTH, Plan, Workload, endpoint_cost


@dataclass(frozen=True)
class Phase:
    name: str
    weeks: float
    api: float  # USD over the phase
    endpoint: float

    @property
    def total(self) -> float:
        return self.api + self.endpoint


@dataclass(frozen=True)
class Migration:
    phases: list[Phase]
    steady_weekly: float  # the endpoint, and the API for the fallbacks, per week
    api_weekly: float  # staying on the API, per week
    fallback_weekly: float = 0.0  # of steady_weekly: the API calls that answer fallbacks

    @property
    def weeks(self) -> float:
        return sum(p.weeks for p in self.phases)

    @property
    def total(self) -> float:
        return sum(p.total for p in self.phases)

    @property
    def extra_over_steady(self) -> float:
        return self.total - self.steady_weekly * self.weeks


def migration(plan: Plan, workload: Workload, api_per_call: float, promotions_per_month: float,
              shadow_weeks: float, canary_weeks: float, canary_share: float, shadow_sample: float = 1.0,
              fallback_rate: float = 0.0) -> Migration:
    def endpoint_weekly(share: float) -> float:
        return endpoint_cost(plan, workload.with_calls(workload.calls_per_month * share),
                             promotions_per_month).monthly / WEEKS_PER_MONTH

    full, partial, sampled = endpoint_weekly(1.0), endpoint_weekly(canary_share), endpoint_weekly(shadow_sample)
    api = workload.calls_per_month * api_per_call / WEEKS_PER_MONTH
    shadow_name = "shadow" if shadow_sample >= 1 else f"shadow ({shadow_sample:.0%} sampled)"
    phases = [Phase(shadow_name, shadow_weeks, api * shadow_weeks, sampled * shadow_weeks),
              Phase(f"canary ({canary_share:.0%} on the endpoint)", canary_weeks,
                    api * (1 - canary_share * (1 - fallback_rate)) * canary_weeks, partial * canary_weeks)]
    fallbacks = api * fallback_rate
    return Migration([p for p in phases if p.weeks > 0], full + fallbacks, api, fallbacks)
