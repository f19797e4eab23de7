"""The application client's shadow records: API-versus-Llama answers on live traffic.

In `shadow` mode the client (client/pinned_llama_client) answers from the API and asks Llama in the
background; each comparison is one EMF log event with `Record: "shadow"`, `RequestId`, `Time`,
`ApiAnswer` and `LlamaAnswer` (the raw texts, 200 characters at most; `LlamaAnswer` null when Llama
did not answer, with `Reason`), `LlamaVersion`, and `Input` only if the application opted in
(metrics.py). They are read from the CloudWatch Logs group the application sends them to
(FilterLogEvents; the endpoint stack's `/llama/<env>/<endpoint>/client` by default) or from a file
of those JSON lines (an application's stdout, exported), and compared like data capture's
variants (capture.compare_answers): the answers parsed with the endpoint's labels.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from pinned_llama_client.metrics import SHADOW_RECORD

from scripts.evaluation.capture import Compared, compare_answers, parse_time

FILTER = '{ $.Record = "shadow" }'  # CloudWatch Logs JSON filter pattern


def from_log_group(logs: Any, group: str, endpoint_name: str, since: datetime) -> tuple[list[dict], int]:
    """(shadow records of the endpoint at or after `since`, lines that were not JSON)."""
    events, bad = [], 0
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=group, startTime=int(since.timestamp() * 1000), filterPattern=FILTER)
    for page in pages:
        for event in page.get("events", []):
            record, unreadable = _parse(event.get("message", ""))
            bad += unreadable
            if record is not None:
                events.append(record)
    return _of(events, endpoint_name, since), bad


def from_file(path: Path, endpoint_name: str, since: datetime) -> tuple[list[dict], int]:
    records, bad = [], 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        record, unreadable = _parse(line)
        bad += unreadable
        if record is not None:
            records.append(record)
    return _of(records, endpoint_name, since), bad


def _parse(line: str) -> tuple[dict | None, int]:
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None, 1
    return (data, 0) if isinstance(data, dict) and data.get("Record") == SHADOW_RECORD else (None, 0)


def _of(records: list[dict], endpoint_name: str, since: datetime) -> list[dict]:
    kept = []
    for r in records:
        moment = parse_time(r.get("Time"))
        if r.get("Endpoint") == endpoint_name and (moment is None or moment >= since):
            kept.append(r)
    return sorted(kept, key=lambda r: str(r.get("Time")))


def compare(records: list[dict], labels: list[str] | None, examples: int) -> dict:
    """The report shadow-report prints for data capture, with the API as production and Llama as shadow."""
    compared = [Compared(r.get("Time"), r.get("RequestId"), str(r.get("Input") or "(not recorded)"),
                         _text(r.get("ApiAnswer")), _text(r.get("LlamaAnswer"))) for r in records]
    result = compare_answers(compared, labels, examples)
    latencies = [r["ShadowLatency"] for r in records if isinstance(r.get("ShadowLatency"), (int, float))
                 and r.get("LlamaAnswer") is not None]
    versions = sorted({str(r.get("LlamaVersion")) for r in records if r.get("LlamaVersion")})
    failed: dict[str, int] = {}
    for r in records:
        if r.get("LlamaAnswer") is None:
            failed[str(r.get("Reason"))] = failed.get(str(r.get("Reason")), 0) + 1
    return {"matched": len(records), "matched_by": {"request_id": len(records)}, "production_only": 0,
            "shadow_only": 0, **result, "llama_versions": versions, "llama_failures": failed,
            "llama_latency_ms": {"average_ms": round(sum(latencies) / len(latencies), 1),
                                 "max_ms": round(max(latencies), 1), "samples": len(latencies),
                                 "source": "the client's ShadowLatency"} if latencies else None}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


