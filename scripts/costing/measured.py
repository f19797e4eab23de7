"""Token counts and latency measured by `evaluate`, as `cost` inputs (`cost --report report.json`).

The serving container reports what it counted (chat `usage`, `details.generated_tokens` and
`prefill`), the hosted baseline its own `usage`; evaluate's report sums them per target
(`tokens`, with `*_source` saying whether every answer reported them) and keeps the client-side
latency of successful calls. The API's price applies to the API's tokens (its tokenizer is not
Llama's), so those come from the report's baseline when it has one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from scripts.lib.errors import UserError


@dataclass(frozen=True)
class Measured:
    shown: str
    where: str  # environment/endpoint and version it was measured on
    input_tokens: float  # per call, as the API would count them when the report has a baseline
    output_tokens: float
    latency_ms: float | None  # mean of the endpoint's successful calls
    api_counted: bool  # tokens are the baseline API's own counts
    warnings: list[str] = field(default_factory=list)


def _per_call(tokens: dict, answers: int | None, what: str) -> float | None:
    per_call = tokens.get(f"{what}_per_call")
    if per_call is None and answers:  # report_version 1: totals only
        per_call = tokens.get(what, 0) / answers
    return per_call


def read_measurements(path: Path, shown: str) -> Measured:
    try:
        report = json.loads(path.read_bytes())
    except OSError as exc:
        raise UserError(f"--report: cannot read {shown} ({exc.strerror}); fix: give the report.json evaluate wrote") \
            from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError(f"{shown}: (file): is not JSON; fix: give the report.json evaluate wrote") from None
    if not isinstance(report, dict) or report.get("kind") != "intent-evaluation" or "tokens" not in report:
        raise UserError(f"{shown}: kind: not an evaluation report; fix: give the report.json evaluate wrote")
    warnings = []
    baseline = report.get("baseline") or None
    source = baseline if baseline and baseline.get("tokens") else report
    tokens = source["tokens"]
    answers = tokens.get("answers") or (source.get("latency_ms") or {}).get("count")
    input_tokens, output_tokens = _per_call(tokens, answers, "prompt"), _per_call(tokens, answers, "completion")
    if input_tokens is None or output_tokens is None:
        raise UserError(f"{shown}: tokens: no successful call to count; fix: evaluate again")
    if source is report:
        warnings.append(f"{shown} has no baseline run: the API's tokens are taken as the endpoint's (the tokenizers "
                        "differ; evaluate with --baseline to measure the API's own)")
    for what in ("prompt", "completion"):
        if tokens.get(f"{what}_source") != "reported":
            warnings.append(f"{shown}: {what} tokens are {tokens.get(f'{what}_source')} (characters / 4), not counted "
                            "by the server")
    latency = (report.get("latency_ms") or {}).get("mean")
    where = f"{report.get('environment')}/{report.get('endpoint')} {report.get('model')} {report.get('version')}"
    return Measured(shown, where, round(input_tokens, 1), round(output_tokens, 1), latency, source is not report,
                    warnings)
