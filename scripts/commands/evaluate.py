"""`evaluate`: run a labeled dataset through an endpoint (and a hosted baseline) and write the report.

Thin: the work is in scripts/evaluation/ (dataset, clients, runner, core, report).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import click

from scripts.lib import interrupts
from scripts.lib.errors import CheckFailed, Exit, UserError
from scripts.lib.output import Output
from scripts.lib.repo import project, repo_root

if TYPE_CHECKING:  # the command imports its work lazily: `--help` stays fast
    from config.components import AdapterComponent, BaseComponent
    from config.environment import Endpoint, Environment
    from config.pin import Pin
    from config.project import Project
    from scripts.evaluation.answers import Generation
    from scripts.evaluation.components import ComponentTarget
    from scripts.evaluation.runner import RunResult
    from scripts.evaluation.scoring import Plan

HELP = """Evaluate an endpoint on a labeled intent dataset; optionally compare with a hosted baseline.

\b
Each line of --dataset is {"text": ..., "intent": ...}; every line is checked
before anything is sent. The prompt template, the label set, max_new_tokens
and the thresholds come from the endpoint's `evaluation` block in
environments/<env>.yaml. Each text goes through InvokeEndpoint the way an
application would ask the pinned container: its chat route ({"messages": ...},
LMI >= 0.27, TGI >= 2.4; the container applies the pinned weights' chat
template), else its generate route with the prompt rendered here from the
pinned tokenizer_config.json (read from the weights bucket, or --chat-template,
checked against the pin's SHA-256); greedy decoding. The answer's first line is
normalized (case, whitespace, punctuation, an 'Intent:' prefix) and must be
one of the labels, else it counts as invalid. With --baseline the same
prompts go to an OpenAI-compatible chat completions API (OPENAI_BASE_URL,
OPENAI_API_KEY) and the report adds agreement and every disagreement.

\b
Written to --out (default reports/<model>/<version>/<env>-<endpoint>-<UTC time>/):
report.json (the evidence `approve` takes), summary.md, confusion.png.
Throttling (SageMaker's, and the container's own overload that SageMaker
wraps as ModelError) and 5xx are retried with backoff. Ctrl-C (or SIGTERM)
stops sending, waits for requests in flight (a second one stops waiting) and
writes a report marked partial.

\b
Exit codes: 0 thresholds met, 1 thresholds not met (report written),
2 invalid input (nothing sent), 3 AWS error, 130 interrupted (partial report written).

\b
Example:
  python -m scripts evaluate --env dev --endpoint intent-3b \\
      --dataset datasets/intents/test.jsonl --baseline openai:gpt-4o-mini --concurrency 8
  python -m scripts evaluate --env dev --endpoint intents-lora --component orders \\
      --dataset datasets/intents/orders-test.jsonl
"""


@click.command("evaluate", help=HELP)
@click.option("--env", "env_name", required=True, help="Environment, e.g. dev.")
@click.option("--endpoint", "endpoint_key", required=True, help="Endpoint key in the environment, e.g. intent-3b.")
@click.option("--component", "component_id", default=None,
              help="On a component endpoint: the component to ask (base, or an adapter component's id).")
@click.option("--version", "version", default=None,
              help="The version the endpoint (or the adapter component) serves (default: the configured one).")
@click.option("--dataset", "dataset_path", required=True, type=click.Path(path_type=Path),
              help="JSONL file of {\"text\", \"intent\"} lines.")
@click.option("--baseline", default=None, metavar="openai:MODEL", help="Also ask this model, e.g. openai:gpt-4o-mini.")
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 256),
              help="Requests in flight at once.")
@click.option("--rate-limit", "rate_limit", default=None, metavar="R/s",
              help="At most R requests per second (e.g. 20/s, 600/min), for the endpoint and the baseline each.")
@click.option("--endpoint-url", default=None, help="SageMaker runtime URL (a local fake, a VPC endpoint).")
@click.option("--chat-template", "chat_template", default=None, type=click.Path(path_type=Path, dir_okay=False),
              help="The pinned snapshot's tokenizer_config.json, for a container without a chat route "
                   "(default: read it from the weights bucket).")
@click.option("--out", "out_dir", default=None, type=click.Path(path_type=Path, file_okay=False),
              help="Directory for report.json, summary.md, confusion.png.")
@click.option("--json", "json_mode", is_flag=True, default=None, help="JSON lines output.")
def command(env_name: str, endpoint_key: str, component_id: str | None, version: str | None, dataset_path: Path,
            baseline: str | None,
            concurrency: int, rate_limit: str | None, endpoint_url: str | None, chat_template: Path | None,
            out_dir: Path | None, json_mode: bool | None) -> None:
    from scripts.evaluation.chat_template import serving_for
    from scripts.evaluation.clients import BaselineSpec, OpenAIChat, SageMakerEndpoint
    from scripts.evaluation.dataset import load_dataset
    from scripts.evaluation.report import write_outputs
    from scripts.evaluation.scoring import Plan

    out = Output(json_mode)
    per_second = parse_rate(rate_limit)
    spec = BaselineSpec.parse(baseline) if baseline else None
    loaded = project(env_name)
    env = loaded.environments[env_name]
    chosen = _choose(loaded, env, endpoint_key, component_id, version, out)
    endpoint, component = chosen.endpoint, chosen.component
    root = repo_root()
    dataset_shown = _shown(dataset_path, root)
    dataset = load_dataset(dataset_path, endpoint.evaluation.labels, dataset_shown)
    baseline_target = None if spec is None else (spec.label, OpenAIChat(spec.model, endpoint.evaluation.max_new_tokens))
    serving = serving_for(env, chosen.pin, chat_template, out)
    plan = Plan(environment=env, endpoint_key=endpoint_key, endpoint=endpoint, evaluation=endpoint.evaluation,
                pin=chosen.pin, version_source=chosen.version_source, dataset=dataset, dataset_shown=dataset_shown,
                concurrency=concurrency, rate_limit=per_second, serving=serving)
    out.event("dataset", f"{dataset_shown}: {len(dataset.examples)} examples, {len(dataset.intents)} intents "
              f"(sha256 {dataset.sha256[:12]}…)", examples=len(dataset.examples), sha256=dataset.sha256)

    name = env.endpoint_name(endpoint_key)
    invoke = SageMakerEndpoint(name, env.region, serving, endpoint.evaluation.max_new_tokens, concurrency,
                               endpoint_url, component=component.component_name if component else None)
    # A cancelled CI job sends SIGINT or SIGTERM (GitHub Actions: SIGINT, then SIGTERM, then SIGKILL):
    # either one works as Ctrl-C. The first stops sending, the second stops waiting for the requests
    # in flight; from the end of the runs on, signals are held so that the report is written whole.
    with interrupts.as_exceptions(raising=2) as signals:
        runs = _ask(plan, name, invoke, baseline_target, out)
        with signals.held():
            report = _report(plan, runs)
            stamp = datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')
            if component is not None:
                from scripts.evaluation import components

                report.update(components.report_fields(component))
                directory = out_dir or components.default_directory(root, component, env_name, stamp)
            else:
                directory = out_dir or (root / "reports" / chosen.pin.model / chosen.pin.version /
                                        f"{env_name}-{endpoint_key}-{stamp}")
            written = write_outputs(report, directory)
            _print(out, report, written, root)
    if runs.baseline_error:
        raise UserError(f"{runs.baseline_error} (the endpoint's report is written to {_shown(directory, root)})")
    if report["verdict"] == "partial":
        out.event("partial", f"interrupted: partial report ({report['run']['completed']} of "
                  f"{report['run']['requested']}) written to {_shown(directory, root)}", directory=str(directory))
        raise KeyboardInterrupt
    if report["verdict"] == "fail":
        from scripts.evaluation.verdict import failed

        raise CheckFailed(f"evaluate: thresholds not met: {'; '.join(failed(report['checks']))} "
                          f"(report: {_shown(written['report'], root)})")


@dataclass(frozen=True)
class Chosen:
    """What --endpoint, --component and --version name: the configuration evaluated, the pin whose
    weights it serves, and where that version came from ("config", "--version" or the component's)."""
    endpoint: Endpoint | BaseComponent | AdapterComponent
    component: ComponentTarget | None
    version_source: str
    pin: Pin


def _choose(loaded: Project, env: Environment, endpoint_key: str, component_id: str | None, version: str | None,
            out: Output) -> Chosen:
    env_name = env.name
    component = None
    if component_id is not None:
        from scripts.evaluation import components

        component = components.resolve(loaded, env, endpoint_key, component_id, version)
    endpoint = component.config if component else env.endpoints.get(endpoint_key)
    if endpoint is None:
        raise UserError(f"--endpoint: no endpoint '{endpoint_key}' in environment {env_name}; "
                        f"fix: use one of: {', '.join(sorted(env.endpoints))}")
    if endpoint.evaluation is None:
        part = "base" if component_id == "base" else f"adapters.{component_id}"
        where = f"component_endpoints.{endpoint_key}.{part}" if component else f"endpoints.{endpoint_key}"
        raise UserError(f"environments/{env_name}.yaml: {where}.evaluation: missing; fix: add an "
                        "evaluation block (prompt_template, labels, thresholds; see docs/evaluation.md)")
    if component is not None:
        if component.version_source != "config":
            out.event("warning", f"{env_name}/{endpoint_key} {component_id} is configured to serve "
                      f"{endpoint.version}; reporting the answers as {version}: make sure that is what it serves")
        return Chosen(endpoint, component, component.version_source, component.base_pin)
    if version is None or version == endpoint.version:
        return Chosen(endpoint, None, "config", loaded.pins[(endpoint.model, endpoint.version)])
    if (endpoint.model, version) not in loaded.pins:
        raise UserError(f"--version: no pin model_artifacts/{endpoint.model}/{version}.yaml; fix: use one of: "
                        f"{', '.join(loaded.versions_of(endpoint.model))}")
    out.event("warning", f"{env_name}/{endpoint_key} is configured to serve {endpoint.version}; reporting "
              f"the answers as {version}: make sure that is what the endpoint serves", version=version)
    return Chosen(endpoint, None, "--version", loaded.pins[(endpoint.model, version)])


@dataclass
class Runs:
    """The endpoint's run, the baseline's (its label, run, or the fatal error that ended it) and whether
    a signal cut them short."""
    endpoint: RunResult[Generation]
    interrupted: bool
    baseline_label: str | None = None
    baseline: RunResult[Generation] | None = None
    baseline_error: str | None = None


def _ask(plan: Plan, name: str, invoke, baseline: tuple | None, out: Output) -> Runs:
    """Ask the endpoint, then the baseline (if any, and if no signal came)."""
    from scripts.evaluation.runner import Fatal, RetryPolicy
    from scripts.evaluation.scoring import Target, run_target

    retry = RetryPolicy()
    try:
        endpoint_run = run_target(plan, Target("endpoint", name, invoke), out, retry)
    except Fatal as exc:
        raise UserError(str(exc), Exit.AWS_ERROR) from None
    runs = Runs(endpoint_run, endpoint_run.interrupted)
    if baseline is None or runs.interrupted:
        return runs
    runs.baseline_label = baseline[0]
    try:
        runs.baseline = run_target(plan, Target("baseline", *baseline), out, retry)
        runs.interrupted = runs.baseline.interrupted
    except Fatal as exc:
        runs.baseline_error = str(exc)
    except KeyboardInterrupt:
        # the signal came outside the runner's wait (as the baseline's run started or ended): the
        # endpoint's answers are still reported
        runs.interrupted = True
    return runs


def _report(plan: Plan, runs: Runs) -> dict:
    from scripts.evaluation.answers import approx_tokens
    from scripts.evaluation.scoring import build_report, endpoint_prompt_tokens, score

    endpoint_score = score(plan, runs.endpoint, endpoint_prompt_tokens(plan.serving))
    base = (runs.baseline_label, score(plan, runs.baseline, approx_tokens)) if runs.baseline is not None else None
    report = build_report(plan, endpoint_score, base, runs.interrupted)
    if runs.baseline_error:
        report["baseline_error"] = runs.baseline_error
    return report


def parse_rate(value: str | None) -> float | None:
    if value is None:
        return None
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(?:/\s*(s|sec|second|m|min|minute))?\s*", value)
    rate = float(match[1]) if match else 0.0
    if not match or rate <= 0:
        raise UserError(f"--rate-limit: '{value}' is not a positive rate; fix: write e.g. 20/s or 600/min")
    return rate / 60 if (match[2] or "s").startswith("m") else rate


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def _print(out: Output, report: dict, written: dict, root: Path) -> None:
    metrics, latency = report["metrics"], report["latency_ms"]
    rows = [["accuracy", metrics["accuracy"]], ["macro_f1", metrics["macro_f1"]],
            ["invalid", f"{metrics['invalid']} ({metrics['invalid_rate']})"],
            ["errors", f"{metrics['errors']} ({metrics['error_rate']})"],
            ["latency p50/p95/p99 ms", f"{latency['p50']} / {latency['p95']} / {latency['p99']}"],
            ["tokens per call prompt/completion", f"{report['tokens']['prompt_per_call']} / "
                                                  f"{report['tokens']['completion_per_call']} "
                                                  f"({report['tokens']['prompt_source']} / "
                                                  f"{report['tokens']['completion_source']})"],
            ["route", f"{report['prompt']['route']} (chat template applied by "
                      f"{report['prompt']['chat_template']['applied_by']})"],
            ["requests/s", report["run"]["requests_per_s"]],
            ["retries (throttled)", f"{report['run']['retries']} ({report['run']['throttled']})"]]
    if report["baseline"]:
        b = report["baseline"]
        rows += [[f"baseline {b['model']} accuracy", b["metrics"]["accuracy"]], ["agreement", b["agreement"]],
                 ["disagreements", len(b["disagreements"])]]
    out.table(f"{report['model']} {report['version']} on {report['endpoint_name']}", ["metric", "value"], rows)
    out.table("Checks", ["check", "value", "threshold", "result"],
              [[c["name"], c["value"], f"{c['op']} {c['threshold']}", "ok" if c["passed"] else "FAILED"]
               for c in report["checks"]])
    files = {k: (_shown(v, root) if isinstance(v, Path) else v) for k, v in written.items()}
    out.event("written", f"verdict {report['verdict']}; wrote " + ", ".join(str(v) for v in files.values()),
              **files)
    out.result({"verdict": report["verdict"], "passed": report["passed"], "partial": report["partial"],
                "model": report["model"], "version": report["version"], "accuracy": metrics["accuracy"],
                "macro_f1": metrics["macro_f1"], "invalid": metrics["invalid"], "errors": metrics["errors"],
                "latency_ms": latency, "agreement": report["baseline"]["agreement"] if report["baseline"] else None,
                "files": files})
