"""`shadow-report`: agreement between production and shadow answers, from SageMaker data capture.

Thin: reading and pairing the capture files is in scripts/evaluation/capture.py.
"""

from __future__ import annotations

from datetime import datetime, timezone

import click

from config import naming
from scripts.lib.aws import error_code
from scripts.lib.errors import CheckFailed, UserError
from scripts.lib.output import Output
from scripts.lib.repo import project

HELP = """Compare a shadow variant's captured answers with production's.

\b
Reads the data capture JSONL files of both variants of the endpoint
(s3://<capture bucket>/<endpoint>/<endpoint>/{primary,shadow}/yyyy/mm/dd/hh/),
pairs each production record with the shadow's copy of the same request (by
inferenceId, else eventId, else identical request body), parses both answers
(generate or chat format) with the endpoint's evaluation labels (or compares normalized text without
an evaluation block) and reports agreement, invalid answers, records left
unpaired, ModelLatency of each variant from CloudWatch when it has
datapoints, and examples of disagreement.

\b
Exit codes: 0 reported, 1 no paired records to compare, 2 invalid input,
3 AWS error.

\b
Example:
  python -m scripts shadow-report --env dev --endpoint intent-3b --since 2025-03-01T00:00:00Z
"""


@click.command("shadow-report", help=HELP)
@click.option("--env", "env_name", required=True, help="Environment, e.g. dev.")
@click.option("--endpoint", "endpoint_key", required=True, help="Endpoint key in the environment, e.g. intent-3b.")
@click.option("--since", default=None, metavar="ISO",
              help="Only requests at or after this time (default: the last 24 hours), e.g. 2025-03-01T00:00:00Z.")
@click.option("--bucket", default=None, help="Capture bucket (default: the environment's).")
@click.option("--examples", default=10, show_default=True, type=click.IntRange(0, 1000),
              help="Disagreements to show.")
@click.option("--json", "json_mode", is_flag=True, default=None, help="JSON lines output.")
def command(env_name: str, endpoint_key: str, since: str | None, bucket: str | None, examples: int,
            json_mode: bool | None) -> None:
    from botocore.exceptions import ClientError

    from scripts.evaluation import capture as cap
    from scripts.lib.aws import client
    from config.environment import SHADOW_VARIANT_NAME, VARIANT_NAME

    out = Output(json_mode)
    now = datetime.now(timezone.utc)
    start = cap.parse_time(since) if since else cap.default_since(now)
    if start is None:
        raise UserError(f"--since: '{since}' is not an ISO 8601 time; fix: write e.g. 2025-03-01T00:00:00Z")
    start = start.astimezone(timezone.utc)  # capture folders are UTC hours
    env = project(env_name).environments[env_name]
    endpoint = env.endpoints.get(endpoint_key)
    if endpoint is None:
        raise UserError(f"--endpoint: no endpoint '{endpoint_key}' in environment {env_name}; "
                        f"fix: use one of: {', '.join(sorted(env.endpoints))}")
    if endpoint.shadow_version is None:
        out.event("warning", f"{env_name}/{endpoint_key} has no shadow_version configured now; reading what "
                  "was captured while it had one")
    name = env.endpoint_name(endpoint_key)
    bucket = bucket or env.capture_bucket_name
    prefix = naming.capture_prefix(name)
    s3 = client("s3", env.region)
    read = {}
    try:
        for variant in (VARIANT_NAME, SHADOW_VARIANT_NAME):
            read[variant] = cap.read_variant(s3, bucket, prefix, name, variant, start)
    except ClientError as exc:
        if error_code(exc) == "NoSuchBucket":
            raise UserError(f"--bucket: no bucket {bucket}; fix: deploy {naming.artifacts_stack(env_name)}, or give "
                            "--bucket") from None
        raise
    labels = endpoint.evaluation.labels if endpoint.evaluation else None
    result = cap.compare(read[VARIANT_NAME][0], read[SHADOW_VARIANT_NAME][0], labels, examples)
    cloudwatch = client("cloudwatch", env.region)
    latency = {v: cap.variant_latency(cloudwatch, name, v, start, now) for v in (VARIANT_NAME, SHADOW_VARIANT_NAME)}
    report = {"endpoint_name": name, "bucket": bucket, "prefix": prefix, "since": start.isoformat(),
              "versions": {VARIANT_NAME: endpoint.version, SHADOW_VARIANT_NAME: endpoint.shadow_version},
              "records": {v: len(read[v][0]) for v in read}, "files": {v: read[v][1] for v in read},
              "unparsable_lines": {v: read[v][2] for v in read}, **result, "latency_ms": latency}
    _print(out, report)
    out.result(report)
    if not report["matched"]:
        raise CheckFailed(f"shadow-report: no production record has a shadow copy since {start.isoformat()} "
                          f"({report['records'][VARIANT_NAME]} production, {report['records'][SHADOW_VARIANT_NAME]} "
                          "shadow record(s)); is shadow_version deployed, with data_capture_percent above 0?")


def _print(out: Output, r: dict) -> None:
    if out.json:
        return  # the result line carries everything
    agreement = "n/a" if r["agreement"] is None else f"{r['agreement'] * 100:.1f}%"
    rows = [["records production / shadow", f"{r['records']['primary']} / {r['records']['shadow']}"],
            ["paired", f"{r['matched']} ({', '.join(f'{k} {v}' for k, v in r['matched_by'].items() if v)})"],
            ["unpaired production / shadow", f"{r['production_only']} / {r['shadow_only']}"],
            [f"agreement ({r['compared_as']})", f"{agreement} of {r['both_valid']} ({r['disagree']} disagree)"],
            ["invalid answers production / shadow", f"{r['invalid']['production']} / {r['invalid']['shadow']}"],
            ["unreadable answers production / shadow (left out)",
             f"{r['unreadable']['production']} / {r['unreadable']['shadow']}"],
            ["malformed capture lines production / shadow (skipped)",
             f"{r['unparsable_lines']['primary']} / {r['unparsable_lines']['shadow']}"]]
    for variant, latency in r["latency_ms"].items():
        rows.append([f"ModelLatency {variant}", "no CloudWatch datapoints" if latency is None else
                     f"avg {latency['average_ms']} ms, max {latency['max_ms']} ms ({latency['samples']} samples)"])
    versions = r["versions"]
    out.table(f"{r['endpoint_name']}: {versions['primary']} (production) vs {versions['shadow']} (shadow) "
              f"since {r['since']}", ["", "value"], rows)
    if r["disagreements"]:
        out.table("Disagreements", ["time", "input", "production", "shadow"],
                  [[d["inference_time"], d["input"], d["production"], d["shadow"]] for d in r["disagreements"]])
