"""The e2e lab: dev deployed into the emulator once per module, one endpoint per test.

Each test promotes its own endpoint (`dev-<key>`), so tests do not depend on
each other's outcome; they share the scratch repo, its config file and history.
`promote` runs in this process (the emulator is in-process too), through the
CLI's own entry point, so exit codes and error lines are the user's.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Iterator

import pytest

from cli_helpers import Result, run_cli
from localaws.emulator import Timings
from localaws.lab import Lab

ENDPOINT_BLOCK = """
  {key}:
    model: llama-3-2-3b-instruct
    version: v1
    instance_type: ml.g5.xlarge
    instances: {{initial: 2, min: 2, max: 4}}
    autoscaling: {{metric: concurrent-requests, target: 8}}
    deployment: {{strategy: canary, canary_size: {{type: capacity-percent, value: 50}}, wait_seconds: 300, baking_seconds: 300}}
    evaluation: *intent-eval
    smoke_test: *intent-smoke
"""


def add_endpoints(keys: list[str]):
    def prepare(root: Path) -> None:
        path = root / "environments" / "dev.yaml"
        path.write_text(with_endpoints(path.read_text(), keys))
    return prepare


def with_endpoints(text: str, keys: list[str]) -> str:
    """dev.yaml's text with an endpoint block per key at the end of its `endpoints:` mapping (other
    top-level keys, such as component_endpoints:, may follow it)."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("endpoints:"))
    end = next((i for i in range(start + 1, len(lines)) if lines[i][:1] not in ("", " ", "\n", "#")), len(lines))
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1  # a blank line or a comment before the next key belongs to it
    blocks = "".join(ENDPOINT_BLOCK.format(key=k) for k in keys).lstrip("\n")
    if lines[end - 1][-1:] != "\n":
        lines[end - 1] += "\n"
    return "".join(lines[:end]) + blocks + "".join(lines[end:])


def children(pid: int, matching: str = "") -> list[int]:
    """Child processes of `pid` (Linux /proc) whose command line contains `matching`, leaving out
    the jsii kernel: the in-process synth's Node child lives as long as its Python process."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return [c for c in found if matching in _cmdline(c) and "jsii-runtime" not in _cmdline(c)]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


@pytest.fixture(scope="module")
def lab_factory(tmp_path_factory) -> Iterator:
    """lab_factory(keys) -> a started Lab with those endpoints deployed; stopped at module end,
    with a check that its port is closed and no process it started is left."""
    labs: list[Lab] = []

    def make(keys: list[str]) -> Lab:
        lab = Lab(tmp_path_factory.mktemp("lab"), speed=50.0, prepare=add_endpoints(keys),
                  timings=Timings(create_s=60, provision_s=60, rollback_s=30, wait_scale=0.25))
        labs.append(lab)
        lab.start()
        lab.deploy_environment(endpoints=keys)
        return lab

    yield make
    for lab in labs:
        port = lab.emulator.port
        lab.stop()
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, "the emulator's port is still open"
    assert children(os.getpid()) == [], "a process started by the lab is still running"


def module_lab(keys: list[str]):
    """The `lab` fixture of a module: dev deployed once, with an endpoint per key."""
    @pytest.fixture(scope="module")
    def lab(lab_factory) -> Lab:
        return lab_factory(keys)
    return lab


def use_lab(monkeypatch: pytest.MonkeyPatch, lab: Lab) -> None:
    """Point this process's AWS clients and commands at the lab."""
    from scripts.lib import aws

    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in lab.environ().items():
        if name.startswith("AWS_") or name in ("PINNED_LLAMA_ROOT", "HOME", "CDK_DISABLE_CLI_TELEMETRY"):
            monkeypatch.setenv(name, value)
    aws.client.cache_clear()


@pytest.fixture
def on_lab(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    """One test's AWS clients on the module's lab; after it, no throttling or stuck update is left
    for the next test (`from lab_helpers import on_lab`: pytest registers it)."""
    use_lab(monkeypatch, lab)
    yield lab
    lab.emulator.throttle(0)
    lab.emulator.stick_updates(None, stuck=False)


def promote(*args: str) -> Result:
    return run_cli("promote", "--poll", "0.2", "--json", *args)


def history_of(lab: Lab, key: str) -> list[dict]:
    from scripts.promotion import history

    return [r for r in history.read(lab.root) if r["endpoint"] == key]


def config_version(lab: Lab, key: str) -> str:
    from config.project import load_project

    return load_project(lab.root, "dev").environments["dev"].endpoints[key].version


def live_version(lab: Lab, key: str) -> str | None:
    return lab.emulator.live_version(f"dev-{key}")
