"""`review`: what changes per stack between two synthesized assemblies, as markdown for a pull request.

The PR workflow synthesizes the base branch and the PR head, runs this, uploads the
markdown as an artifact and appends it to the job summary (.github/workflows/pull-request.yml).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from scripts.lib.errors import CheckFailed, UserError
from scripts.lib.output import Output
from scripts.lib.review_diff import StackDiff, as_json, diff_assemblies

ACTION_ORDER = {"replace": 0, "remove": 1, "add": 2, "update": 3}
# Replacing a registry package creates a new version and removes the old one's export: CloudFormation
# refuses to change an export that an endpoint stack imports, so the artifacts stack update fails, and a
# version's registry content must never change anyway (config/registry_content.py).
BLOCKING_REPLACEMENTS = {"AWS::SageMaker::ModelPackage"}


def blocking(diffs: list[StackDiff]) -> list[str]:
    """One line per change a pull request must not merge with."""
    return [f"`{d.stack}`: {r.type} `{r.logical_id}` would be replaced ({', '.join(r.properties)} changed): a pinned "
            "version's registry package must not change; revert the change, or pin a new version"
            for d in diffs for r in d.resources if r.action == "replace" and r.type in BLOCKING_REPLACEMENTS]


def to_markdown(diffs: list[StackDiff], base: str, head: str) -> str:
    changed = [d for d in diffs if d.status != "unchanged"]
    unchanged = [d.stack for d in diffs if d.status == "unchanged"]
    lines = ["# Infrastructure review: what changes per stack", "",
             f"Base `{base}`, head `{head}`: {len(changed)} stack(s) change, {len(unchanged)} unchanged.", ""]
    stops = blocking(diffs)
    if stops:
        lines += ["## Blocking", ""] + [f"- {line}" for line in stops] + [""]
    if not changed:
        lines.append("No template changes.")
    for diff in changed:
        lines += _stack_section(diff)
    if unchanged:
        lines += ["", f"Unchanged: {', '.join(f'`{s}`' for s in unchanged)}"]
    return "\n".join(lines) + "\n"


def _stack_section(diff: StackDiff) -> list[str]:
    lines = [f"## `{diff.stack}` ({diff.status})", ""]
    if diff.endpoint:
        lines += ["| endpoint | before | after |", "| --- | --- | --- |"]
        lines += [f"| {c.name} | {_cell(c.before)} | {_cell(c.after)} |" for c in diff.endpoint]
        lines.append("")
    replaced = [r for r in diff.resources if r.action == "replace"]
    if replaced:
        lines += [f"**Replaced** (a create-only property changed): "
                  + ", ".join(f"`{r.logical_id}` {r.type} ({', '.join(r.properties)})" for r in replaced), ""]
    # A changed stack tag (model-version) touches every resource: list those apart, so they do not hide the rest.
    tags_only = [r for r in diff.resources if r.action == "update" and r.properties == ("Tags",)]
    listed = [r for r in diff.resources if r not in tags_only]
    if listed:
        lines += ["| resource | type | change | properties |", "| --- | --- | --- | --- |"]
        for r in sorted(listed, key=lambda r: (ACTION_ORDER[r.action], r.logical_id)):
            lines.append(f"| `{r.logical_id}` | {r.type} | {r.action} | {_cell(', '.join(r.properties))} |")
        lines.append("")
    if tags_only:
        lines += [f"Tags only ({len(tags_only)}): " + ", ".join(f"`{r.logical_id}`" for r in tags_only), ""]
    if diff.alarms:
        lines += ["| alarm | before | after |", "| --- | --- | --- |"]
        lines += [f"| {c.name} | {_cell(c.before)} | {_cell(c.after)} |" for c in diff.alarms]
        lines.append("")
    for label, statements in (("IAM statements added", diff.iam_added), ("IAM statements removed", diff.iam_removed)):
        if statements:
            lines += [f"**{label}** ({len(statements)}):", ""] + [f"- `{_code(s)}`" for s in statements] + [""]
    return lines


def _cell(value: str | None) -> str:
    return "—" if value in (None, "") else str(value).replace("|", "\\|")


def _code(value: str) -> str:
    return value.replace("`", "'")


@click.command("review")
@click.option("--base", required=True, type=click.Path(path_type=Path), help="Assembly of the base (cdk.out).")
@click.option("--head", required=True, type=click.Path(path_type=Path), help="Assembly of the change (cdk.out).")
@click.option("--markdown", "markdown_file", type=click.Path(path_type=Path), default=None,
              help="Write the markdown report here (default: print it).")
@click.option("--json", "json_mode", is_flag=True, default=False, help="Print the comparison as JSON.")
def command(base: Path, head: Path, markdown_file: Path | None, json_mode: bool) -> None:
    """Compare two synthesized assemblies: per stack, endpoint facts (version, digest, instance type,
    scaling, deployment, alarms), resources added/removed/updated/replaced and IAM statements added/removed.

    Exit 0 when compared (changes or not); 1 when a change is blocking (a registry package would be
    replaced; the report is written first); 2 when an assembly is missing or unreadable.
    """
    try:
        diffs = diff_assemblies(base, head)
    except (json.JSONDecodeError, KeyError, OSError) as exc:
        raise UserError(f"cannot read the assemblies {base} and {head} ({exc.__class__.__name__}: {exc}); "
                        "fix: point --base and --head at cdk.out directories from `python -m scripts synth`")
    report = to_markdown(diffs, str(base), str(head))
    if markdown_file is not None:
        try:
            markdown_file.write_text(report, encoding="utf-8")
        except OSError as exc:
            raise UserError(f"{markdown_file}: cannot write the report ({exc.strerror}); "
                            "fix: choose a writable path whose directory exists")
    stops = blocking(diffs)
    if json_mode:
        Output(True).result({"stacks": as_json(diffs), "blocking": stops})
    elif markdown_file is None:
        click.echo(report, nl=False)
    if stops:
        raise CheckFailed(f"{len(stops)} blocking change(s): {stops[0].replace('`', '')}")
