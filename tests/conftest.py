"""Shared fixtures. The example app is synthesized once per run (~10 s), on the worker that builds stacks."""

from __future__ import annotations

import fcntl
import functools
import itertools
import json
import re
from pathlib import Path

import pytest

from scripts.lib import cdk
from scripts.lib.repo import copy_inputs as copy_repo_inputs

ROOT = Path(__file__).resolve().parents[1]


TIER_MARKS = ("slow", "e2e")  # pytest.ini's markers
_MODULE_TIER = re.compile(r"^pytestmark = pytest\.mark\.(slow|e2e)\b", re.MULTILINE)


def pytest_ignore_collect(collection_path: Path, config):
    """Skip importing a module whose every test the `-m` expression deselects (`pytestmark =
    pytest.mark.slow` at its top). pytest would import it and then deselect each test: for the
    fast tier that is moto, the emulator and their helpers loaded by each worker for nothing."""
    if collection_path.suffix != ".py" or not collection_path.name.startswith("test_"):
        return None
    markexpr = config.getoption("markexpr")
    if not markexpr:
        return None
    found = _MODULE_TIER.search(collection_path.read_text(encoding="utf-8"))
    if found is None:
        return None
    from _pytest.mark.expression import Expression

    expression = Expression.compile(markexpr)
    others = [m for m in TIER_MARKS if m != found.group(1)]
    for values in itertools.product((False, True), repeat=len(others)):  # whatever else a test carries
        marks = {found.group(1), *(m for m, on in zip(others, values) if on)}
        if expression.evaluate(lambda name, marks=marks: name in marks):
            return None
    return True


def synthesize(root: Path, outdir: Path, env: str | None = None, overrides=None) -> dict[str, dict]:
    """Synthesize the app of `root` in-process (cdk.json flags, cdk-nag on) -> {stack: template};
    `overrides` are promote's per-deployment ones (config.deploy_override.DeployOverrides)."""
    assembly = cdk.synthesize(root, outdir, env, overrides)
    return {s.stack_name: s.template for s in assembly.stacks}


CDK_GROUP = 'pytest.mark.xdist_group("cdk")'


@functools.lru_cache(maxsize=None)
def _builds_stacks(module: str) -> bool:
    return CDK_GROUP in (ROOT / module).read_text(encoding="utf-8")


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: unknown to pytest -p no:xdist
def pytest_xdist_make_scheduler(config, log):
    """make's `--dist loadgroup`, with the modules that build stacks in this process (`pytestmark =
    pytest.mark.xdist_group("cdk")`) as one unit on one worker: jsii's Node process costs each
    process that starts it ~3-6 s of CPU, and that worker also makes the session's synth, which the
    other tests only read. (pytest-xdist 3.8 would group by that mark, but under pytest 9.2 its
    renaming of the node id is lost, so the unit is chosen here, by module, from the same mark.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class StackBuildersTogether(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:  # largest unit first: this one
            return "cdk" if _builds_stacks(nodeid.split("::", 1)[0]) else nodeid

    return StackBuildersTogether(config, log)


@pytest.fixture(autouse=True)
def _synth_on_the_cdk_worker(request):
    """The "cdk" unit's worker makes the session's synth before its first test (see above)."""
    if request.node.get_closest_marker("xdist_group") is not None:
        request.getfixturevalue("templates")


@pytest.fixture(scope="session")
def assembly_dir(tmp_path_factory, pytestconfig) -> Path:
    """Where the example is synthesized: one directory for every pytest-xdist worker of the run."""
    if not hasattr(pytestconfig, "workerinput"):  # not under xdist (or xdist not installed)
        return tmp_path_factory.mktemp("cdk.out")
    return tmp_path_factory.getbasetemp().parent / "cdk.out"


@pytest.fixture(scope="session")
def templates(assembly_dir) -> dict[str, dict]:
    """Every template of the example app. Under xdist the first worker to ask (the "cdk" unit's,
    see above) synthesizes, under a lock, and writes them next to the assembly; any other waits
    and reads them (pytest-xdist's documented pattern for a session fixture that must run once)."""
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
