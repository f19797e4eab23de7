"""Write an evaluation report: report.json (the evidence), summary.md (for people), confusion.png."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from scripts.evaluation.metrics import ERROR, INVALID
from config.manifest_io import write_atomic

REPORT_FILE = "report.json"
SUMMARY_FILE = "summary.md"
CONFUSION_FILE = "confusion.png"
MD_DISAGREEMENTS = 15


def write_outputs(report: dict, directory: Path) -> dict[str, Path | str]:
    """Write the three files; the PNG is skipped (with the reason) if matplotlib is missing."""
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path | str] = {}
    write_atomic(directory / REPORT_FILE, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    written["report"] = directory / REPORT_FILE
    write_atomic(directory / SUMMARY_FILE, markdown(report))
    written["summary"] = directory / SUMMARY_FILE
    try:
        confusion_png(report, directory / CONFUSION_FILE)
        written["confusion"] = directory / CONFUSION_FILE
    except ImportError:
        written["confusion"] = "skipped: matplotlib is not installed"
    return written


def _pct(value) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _ms(value) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def markdown(r: dict) -> str:
    metrics, latency, run = r["metrics"], r["latency_ms"], r["run"]
    verdict = {"pass": "PASS", "fail": "FAIL", "partial": "PARTIAL (interrupted: not evidence for approval)"}
    lines = [
        f"# Evaluation of {r['model']} {r['version']} on {r['endpoint_name']}",
        "",
        f"**Verdict: {verdict[r['verdict']]}**",
        "",
        f"- manifest_sha256 `{r['manifest_sha256']}` ({r['framework']}, version from {r['version_source']})",
        f"- dataset `{r['dataset']['path']}`: {r['dataset']['examples']} examples, sha256 `{r['dataset']['sha256']}`",
        f"- evaluated {run['completed']} of {run['requested']} in {run['elapsed_s']:.1f} s at concurrency "
        f"{run['concurrency']}" + (f", rate limit {run['rate_limit_per_s']}/s" if run["rate_limit_per_s"] else "")
        + f"; {run['retries']} retries ({run['throttled']} throttled)",
        f"- created {r['created_at']}",
        "",
        "| check | value | threshold | result |",
        "| --- | --- | --- | --- |",
    ]
    for c in r["checks"]:
        threshold = "" if c["threshold"] is None else f"{c['op']} {c['threshold']}"
        lines.append(f"| {c['name']} | {c['value'] if c['value'] is not None else 'n/a'} | {threshold} | "
                     f"{'ok' if c['passed'] else 'FAILED'}{' (' + c['detail'] + ')' if c.get('detail') else ''} |")
    lines += [
        "",
        "| metric | value |",
        "| --- | --- |",
        f"| accuracy | {_pct(metrics['accuracy'])} ({metrics['correct']}/{metrics['examples']}) |",
        f"| macro-F1 | {metrics['macro_f1']:.4f} |",
        f"| invalid answers | {metrics['invalid']} ({_pct(metrics['invalid_rate'])}) |",
        f"| errors | {metrics['errors']} ({_pct(metrics['error_rate'])}) |",
        f"| latency p50 / p95 / p99 | {_ms(latency['p50'])} / {_ms(latency['p95'])} / {_ms(latency['p99'])} |",
        f"| tokens prompt / completion | {r['tokens']['prompt']} ({r['tokens']['prompt_source']}) / "
        f"{r['tokens']['completion']} ({r['tokens']['completion_source']}) |",
        "",
        "| intent | precision | recall | F1 | support |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, v in metrics["per_intent"].items():
        lines.append(f"| {label} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |")
    base = r.get("baseline")
    if base:
        bm = base["metrics"]
        lines += [
            "",
            f"## Baseline {base['model']}",
            "",
            f"- accuracy {_pct(bm['accuracy'])}, macro-F1 {bm['macro_f1']:.4f}, invalid {bm['invalid']}, "
            f"errors {bm['errors']}, latency p95 {_ms(base['latency_ms']['p95'])}",
            f"- agreement with the endpoint: {_pct(base['agreement'])} of "
            f"{base['agreement_counts']['both_valid']} examples both answered with a label; "
            f"accuracy difference (endpoint - baseline) {base['accuracy_difference']:+.4f}",
            f"- {len(base['disagreements'])} disagreement(s)"
            + (f", the first {MD_DISAGREEMENTS}:" if len(base["disagreements"]) > MD_DISAGREEMENTS else ":"),
            "",
            "| line | text | expected | endpoint | baseline |",
            "| --- | --- | --- | --- | --- |",
        ]
        for d in base["disagreements"][:MD_DISAGREEMENTS]:
            text = d["text"].replace("|", "\\|")[:90]
            lines.append(f"| {d['line']} | {text} | {d['expected']} | {d['endpoint']} | {d['baseline']} |")
    confusions = _top_confusions(r["confusion_matrix"])
    if confusions:
        lines += ["", "Most frequent confusions (expected -> answered): "
                  + ", ".join(f"{e} -> {a} ({n})" for e, a, n in confusions)]
    lines += ["", f"Files: {REPORT_FILE} (all fields, per-example answers), {CONFUSION_FILE}.", ""]
    return "\n".join(lines)


def _top_confusions(cm: dict, limit: int = 5) -> list[tuple[str, str, int]]:
    found = []
    for label, row in zip(cm["labels"], cm["matrix"]):
        for column, count in zip(cm["columns"], row):
            if count and column != label:
                found.append((label, column, count))
    return sorted(found, key=lambda x: (-x[2], x[0], x[1]))[:limit]


def confusion_png(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = report["confusion_matrix"]
    matrix, rows, columns = cm["matrix"], cm["labels"], cm["columns"]
    # Fixed margins instead of tight_layout / bbox_inches="tight": each of those is an extra draw.
    longest = max((len(c) for c in [*rows, *columns]), default=8)
    left = 0.3 + 0.075 * longest  # inches for the horizontal row labels
    bottom = 0.45 + 0.055 * longest  # the column labels are turned 45 degrees
    cell = 0.42
    width, height = left + cell * len(columns) + 0.4, bottom + cell * len(rows) + 0.6
    fig = plt.figure(figsize=(width, height), dpi=100)
    try:
        ax = fig.add_axes((left / width, bottom / height, cell * len(columns) / width, cell * len(rows) / height))
        peak = max((max(row) for row in matrix), default=0) or 1
        ax.imshow(matrix, cmap="Blues", vmin=0, vmax=peak, aspect="auto", interpolation="nearest")
        ax.set_xticks(range(len(columns)), labels=columns, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(rows)), labels=rows, fontsize=8)
        ax.set_xlabel("answered", fontsize=9)
        ax.set_ylabel("expected", fontsize=9)
        for i, row in enumerate(matrix):
            for j, count in enumerate(row):
                if count:
                    ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                            color="white" if count > peak * 0.6 else "black")
        # The invalid / error columns are not labels: set them apart.
        ax.axvline(len(rows) - 0.5, color="grey", linewidth=1)
        for tick in ax.get_xticklabels():
            if tick.get_text() in (INVALID, ERROR):
                tick.set_color("firebrick")
        metrics = report["metrics"]
        fig.suptitle(f"{report['model']} {report['version']} on {report['endpoint_name']}\naccuracy "
                     f"{metrics['accuracy'] * 100:.1f}%, macro-F1 {metrics['macro_f1']:.3f}, "
                     f"{metrics['examples']} examples" + (" (PARTIAL)" if report["partial"] else ""),
                     fontsize=9, y=1 - 0.08 / height)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
        os.close(fd)
        try:
            fig.savefig(tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    finally:
        plt.close(fig)
