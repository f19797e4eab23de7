"""Read SageMaker data capture and compare a shadow variant's answers with production's.

Capture files (one JSON object per line) land under
`s3://<capture bucket>/<endpoint>/` + `<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl`
(the stack sets DestinationS3Uri to the first part; SageMaker appends the rest):

    {"captureData": {"endpointInput": {"observedContentType": "application/json", "mode": "INPUT",
                                       "data": "...", "encoding": "JSON" | "BASE64" | "CSV"},
                     "endpointOutput": {... "mode": "OUTPUT" ...}},
     "eventMetadata": {"eventId": "...", "inferenceId": "..." (if the caller set one),
                       "inferenceTime": "2025-03-01T12:00:00Z"},
     "eventVersion": "0"}

Records of the two variants are paired by inferenceId when both carry one, else by eventId,
else by identical request body (oldest first). Requests and answers of either route are read
(`{"inputs"}` / `{"generated_text"}` and `{"messages"}` / `chat.completion`, answers.py), so
chat-format traffic compares like the rest. Hour folders are UTC hours: `since` is converted to
UTC before it becomes a key. Capture holds no latency: ModelLatency per variant comes from
CloudWatch (AWS/SageMaker, microseconds) when it has datapoints.
"""

from __future__ import annotations

import base64
import json
import math
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from scripts.evaluation.answers import UnreadableAnswer, read_generation, request_text
from scripts.evaluation.metrics import agreement

EXCERPT = 160


def variant_prefix(prefix: str, endpoint_name: str, variant: str) -> str:
    return f"{prefix}{endpoint_name}/{variant}/"


@dataclass(frozen=True)
class Record:
    variant: str
    source: str  # s3 key:line
    event_id: str | None
    inference_id: str | None
    time: datetime | None
    request: str
    response: str

    def answer_text(self) -> str | None:
        try:
            return read_generation(self.response.encode()).text
        except UnreadableAnswer:
            return None

    def prompt_excerpt(self) -> str:
        try:
            request = json.loads(self.request)
            text = request_text(request) if isinstance(request, dict) else self.request
        except json.JSONDecodeError:
            text = self.request
        if "Message:" in text:  # the evaluation template's utterance line, if that template is used
            text = text.rsplit("Message:", 1)[1].split("\n", 1)[0]
        return text.strip()[:EXCERPT]


def decode(part: dict | None) -> str:
    if not part:
        return ""
    data, encoding = part.get("data", ""), str(part.get("encoding", "")).upper()
    if encoding == "BASE64":
        try:
            return base64.b64decode(data).decode("utf-8", errors="replace")
        except (ValueError, TypeError):
            return ""
    return data if isinstance(data, str) else json.dumps(data)


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def read_variant(s3, bucket: str, prefix: str, endpoint_name: str, variant: str,
                 since: datetime | None) -> tuple[list[Record], int, int]:
    """(records at or after `since`, files read, unreadable lines) of one variant."""
    base = variant_prefix(prefix, endpoint_name, variant)
    kwargs = {"Bucket": bucket, "Prefix": base}
    if since is not None:  # keys sort by UTC hour folder
        kwargs["StartAfter"] = base + since.astimezone(timezone.utc).strftime("%Y/%m/%d/%H")
    records, files, bad = [], 0, 0
    for page in s3.get_paginator("list_objects_v2").paginate(**kwargs):
        for item in page.get("Contents", []):
            if not item["Key"].endswith(".jsonl"):
                continue
            files += 1
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode("utf-8", errors="replace")
            for number, line in enumerate(body.splitlines(), start=1):
                if not line.strip():
                    continue
                record = _record(line, variant, f"{item['Key']}:{number}")
                if record is None:
                    bad += 1
                elif since is None or record.time is None or record.time >= since:
                    records.append(record)
    return records, files, bad


def _record(line: str, variant: str, source: str) -> Record | None:
    try:
        data = json.loads(line)
        capture = data["captureData"]
        meta = data.get("eventMetadata") or {}
    except (json.JSONDecodeError, KeyError, TypeError):
        return None
    return Record(variant, source, meta.get("eventId"), meta.get("inferenceId"), parse_time(meta.get("inferenceTime")),
                  decode(capture.get("endpointInput")), decode(capture.get("endpointOutput")))


def pair(production: list[Record], shadow: list[Record]) -> tuple[list[tuple[Record, Record, str]], int, int]:
    """(pairs with how they matched, production-only count, shadow-only count)."""
    by_inference = {r.inference_id: r for r in shadow if r.inference_id}
    by_event = {r.event_id: r for r in shadow if r.event_id}
    by_input: dict[str, deque[Record]] = defaultdict(deque)
    for r in sorted(shadow, key=_order):
        by_input[r.request].append(r)
    used: set[int] = set()
    pairs, unmatched = [], []
    for p in sorted(production, key=_order):
        match, how = None, None
        if p.inference_id and p.inference_id in by_inference:
            match, how = by_inference[p.inference_id], "inference_id"
        elif p.event_id and p.event_id in by_event:
            match, how = by_event[p.event_id], "event_id"
        if match is not None and id(match) in used:
            match = None
        if match is None:
            queue = by_input.get(p.request)
            while queue and id(queue[0]) in used:
                queue.popleft()
            if queue:
                match, how = queue.popleft(), "identical_input"
        if match is None:
            unmatched.append(p)
            continue
        used.add(id(match))
        pairs.append((p, match, how))
    return pairs, len(unmatched), sum(1 for r in shadow if id(r) not in used)


def _order(r: Record) -> tuple:
    return (r.time or datetime.min.replace(tzinfo=timezone.utc), r.source)


def compare(production: list[Record], shadow: list[Record], labels: list[str] | None, examples: int) -> dict:
    pairs, production_only, shadow_only = pair(production, shadow)
    matched_by = {"inference_id": 0, "event_id": 0, "identical_input": 0}
    compared = []
    for p, s, how in pairs:
        matched_by[how] += 1
        compared.append(Compared(p.time.isoformat() if p.time else None, p.event_id, p.prompt_excerpt(),
                                 p.answer_text(), s.answer_text()))
    return {"matched": len(pairs), "matched_by": matched_by, "production_only": production_only,
            "shadow_only": shadow_only, **compare_answers(compared, labels, examples)}


@dataclass(frozen=True)
class Compared:
    """One request both sides answered (or failed to): the texts, None where there was no readable answer."""

    time: str | None
    event_id: str | None
    input: str
    production: str | None
    shadow: str | None


def compare_answers(compared: list[Compared], labels: list[str] | None, examples: int) -> dict:
    """Agreement of two sides' answers, read alike: labels with the endpoint's label set (else normalized
    text); SageMaker's shadow variant from data capture and the client's API-vs-Llama records both."""
    answers, disagreements = [], []
    unreadable = {"production": 0, "shadow": 0}
    invalid = {"production": 0, "shadow": 0}
    for c in compared:
        a, b = _answer(c.production, labels), _answer(c.shadow, labels)
        for side, value, text in (("production", a, c.production), ("shadow", b, c.shadow)):
            if text is None:
                unreadable[side] += 1
            elif value is None:
                invalid[side] += 1
        answers.append((a, b))
        if a != b and len(disagreements) < examples:
            disagreements.append({"inference_time": c.time, "event_id": c.event_id, "input": c.input,
                                  "production": a if a is not None else _raw(c.production),
                                  "shadow": b if b is not None else _raw(c.shadow)})
    counts = agreement(answers)
    return {"compared_as": "labels" if labels else "normalized text",
            "agreement": counts["agreement"], "agree": counts["agree"], "both_valid": counts["both_valid"],
            "disagree": counts["both_valid"] - counts["agree"], "invalid": invalid, "unreadable": unreadable,
            "disagreements": disagreements}


def _answer(text: str | None, labels: list[str] | None) -> str | None:
    from scripts.evaluation.answers import parse_label

    if text is None:
        return None
    if labels:
        return parse_label(text, labels)
    return " ".join(text.lower().split()) or None


def _raw(text: str | None) -> str:
    return f"(invalid) {text.strip()[:60]!r}" if text is not None else "(unreadable)"


def variant_latency(cloudwatch, endpoint_name: str, variant: str, since: datetime, until: datetime) -> dict | None:
    """Average and maximum ModelLatency (ms) of one variant over the window, None without datapoints."""
    seconds = max(60, (until - since).total_seconds())
    period = max(60, math.ceil(seconds / 1440 / 60) * 60)
    response = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker", MetricName="ModelLatency", StartTime=since, EndTime=until, Period=period,
        Statistics=["Average", "Maximum", "SampleCount"],
        Dimensions=[{"Name": "EndpointName", "Value": endpoint_name}, {"Name": "VariantName", "Value": variant}])
    points = [p for p in response.get("Datapoints", []) if p.get("SampleCount")]
    if not points:
        return None
    count = sum(p["SampleCount"] for p in points)
    average = sum(p["Average"] * p["SampleCount"] for p in points) / count
    return {"average_ms": round(average / 1000, 1), "max_ms": round(max(p["Maximum"] for p in points) / 1000, 1),
            "samples": int(count), "source": "CloudWatch AWS/SageMaker ModelLatency"}


def default_since(now: datetime) -> datetime:
    return now - timedelta(hours=24)
