"""Shared fixtures. The example app is synthesized once per session (it takes ~10 s)."""

from __future__ import annotations

import fcntl
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
def assembly_dir(tmp_path_factory, worker_id) -> Path:
    """Where the example is synthesized: one directory for every pytest-xdist worker of the run
    (the `templates` fixture fills it once: the synth is ~20 s of CPU on a 2-core machine)."""
    if worker_id == "master":
        return tmp_path_factory.mktemp("cdk.out")
    return tmp_path_factory.getbasetemp().parent / "cdk.out"


@pytest.fixture(scope="session")
def templates(assembly_dir) -> dict[str, dict]:
    """Every template of the example app. Under xdist the first worker to ask synthesizes, under a
    lock, and writes them next to the assembly; the others wait and read them (pytest-xdist's
    documented pattern for a session fixture that must run once)."""
    done = assembly_dir.with_name(assembly_dir.name + ".templates.json")
    with open(assembly_dir.with_name(assembly_dir.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.is_file():
            return json.loads(done.read_text())
        templates = synthesize(ROOT, assembly_dir)
        done.write_text(json.dumps(templates))
        return templates


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
