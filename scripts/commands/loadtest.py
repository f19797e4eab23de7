"""`loadtest`: ramp concurrency against an endpoint, find the knee, recommend the autoscaling target."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import click

from scripts.lib.flags import Number, required
from scripts.costing.loadtest import (KNEE_EFFICIENCY, KNEE_LATENCY_RISE, find_knee, knee_estimate, ramp, recommend,
                                      run_step, saturated_step)
from scripts.lib.aws import data_plane_client, describe_error, error_code
from scripts.lib.errors import Exit, UserError
from scripts.lib.output import Output
from scripts.lib.repo import project

def request_bodies(env, endpoint, pin, prompt: str | None, dataset: Path | None, max_new_tokens: int | None,
                   chat_template: Path | None, out: Output) -> list[bytes]:
    """What evaluate would send: the endpoint's evaluation prompt over --dataset texts (else its
    smoke_test texts), in the pinned container's format; --prompt sends one user message instead."""
    from scripts.evaluation.chat_template import serving_for

    evaluation = endpoint.evaluation
    if prompt is not None:
        prompts = [prompt]
    elif evaluation is None:
        raise UserError("--prompt: missing, and the endpoint has no evaluation block to take the prompt from; fix: "
                        "give --prompt, or add an evaluation block (docs/evaluation.md)")
    elif dataset is not None:
        from scripts.evaluation.dataset import load_dataset

        prompts = [evaluation.prompt(e.text) for e in load_dataset(dataset, evaluation.labels, str(dataset)).examples]
    elif endpoint.smoke_test:
        prompts = [evaluation.prompt(case.text) for case in endpoint.smoke_test]
    else:
        raise UserError("--dataset: missing, and the endpoint has no smoke_test texts; fix: give --dataset "
                        "datasets/intents/test.jsonl (or --prompt)")
    tokens = max_new_tokens or (evaluation.max_new_tokens if evaluation else 16)
    serving = serving_for(env, pin, chat_template, out)
    return [json.dumps(serving.body(p, tokens)).encode() for p in prompts]


@click.command("loadtest")
@click.option("--env", "env_name", default=None, help="Environment (environments/<env>.yaml).")
@click.option("--endpoint", "endpoint_key", default=None, help="Endpoint key in the environment, e.g. intent-3b.")
@click.option("--max-concurrency", type=Number(int, low=1, high=1024, example="32"), default=32, show_default=True,
              help="Highest concurrency of the ramp 1, 2, 4, ...")
@click.option("--duration", type=Number(float, low=0, low_open=True, high=3600, example="30"), default=30.0,
              show_default=True, help="Seconds per step.")
@click.option("--max-requests", type=Number(int, low=1, example="10000"), default=10_000, show_default=True,
              help="At most this many requests per step.")
@click.option("--endpoint-url", default=None, help="SageMaker runtime URL (default: the region's; a local fake in tests).")
@click.option("--instances", type=Number(int, low=1, high=100, example="1"), default=None,
              help="Instances serving during the test (default: the endpoint's instances.min).")
@click.option("--safety-factor", type=Number(float, low=0, low_open=True, high=1, example="0.7"), default=0.7,
              show_default=True, help="Target = knee x this factor.")
@click.option("--dataset", "dataset_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Send the evaluation prompt over these texts, in turn (default: the endpoint's smoke_test texts).")
@click.option("--prompt", default=None, help="Send this user message instead of the evaluation prompt.")
@click.option("--max-new-tokens", type=Number(int, low=1, high=8192, example="12"), default=None,
              help="Tokens to generate per request (default: the evaluation block's max_new_tokens).")
@click.option("--chat-template", "chat_template", default=None, type=click.Path(path_type=Path, dir_okay=False),
              help="The pinned snapshot's tokenizer_config.json, for a container without a chat route.")
@click.option("--json", "json_mode", is_flag=True, default=None, help="JSON lines output.")
def command(env_name: str | None, endpoint_key: str | None, max_concurrency: int, duration: float, max_requests: int,
            endpoint_url: str | None, instances: int | None, safety_factor: float, dataset_path: Path | None,
            prompt: str | None, max_new_tokens: int | None, chat_template: Path | None, json_mode: bool | None) -> None:
    """Ramp concurrency 1, 2, 4, ... against an endpoint (InvokeEndpoint), report throughput and latency
    percentiles per step, find the knee and recommend the autoscaling target (knee x safety factor).

    Requests are what evaluate sends (the evaluation prompt in the pinned container's format), so
    the latency measured is production's. Every step is bounded by --duration and --max-requests.
    Throttling and model errors are counted, not retried.
    """
    required("--env", env_name, "name the environment, e.g. --env dev")
    required("--endpoint", endpoint_key, "name the endpoint, e.g. --endpoint intent-3b")
    if endpoint_url is not None and not endpoint_url.startswith(("http://", "https://")):
        raise UserError(f"--endpoint-url: '{endpoint_url}' is not an http(s) URL; fix: write e.g. http://127.0.0.1:8080")
    loaded = project(env_name)
    env = loaded.environments[env_name]
    if endpoint_key not in env.endpoints:
        raise UserError(f"--endpoint: '{endpoint_key}' is not an endpoint of {env.name}; fix: use one of: "
                        f"{', '.join(sorted(env.endpoints))}")
    endpoint = env.endpoints[endpoint_key]
    name = env.endpoint_name(endpoint_key)
    out = Output(json_mode)
    bodies = request_bodies(env, endpoint, loaded.pin_for(endpoint), prompt, dataset_path, max_new_tokens,
                            chat_template, out)
    serving = instances or endpoint.instances.min

    client = data_plane_client("sagemaker-runtime", env.region, endpoint_url, pool=max_concurrency)
    turn = itertools.count()

    def invoke() -> None:
        client.invoke_endpoint(EndpointName=name, Body=bodies[next(turn) % len(bodies)],
                               ContentType="application/json", Accept="application/json")["Body"].read()

    try:  # untimed: the client's first call loads its model and connects, which would skew step 1
        invoke()
    except Exception as exc:  # noqa: BLE001 - reported as one line
        raise UserError(f"{name}: the warm-up request failed: {describe_error(exc)}; fix: check the endpoint is "
                        "InService, the region and credentials, or --endpoint-url", Exit.AWS_ERROR) from None
    levels = ramp(max_concurrency)
    out.event("start", f"{name}: ramp {', '.join(map(str, levels))} concurrent, {duration:g} s or {max_requests} "
              f"requests per step, {serving} instance(s) serving", endpoint=name, levels=levels, duration=duration,
              max_requests=max_requests, instances=serving)
    steps = []
    for concurrency in levels:
        if out.json:
            step = run_step(invoke, concurrency, duration, max_requests, error_code)
        else:
            with out.err.status(f"concurrency {concurrency} …") as status:
                step = run_step(invoke, concurrency, duration, max_requests, error_code,
                                on_tick=lambda done, elapsed, c=concurrency: status.update(
                                    f"concurrency {c}: {done} request(s), {elapsed:.1f}/{duration:g} s"))
        steps.append(step)
        errors = ", ".join(f"{k} {v}" for k, v in sorted(step.errors.items())) or "none"
        ms = (lambda v: "-" if v is None else f"{v:.1f} ms")
        out.event("step", f"concurrency {concurrency:>4}: {step.throughput:8.1f} req/s, p50 {ms(step.p50_ms)}, "
                  f"p95 {ms(step.p95_ms)}, p99 {ms(step.p99_ms)}, {step.ok} ok, errors: {errors}", **step.as_dict())
        if step.ok == 0:
            if len(steps) == 1:
                raise UserError(f"{name}: all {step.requests} request(s) failed at concurrency 1 ({errors}); "
                                "fix: check the endpoint is InService, the region/credentials, or --endpoint-url",
                                Exit.AWS_ERROR)
            out.event("stopped", f"every request failed at concurrency {concurrency}: ramp stopped", concurrency=concurrency)
            break
    knee = find_knee(steps)
    result = {"endpoint": name, "instances": serving, "safety_factor": safety_factor,
              "steps": [s.as_dict() for s in steps], "knee": None, "recommendation": None}
    if knee is None:
        out.event("no-knee", f"no knee up to concurrency {steps[-1].concurrency}: throughput kept growing (by at least "
                  f"{KNEE_EFFICIENCY:.0%} of the concurrency increase) or p95 did not rise; rerun with a higher "
                  "--max-concurrency",
                  max_concurrency=steps[-1].concurrency)
    else:
        advice = recommend(knee, serving, safety_factor, endpoint.autoscaling.metric.value)
        saturated = saturated_step(steps)
        estimate = knee_estimate(steps)
        out.event("knee", f"knee at concurrency {knee.concurrency}: {knee.throughput:.1f} req/s, p95 "
                  f"{knee.p95_ms:.1f} ms (saturated at {saturated.concurrency}: throughput grew by less than "
                  f"{KNEE_EFFICIENCY:.0%} of the concurrency increase while p95 rose by more than "
                  f"{KNEE_LATENCY_RISE:.0%}; max throughput x unloaded latency = {estimate:.1f} concurrent)",
                  concurrency=knee.concurrency, throughput_rps=round(knee.throughput, 2),
                  p95_ms=round(knee.p95_ms or 0, 1), saturated_at=saturated.concurrency,
                  estimate=round(estimate, 2))
        out.event("recommendation",
                  f"recommended for environments/{env.name}.yaml endpoints.{endpoint_key}.autoscaling (per instance, "
                  f"{serving} instance(s) measured, safety {safety_factor:g}): metric: {advice.metric}, target: "
                  f"{advice.target:g} (configured: {endpoint.autoscaling.metric.value} {endpoint.autoscaling.target:g}); "
                  f"alternatives: concurrent-requests {advice.concurrent_requests_target:g}, invocations-per-instance "
                  f"{advice.invocations_per_instance_target:g}/min",
                  metric=advice.metric, target=advice.target,
                  concurrent_requests_target=advice.concurrent_requests_target,
                  invocations_per_instance_target=advice.invocations_per_instance_target,
                  configured_metric=endpoint.autoscaling.metric.value, configured_target=endpoint.autoscaling.target)
        result["knee"] = {"concurrency": knee.concurrency, "throughput_rps": round(knee.throughput, 2),
                          "p95_ms": round(knee.p95_ms or 0, 1), "saturated_at": saturated.concurrency,
                          "estimate": round(estimate, 2)}
        result["recommendation"] = {"metric": advice.metric, "target": advice.target,
                                    "concurrent_requests_target": advice.concurrent_requests_target,
                                    "invocations_per_instance_target": advice.invocations_per_instance_target}
    out.result(result)
