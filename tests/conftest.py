"""Shared fixtures. The example app is synthesized once per session (it takes ~10 s)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")


def synthesize(root: Path, outdir: Path, env: str | None = None, overrides: dict | None = None) -> dict[str, dict]:
    """Synthesize the app of `root` in-process (cdk.json flags, cdk-nag on) -> {stack: template};
    `overrides` are promote's per-deployment ones ({"<env>/<endpoint>": {...}})."""
    from config.project import load_project
    from stacks.environment_app import DEPLOY_OVERRIDES, build, new_app

    context = {"env": env} if env else {}
    if overrides:
        context[DEPLOY_OVERRIDES] = overrides
    app = new_app(ROOT, outdir=str(outdir), context=context or None)
    build(app, load_project(root, only_env=env))
    assembly = app.synth()
    return {s.stack_name: s.template for s in assembly.stacks}


@pytest.fixture(scope="session")
def assembly_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cdk.out")


@pytest.fixture(scope="session")
def templates(assembly_dir) -> dict[str, dict]:
    return synthesize(ROOT, assembly_dir)


def copy_inputs(target: Path) -> Path:
    """A copy of the repo's inputs (environments + pins + cdk.json) in `target`, to break or change."""
    for name in ("environments", "model_artifacts"):
        shutil.copytree(ROOT / name, target / name)
    shutil.copy(ROOT / "cdk.json", target / "cdk.json")
    return target


@pytest.fixture
def repo_copy(tmp_path) -> Path:
    return copy_inputs(tmp_path)


def resources(template: dict, kind: str) -> dict[str, dict]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def only(template: dict, kind: str) -> dict:
    found = list(resources(template, kind).values())
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def dumps(value) -> str:
    return json.dumps(value, sort_keys=True)
