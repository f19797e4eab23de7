"""One evaluation run: the dataset through the endpoint (and the baseline), scored into a report.

The report is plain JSON (fields in docs/evaluation.md); `report.write_outputs` turns it into
report.json, summary.md and confusion.png.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from scripts.evaluation import metrics as m
from scripts.evaluation.answers import Generation, ServingFormat, approx_tokens, parse_label
from scripts.evaluation.dataset import Dataset
from scripts.evaluation.runner import RetryPolicy, RunResult, run_calls
from scripts.evaluation.verdict import threshold_checks
from scripts.lib.output import Output
from config.environment import Endpoint, Environment
from config.evaluation import Evaluation
from config.pin import Pin

REPORT_VERSION = 2  # 2: prompt.route and prompt.chat_template, tokens per call, refusals
ANSWER_CHARS = 200  # raw answers are kept this long in the report
Call = Callable[[str], Generation]


@dataclass(frozen=True)
class Target:
    kind: str  # "endpoint" | "baseline"
    label: str  # what the progress bar and the report call it
    call: Call


@dataclass(frozen=True)
class Plan:
    environment: Environment
    endpoint_key: str
    endpoint: Endpoint
    evaluation: Evaluation
    pin: Pin
    version_source: str  # "config" | "--version"
    dataset: Dataset
    dataset_shown: str
    concurrency: int
    rate_limit: float | None
    serving: ServingFormat | None = None  # how the endpoint is asked (route, template)


def run_target(plan: Plan, target: Target, out: Output, retry: RetryPolicy) -> RunResult[Generation]:
    prompts = [plan.evaluation.prompt(e.text) for e in plan.dataset.examples]
    with out.progress(f"{target.kind} {target.label}", total=len(prompts)) as ticker:
        return run_calls(prompts, target.call, concurrency=plan.concurrency, rate_limit=plan.rate_limit,
                         retry=retry, on_done=ticker.advance)


def score(plan: Plan, run: RunResult[Generation], prompt_tokens_of: Callable[[str], int]) -> dict:
    """Per-example records, metrics, latency and tokens of one target's run (done examples only)."""
    labels = plan.evaluation.labels
    records, outcomes, latencies = [], [], []
    tokens = {"prompt": 0, "completion": 0, "prompt_reported": 0, "completion_reported": 0, "answers": 0,
              "refusals": 0}
    for example, result in zip(plan.dataset.examples, run.results):
        if result is None:
            continue
        record = {"line": example.line, "id": example.id, "text": example.text, "expected": example.intent,
                  "answer": None, "predicted": None, "status": "error", "latency_ms": None,
                  "retries": result.retries, "error": result.error}
        if result.ok:
            generation = result.value
            predicted = parse_label(generation.text, labels) if generation.refusal is None else None
            shown = generation.text if generation.refusal is None else f"(refusal) {generation.refusal}"
            record.update(answer=shown[:ANSWER_CHARS], predicted=predicted,
                          status="ok" if predicted else "invalid", latency_ms=round(result.latency_ms, 1))
            if generation.refusal is not None:
                record["refusal"] = True
                tokens["refusals"] += 1
            latencies.append(result.latency_ms)
            tokens["answers"] += 1
            if generation.prompt_tokens is not None:
                tokens["prompt"] += generation.prompt_tokens
                tokens["prompt_reported"] += 1
            else:
                tokens["prompt"] += prompt_tokens_of(plan.evaluation.prompt(example.text))
            if generation.completion_tokens is not None:
                tokens["completion"] += generation.completion_tokens
                tokens["completion_reported"] += 1
            else:
                tokens["completion"] += approx_tokens(generation.text)
        records.append(record)
        outcomes.append(m.Outcome(example.intent, record["predicted"], record["status"]))
    return {
        "records": records,
        "outcomes": outcomes,
        "metrics": m.classification(outcomes, labels),
        "confusion_matrix": m.confusion(outcomes, labels),
        "latency_ms": m.latency_summary(latencies),
        "tokens": _tokens_summary(tokens),
        "run": {"requested": len(plan.dataset.examples), "completed": run.done, "interrupted": run.interrupted,
                "elapsed_s": round(run.elapsed_s, 3), "retries": run.retries, "throttled": run.throttled,
                "requests_per_s": round(run.done / run.elapsed_s, 2) if run.elapsed_s > 0 else None},
    }


def _tokens_summary(t: dict) -> dict:
    def source(reported: int) -> str:
        if t["answers"] and reported == t["answers"]:
            return "reported"
        return "approximate" if reported == 0 else "partly approximate"

    answers = t["answers"]
    summary = {"prompt": t["prompt"], "completion": t["completion"], "answers": answers,
               "prompt_per_call": round(t["prompt"] / answers, 1) if answers else None,
               "completion_per_call": round(t["completion"] / answers, 1) if answers else None,
               "prompt_source": source(t["prompt_reported"]), "completion_source": source(t["completion_reported"]),
               "refusals": t["refusals"]}
    if summary["prompt_source"] != "reported" or summary["completion_source"] != "reported":
        summary["note"] = ("approximate counts are characters / 4 of the text sent or received (on the chat route "
                           "without the template's own tokens); containers report them in chat `usage` and in "
                           "`details` (generated_tokens, prefill), APIs in `usage`")
    return summary


def build_report(plan: Plan, endpoint_score: dict, baseline: tuple[str, dict] | None,
                 interrupted: bool) -> dict:
    env, pin, evaluation = plan.environment, plan.pin, plan.evaluation
    partial = interrupted or endpoint_score["run"]["completed"] < endpoint_score["run"]["requested"]
    report = {
        "report_version": REPORT_VERSION,
        "kind": "intent-evaluation",
        "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "partial": partial,
        "environment": env.name,
        "endpoint": plan.endpoint_key,
        "endpoint_name": env.endpoint_name(plan.endpoint_key),
        "region": env.region,
        "model": pin.model,
        "version": pin.version,
        "version_source": plan.version_source,
        "manifest_sha256": pin.manifest_sha256,
        "framework": pin.container.framework.value,
        "dataset": {"path": plan.dataset_shown, "sha256": plan.dataset.sha256,
                    "examples": len(plan.dataset.examples), "intents": plan.dataset.intents},
        "prompt": {"template_sha256": hashlib.sha256(evaluation.prompt_template.encode()).hexdigest(),
                   **prompt_route(plan), "labels": evaluation.labels, "max_new_tokens": evaluation.max_new_tokens},
        "thresholds": evaluation.thresholds.model_dump(mode="json"),
        "run": {**endpoint_score["run"], "concurrency": plan.concurrency, "rate_limit_per_s": plan.rate_limit},
        "metrics": endpoint_score["metrics"],
        "latency_ms": endpoint_score["latency_ms"],
        "tokens": endpoint_score["tokens"],
        "confusion_matrix": endpoint_score["confusion_matrix"],
        "baseline": None,
        "examples": endpoint_score["records"],
    }
    if baseline is not None:
        name, base = baseline
        partial = partial or base["run"]["completed"] < base["run"]["requested"]
        report["partial"] = partial
        report["baseline"] = _compare(name, endpoint_score, base)
    checks = threshold_checks(report, evaluation.thresholds)
    passed = all(c["passed"] for c in checks) and not partial
    report.update(checks=checks, passed=passed, verdict="partial" if partial else ("pass" if passed else "fail"))
    return report


def _compare(name: str, endpoint: dict, base: dict) -> dict:
    ours = {r["line"]: r for r in endpoint["records"]}
    theirs = {r["line"]: r for r in base["records"]}
    pairs, disagreements = [], []
    for line in sorted(set(ours) & set(theirs)):
        a, b = ours[line], theirs[line]
        if a["status"] == "error" or b["status"] == "error":
            continue
        pairs.append((a["predicted"], b["predicted"]))
        if a["predicted"] != b["predicted"]:
            disagreements.append({"line": line, "text": a["text"], "expected": a["expected"],
                                  "endpoint": a["predicted"] or m.INVALID, "baseline": b["predicted"] or m.INVALID,
                                  "endpoint_answer": a["answer"], "baseline_answer": b["answer"],
                                  "right": ("endpoint" if a["predicted"] == a["expected"] else
                                            "baseline" if b["predicted"] == a["expected"] else "neither")})
    agreement = m.agreement(pairs)
    return {
        "model": name,
        "run": base["run"],
        "metrics": base["metrics"],
        "latency_ms": base["latency_ms"],
        "tokens": base["tokens"],
        "agreement": agreement["agreement"],
        "agreement_counts": agreement,
        "accuracy_difference": round(endpoint["metrics"]["accuracy"] - base["metrics"]["accuracy"], 4),
        "disagreements": disagreements,
        "examples": base["records"],
    }


def prompt_route(plan: Plan) -> dict:
    """How the prompt reached the model: the route and whose chat template rendered it."""
    from scripts.evaluation.chat_template import TEMPLATE_FILE

    serving = plan.serving or ServingFormat.of(plan.pin)
    pinned = next((f for f in plan.pin.weights.files if f.path == TEMPLATE_FILE), None)
    template = {"file": TEMPLATE_FILE, "sha256": pinned.sha256 if pinned else None,
                "applied_by": "container" if serving.route.value == "chat" else "evaluate"}
    if serving.template is not None:
        template["read_from"] = serving.template.origin
    return {"route": serving.route.value, "chat_template": template}


def endpoint_prompt_tokens(serving: ServingFormat) -> Callable[[str], int]:
    """Characters / 4 of what the model reads, for answers that report no prompt tokens."""
    if serving.template is not None:
        return lambda prompt: approx_tokens(serving.prompt_text(prompt))
    return approx_tokens
