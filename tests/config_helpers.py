"""Builders for config tests: a temp copy of the repo's own configs and pins, edited per test.

The examples under environments/ and model_artifacts/ stay the source of
truth: every fixture starts from them and changes only what a test is about,
either by text replacement (`Tree.replace`) or by a ruamel round-trip edit
(`Tree.yaml`). New valid pins are written with config.manifest_io.seal/render,
exactly as the pin commands write them.
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # plain `pytest` (not `python -m pytest`) from another directory
    sys.path.insert(0, str(REPO))

from ruamel.yaml import YAML  # noqa: E402

from config.environment import Environment  # noqa: E402
from config.errors import SpecError, SpecErrors  # noqa: E402
from config.loader import load_model  # noqa: E402
from config.manifest_io import render, seal  # noqa: E402
from config.pin import Pin  # noqa: E402
from config.project import Project, load_project  # noqa: E402

DEV = "environments/dev.yaml"
STAGING = "environments/staging.yaml"
PROD = "environments/prod.yaml"
PIN_1B = "model_artifacts/llama-3-2-1b-instruct/v1.yaml"  # TGI
PIN_3B = "model_artifacts/llama-3-2-3b-instruct/v1.yaml"  # LMI
MODEL_3B = "llama-3-2-3b-instruct"
MODEL_1B = "llama-3-2-1b-instruct"
EP = "endpoints.intent-3b"  # the field path of the examples' endpoint most tests break


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.width = 4096
    return yaml


def read_data(path: Path) -> Any:
    """Plain data of a YAML/JSON file (no ruamel containers)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    return YAML(typ="safe", pure=True).load(text)


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing `needle`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")


class Tree:
    """A temp copy of the repo's environments/ and model_artifacts/."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, rel: str) -> Path:
        return self.root / rel

    def text(self, rel: str) -> str:
        return self.path(rel).read_text(encoding="utf-8")

    def write(self, rel: str, text: str) -> None:
        path = self.path(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def replace(self, rel: str, old: str, new: str) -> int:
        """Replace the first `old` in the file; returns the 1-based line where it was."""
        text = self.text(rel)
        assert old in text, f"{old!r} not in {rel}: the example changed, update the test"
        line = text[: text.index(old)].count("\n") + 1
        self.write(rel, text.replace(old, new, 1))
        return line

    @contextmanager
    def yaml(self, rel: str) -> Iterator[Any]:
        """Round-trip edit: comments, order and style of the rest of the file stay as they are."""
        yaml = _yaml()
        path = self.path(rel)
        data = yaml.load(path.read_text(encoding="utf-8"))
        yield data
        with path.open("w", encoding="utf-8") as handle:
            yaml.dump(data, handle)

    def endpoint(self, data: Any, name: str = "intent-3b") -> Any:
        return data["endpoints"][name]

    def pin_data(self, rel: str = PIN_3B) -> dict:
        """The pin's plain data without manifest_sha256, ready to change and `add_pin`."""
        data = read_data(self.path(rel))
        data.pop("manifest_sha256")
        return copy.deepcopy(data)

    def add_pin(self, data: dict, rel: str | None = None, fmt: str = "yaml") -> str:
        """Seal `data` and write it where the pin commands would (or at `rel`)."""
        pin = seal(data)
        rel = rel or f"model_artifacts/{pin.model}/{pin.version}.{fmt}"
        if fmt == "json":
            self.write(rel, json.dumps(pin.model_dump(mode="json", exclude_none=True), indent=2))
        else:
            self.write(rel, render(pin))
        return rel

    def new_version(self, version: str = "v3", base: str = PIN_3B, *, pending: bool = False,
                    edit: Callable[[dict], None] | None = None, fmt: str = "yaml") -> str:
        """A new valid version of the base pin's model (weights under <model>/<version>/)."""
        data = self.pin_data(base)
        data["version"] = version
        data["weights"]["prefix"] = f"{data['model']}/{version}/"
        if pending:
            data["approval"] = {"status": "PendingManualApproval"}
        if edit:
            edit(data)
        return self.add_pin(data, fmt=fmt)

    def load(self, only_env: str | None = None) -> Project:
        return load_project(self.root, only_env=only_env)

    def file_errors(self, rel: str) -> list[SpecError]:
        """One file's own errors, exactly as load_project reports them, without reading the others.

        For checks that belong to a single file (field formats, a pin's hash); faster than `errors`.
        """
        model = Pin if rel.startswith("model_artifacts/") else Environment
        _, errors = load_model(model, self.path(rel), rel)
        assert errors, f"expected {rel} to be invalid on its own"
        return errors

    def errors(self) -> list[SpecError]:
        """The SpecErrors of this tree; fails the test if it loads cleanly."""
        try:
            load_project(self.root)
        except SpecErrors as exc:
            return exc.errors
        raise AssertionError("expected the tree to be invalid, but it loaded")

    def refuses(self, rel: str, old: str, new: str, field: str, problem: str, fix: str = "", *,
                alone: bool = False) -> SpecError:
        """Replace `old` with `new` in `rel`: the one error on `field` names the line of the edit.

        `alone`: the file's own errors (`file_errors`), for checks that need no other file."""
        line = self.replace(rel, old, new)
        error = one(self.file_errors(rel) if alone else self.errors(), rel, field, problem, fix)
        assert error.line == line, f"error on line {error.line}, the edit is on line {line}"
        return error


def copy_tree(dest: Path) -> Tree:
    for part in ("environments", "model_artifacts"):
        shutil.copytree(REPO / part, dest / part)
    return Tree(dest)


@pytest.fixture
def tree(tmp_path) -> Tree:
    """A fresh copy of the examples for each test (`from config_helpers import tree`: pytest registers it)."""
    return copy_tree(tmp_path)


def one(errors: list[SpecError], file: str, field: str, problem: str = "", fix: str = "") -> SpecError:
    """The single error on `file` and `field`; checks that it gives a fix and renders as one line."""
    found = [e for e in errors if e.file == file and e.field == field]
    assert len(found) == 1, f"want one error on {file} {field!r}, got:\n" + "\n".join(map(str, errors))
    error = found[0]
    assert problem in error.problem, f"{problem!r} not in {error.problem!r}"
    assert error.fix.strip(), f"no fix given: {error}"
    assert fix in error.fix, f"{fix!r} not in {error.fix!r}"
    text = str(error)
    assert "\n" not in text and text.startswith(file) and f": {field or '(file)'}: " in text
    assert f"; fix: {error.fix}" in text
    return error
