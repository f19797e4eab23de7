"""`shadow-report`: agreement between production and shadow answers, from SageMaker data capture
(Llama versus Llama) or from the application client's shadow records (the API versus Llama on live
traffic), reported the same way.

Thin: reading and pairing the capture files is in scripts/evaluation/capture.py, the client's records
in scripts/evaluation/client_records.py.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

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
--source client: the application client's shadow mode instead (the API answers,
Llama is asked in the background): its records from the CloudWatch Logs group
the applications send the client's metrics to (default: the endpoint stack's
/llama/ENV/ENDPOINT/client), or from --records FILE (the JSON lines, e.g. an
application's stdout). The API is reported as production, Llama as shadow.

\b
Exit codes: 0 reported, 1 no paired records to compare, 2 invalid input,
3 AWS error.

\b
Example:
  python -m scripts shadow-report --env dev --endpoint intent-3b --since 2025-03-01T00:00:00Z
  python -m scripts shadow-report --env dev --endpoint intent-3b --component intents-lora/support
  python -m scripts shadow-report --env prod --endpoint intent-3b --source client
"""


@click.command("shadow-report", help=HELP)
@click.option("--env", "env_name", required=True, help="Environment, e.g. dev.")
@click.option("--endpoint", "endpoint_key", required=True, help="Endpoint key in the environment, e.g. intent-3b.")
@click.option("--since", default=None, metavar="ISO",
              help="Only requests at or after this time (default: the last 24 hours), e.g. 2025-03-01T00:00:00Z.")
@click.option("--bucket", default=None, help="Capture bucket (default: the environment's).")
@click.option("--component", "component", default=None, metavar="ENDPOINT/ID",
              help="Replay production's captured requests to this inference component and compare.")
@click.option("--limit", default=500, show_default=True, type=click.IntRange(0, 100000),
              help="With --component: replay at most the latest N captured requests (0: all).")
@click.option("--examples", default=10, show_default=True, type=click.IntRange(0, 1000),
              help="Disagreements to show.")
@click.option("--source", type=click.Choice(["capture", "client"]), default="capture", show_default=True,
              help="capture: two variants' data capture; client: the application client's API-vs-Llama records.")
@click.option("--log-group", default=None, help="--source client: the log group [default: the endpoint's client group].")
@click.option("--records", "records_file", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="--source client: read the records from this file of JSON lines instead of CloudWatch Logs.")
@click.option("--json", "json_mode", is_flag=True, default=None, help="JSON lines output.")
def command(env_name: str, endpoint_key: str, since: str | None, bucket: str | None, component: str | None,
            limit: int, examples: int, source: str, log_group: str | None, records_file: Path | None,
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
    loaded = project(env_name)
    env = loaded.environments[env_name]
    endpoint = env.endpoints.get(endpoint_key)
    if endpoint is None:
        raise UserError(f"--endpoint: no endpoint '{endpoint_key}' in environment {env_name}; "
                        f"fix: use one of: {', '.join(sorted(env.endpoints))}")
    if component is not None:
        return _component(out, loaded, env, endpoint_key, endpoint, component, start, bucket, limit, examples)
    if source == "client":
        return _client(out, env, endpoint_key, endpoint, start, log_group, records_file, examples)
    if log_group or records_file:
        raise UserError("--log-group/--records: only with --source client; fix: add --source client")
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


def _client(out: Output, env, key: str, endpoint, start: datetime, log_group: str | None, records_file: Path | None,
            examples: int) -> None:
    from scripts.evaluation import client_records
    from scripts.lib.aws import client

    name = env.endpoint_name(key)
    if records_file is not None:
        records, bad = client_records.from_file(records_file, name, start)
        where = str(records_file)
    else:
        group = log_group or naming.client_log_group(env.name, key)
        try:
            records, bad = client_records.from_log_group(client("logs", env.region), group, name, start)
        except Exception as exc:
            if error_code(exc) == "ResourceNotFoundException":
                raise UserError(f"--log-group: no log group {group}; fix: deploy {naming.endpoint_stack(env.name, key)}"
                                ", or name the group the applications send the client's metrics to") from None
            raise
        where = group
    labels = endpoint.evaluation.labels if endpoint.evaluation else None
    result = client_records.compare(records, labels, examples)
    report = {"endpoint_name": name, "source": "client", "log_group": where, "since": start.isoformat(),
              "versions": {"primary": "api", "shadow": ", ".join(result["llama_versions"]) or "?"},
              "records": {"primary": len(records), "shadow": len(records)}, "unparsable_lines": {"primary": bad,
                                                                                              "shadow": 0},
              **result, "latency_ms": {"primary": None, "shadow": result["llama_latency_ms"]}}
    _print(out, report)
    out.result(report)
    if not records:
        raise CheckFailed(f"shadow-report: no shadow record of the client for {name} in {where} since "
                          f"{start.isoformat()}; is the endpoint routed in shadow mode (python -m scripts route), and "
                          "do the applications send the client's metrics there?")


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


def _component(out: Output, loaded, env, endpoint_key: str, endpoint, component: str, start: datetime,
               bucket: str | None, limit: int, examples: int) -> None:
    from scripts.evaluation import capture as cap
    from scripts.evaluation.component_replay import REPLAYED, replay
    from scripts.evaluation.components import resolve
    from scripts.lib.aws import client
    from config.environment import VARIANT_NAME

    key, _, component_id = component.partition("/")
    if not component_id:
        raise UserError(f"--component: '{component}' is not ENDPOINT/ID; fix: write e.g. intents-lora/support")
    target = resolve(loaded, env, key, component_id)
    name = env.endpoint_name(endpoint_key)
    bucket = bucket or env.capture_bucket_name
    records, files, bad = cap.read_variant(client("s3", env.region), bucket, naming.capture_prefix(name), name,
                                           VARIANT_NAME, start)
    out.event("replay", f"replaying {min(len(records), limit or len(records))} of {len(records)} captured request(s) "
              f"of {name} to {target.component_name}", records=len(records), component=target.component_name)
    answers, sent = replay(client("sagemaker-runtime", env.region), env.endpoint_name(key), target.component_name,
                           records, limit)
    evaluation = target.config.evaluation or endpoint.evaluation
    result = cap.compare(records[-limit:] if limit else records, answers, evaluation.labels if evaluation else None,
                         examples)
    adapter = target.adapter
    report = {"endpoint_name": name, "mode": "replay", "bucket": bucket, "since": start.isoformat(),
              "component": {"name": target.component_name, "adapter": adapter.adapter if adapter else None,
                            "adapter_version": adapter.version if adapter else None,
                            "base_version": target.base_pin.version},
              "versions": {VARIANT_NAME: endpoint.version, REPLAYED: f"{adapter.adapter} {adapter.version}"
                           if adapter else f"{target.base_pin.model} {target.base_pin.version}"},
              "records": {VARIANT_NAME: len(records), REPLAYED: len(answers)}, "files": {VARIANT_NAME: files},
              "unparsable_lines": {VARIANT_NAME: bad, REPLAYED: 0}, "replay": sent, **result, "latency_ms": {}}
    if not out.json:
        agreement = "n/a" if report["agreement"] is None else f"{report['agreement'] * 100:.1f}%"
        out.table(f"{name} (production {endpoint.version}) vs {target.component_name} "
                  f"({report['versions'][REPLAYED]}), replayed, since {report['since']}", ["", "value"],
                  [["captured / replayed / failed", f"{len(records)} / {sent['sent']} / {sent['failed']}"],
                   [f"agreement ({report['compared_as']})", f"{agreement} of {report['both_valid']} "
                                                             f"({report['disagree']} disagree)"],
                   ["invalid answers production / component",
                    f"{report['invalid']['production']} / {report['invalid']['shadow']}"]])
        if report["disagreements"]:
            out.table("Disagreements", ["time", "input", "production", "component"],
                      [[d["inference_time"], d["input"], d["production"], d["shadow"]] for d in report["disagreements"]])
    out.result(report)
    if not report["matched"]:
        raise CheckFailed(f"shadow-report: nothing to compare: {len(records)} captured request(s) of {name} since "
                          f"{start.isoformat()}, {len(answers)} answered by {target.component_name}")
