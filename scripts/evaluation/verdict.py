"""Thresholds against a report's figures: used by `evaluate` to set pass/fail and again by
`approve`, against the thresholds configured at approval time."""

from __future__ import annotations

from config.evaluation import EvaluationThresholds


def threshold_checks(report: dict, thresholds: EvaluationThresholds) -> list[dict]:
    metrics = report.get("metrics") or {}
    latency = report.get("latency_ms") or {}
    baseline = report.get("baseline") or None
    checks = [_check("accuracy", metrics.get("accuracy"), ">=", thresholds.min_accuracy),
              _check("invalid_rate", metrics.get("invalid_rate"), "<=", thresholds.max_invalid_rate)]
    if thresholds.max_p95_latency_ms is not None:
        checks.append(_check("latency_p95_ms", latency.get("p95"), "<=", thresholds.max_p95_latency_ms))
    if thresholds.max_accuracy_gap_to_baseline is not None:
        gap = thresholds.max_accuracy_gap_to_baseline
        if not baseline:
            checks.append({"name": "accuracy_vs_baseline", "value": None, "op": ">=", "threshold": None,
                           "passed": False, "detail": "no baseline in this run: rerun with --baseline openai:<model>"})
        else:
            floor = round(baseline["metrics"]["accuracy"] - gap, 4)
            check = _check("accuracy_vs_baseline", metrics.get("accuracy"), ">=", floor)
            check["detail"] = f"baseline {baseline['model']} accuracy {baseline['metrics']['accuracy']} minus {gap}"
            checks.append(check)
    return checks


def failed(checks: list[dict]) -> list[str]:
    return [f"{c['name']} {c['value']} (needs {c['op']} {c['threshold']})" if c["threshold"] is not None
            else f"{c['name']}: {c.get('detail', 'not measured')}" for c in checks if not c["passed"]]


def _check(name: str, value, op: str, threshold) -> dict:
    if value is None:
        return {"name": name, "value": None, "op": op, "threshold": threshold, "passed": False,
                "detail": "not measured (no successful request)"}
    passed = value >= threshold if op == ">=" else value <= threshold
    return {"name": name, "value": value, "op": op, "threshold": threshold, "passed": bool(passed)}
