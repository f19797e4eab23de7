"""Classification metrics, latency percentiles and agreement, computed by hand (no numpy needed).

Conventions (docs/evaluation.md):
- accuracy = correct / examples evaluated; an invalid answer or a failed request is wrong;
- per-intent precision = TP / answers naming the intent, recall = TP / examples of the intent,
  F1 their harmonic mean; 0.0 when undefined (no answer named it, or no example has it);
- macro-F1 = mean F1 over intents that occur in the dataset or among the valid answers;
- invalid rate = answers outside the label set / examples; errors are counted apart;
- latency percentiles by linear interpolation between closest ranks (numpy's default).
"""

from __future__ import annotations

from dataclasses import dataclass

INVALID = "(invalid)"
ERROR = "(error)"


@dataclass(frozen=True)
class Outcome:
    expected: str
    predicted: str | None  # a label, or None
    status: str  # "ok" | "invalid" | "error"


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(values_ms: list[float]) -> dict:
    if not values_ms:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "mean": None, "max": None}
    return {"count": len(values_ms), "p50": _r(percentile(values_ms, 50)), "p95": _r(percentile(values_ms, 95)),
            "p99": _r(percentile(values_ms, 99)), "mean": _r(sum(values_ms) / len(values_ms)),
            "max": _r(max(values_ms))}


def classification(outcomes: list[Outcome], labels: list[str]) -> dict:
    n = len(outcomes)
    correct = sum(1 for o in outcomes if o.status == "ok" and o.predicted == o.expected)
    invalid = sum(1 for o in outcomes if o.status == "invalid")
    errors = sum(1 for o in outcomes if o.status == "error")
    present = {o.expected for o in outcomes} | {o.predicted for o in outcomes if o.status == "ok"}
    per_intent, f1s = {}, []
    for label in labels:
        if label not in present:
            continue
        tp = sum(1 for o in outcomes if o.status == "ok" and o.predicted == label == o.expected)
        named = sum(1 for o in outcomes if o.status == "ok" and o.predicted == label)
        support = sum(1 for o in outcomes if o.expected == label)
        precision = tp / named if named else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        f1s.append(f1)
        per_intent[label] = {"precision": _r(precision, 4), "recall": _r(recall, 4), "f1": _r(f1, 4),
                             "support": support, "predicted": named}
    macro_f1 = sum(f1s) / len(f1s) if f1s else 0.0
    return {
        "examples": n,
        "correct": correct,
        "accuracy": _r(correct / n, 4) if n else 0.0,
        "macro_f1": _r(macro_f1, 4),
        "invalid": invalid,
        "invalid_rate": _r(invalid / n, 4) if n else 0.0,
        "errors": errors,
        "error_rate": _r(errors / n, 4) if n else 0.0,
        "per_intent": per_intent,
    }


def confusion(outcomes: list[Outcome], labels: list[str]) -> dict:
    """Rows: expected intent; columns: the labels, then (invalid) and (error)."""
    columns = [*labels, INVALID, ERROR]
    index = {c: i for i, c in enumerate(columns)}
    rows = {label: [0] * len(columns) for label in labels}
    for o in outcomes:
        column = o.predicted if o.status == "ok" else (INVALID if o.status == "invalid" else ERROR)
        rows[o.expected][index[column]] += 1
    return {"rows_are": "expected", "columns": columns, "labels": labels,
            "matrix": [rows[label] for label in labels]}


def agreement(pairs: list[tuple[str | None, str | None]]) -> dict:
    """Pairs of (label or None) answers to the same input: agreement over pairs both answered validly."""
    both = [(a, b) for a, b in pairs if a is not None and b is not None]
    agree = sum(1 for a, b in both if a == b)
    return {"compared": len(pairs), "both_valid": len(both), "agree": agree,
            "agreement": _r(agree / len(both), 4) if both else None}


def _r(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)
