"""Shared fixtures. The example app is synthesized once per session (it takes ~10 s)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.lib import cdk
from scripts.lib.repo import copy_inputs as copy_repo_inputs

ROOT = Path(__file__).resolve().parents[1]


def synthesize(root: Path, outdir: Path, env: str | None = None, overrides=None) -> dict[str, dict]:
    """Synthesize the app of `root` in-process (cdk.json flags, cdk-nag on) -> {stack: template};
    `overrides` are promote's per-deployment ones (config.deploy_override.DeployOverrides)."""
    assembly = cdk.synthesize(root, outdir, env, overrides)
    return {s.stack_name: s.template for s in assembly.stacks}


@pytest.fixture(scope="session")
def assembly_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cdk.out")


@pytest.fixture(scope="session")
def templates(assembly_dir) -> dict[str, dict]:
    return synthesize(ROOT, assembly_dir)


def copy_inputs(target: Path) -> Path:
    """A copy of the repo's inputs (environments, pins, cdk.json, github.yaml) in `target`, to break or change."""
    return copy_repo_inputs(ROOT, target)


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
