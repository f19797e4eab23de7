"""A labeled dataset: one JSON object per line, {"text": "...", "intent": "..."}.

Every line is checked before a single request is sent; the first bad line is
reported as `FILE:LINE: field: problem; fix: ...` (exit 2), with the count of
further bad lines, so a typo never costs an evaluation run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from scripts.lib.errors import UserError

MAX_TEXT_CHARS = 4000
ALLOWED_KEYS = {"text", "intent", "id"}


@dataclass(frozen=True)
class Example:
    line: int
    text: str
    intent: str
    id: str | None = None


@dataclass(frozen=True)
class Dataset:
    path: Path
    sha256: str
    examples: list[Example]

    @property
    def intents(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for example in self.examples:
            counts[example.intent] = counts.get(example.intent, 0) + 1
        return dict(sorted(counts.items()))


def read_input(path: Path, shown: str, option: str, fix: str) -> bytes:
    """The bytes of a file named on the command line. Shared by the dataset and the evaluation
    report (approval.py): an unreadable one is the user's error (exit 2), named by its option."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UserError(f"{option}: cannot read {shown} ({exc.strerror or exc.__class__.__name__}); "
                        f"fix: {fix}") from None


def load_dataset(path: Path, labels: list[str], shown: str | None = None) -> Dataset:
    shown = shown or str(path)
    raw = read_input(path, shown, "--dataset", "give the path of a .jsonl file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{shown}: (file): is not UTF-8 text; fix: save it as UTF-8") from None
    known = set(labels)
    examples: list[Example] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        example, problem = _parse_line(line, number, known, labels)
        if problem:
            problems.append(f"{shown}:{number}: {problem}")
        elif example:
            examples.append(example)
    if problems:
        more = f" ({len(problems) - 1} more bad line(s) after it)" if len(problems) > 1 else ""
        raise UserError(problems[0] + more)
    if not examples:
        raise UserError(f"{shown}: (file): has no examples; fix: write one "
                        '{"text": "...", "intent": "..."} object per line')
    return Dataset(path, hashlib.sha256(raw).hexdigest(), examples)


def _parse_line(line: str, number: int, known: set[str], labels: list[str]) -> tuple[Example | None, str | None]:
    shape = 'write one JSON object per line: {"text": "...", "intent": "..."}'
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"(line): invalid JSON ({exc.msg} at column {exc.colno}); fix: {shape}"
    if not isinstance(data, dict):
        return None, f"(line): is a JSON {type(data).__name__}, not an object; fix: {shape}"
    unknown = sorted(set(data) - ALLOWED_KEYS)
    if unknown:
        return None, f"{unknown[0]}: unknown key; fix: keep only text, intent (and an optional id)"
    for key in ("text", "intent"):
        if key not in data:
            return None, f"{key}: missing; fix: {shape}"
        if not isinstance(data[key], str) or not data[key].strip():
            return None, f"{key}: must be a non-empty string (got {data[key]!r}); fix: {shape}"
    text = data["text"].strip()
    if len(text) > MAX_TEXT_CHARS:
        return None, f"text: {len(text)} characters, more than {MAX_TEXT_CHARS}; fix: shorten the utterance"
    intent = data["intent"].strip()
    if intent not in known:
        from config.evaluation import normalize_label

        close = normalize_label(intent)
        hint = f"write '{close}'" if close in known else f"use one of: {', '.join(labels)}"
        return None, (f"intent: '{intent}' is not one of the endpoint's labels; fix: {hint}, or add it to "
                      "evaluation.labels of the endpoint")
    ident = data.get("id")
    if ident is not None and not isinstance(ident, (str, int)):
        return None, f"id: must be a string or a number (got {ident!r}); fix: write a short id or leave it out"
    return Example(number, text, intent, None if ident is None else str(ident)), None
