"""`python -m scripts validate` as users and CI run it: a subprocess on a temp copy of the repo.

Each subprocess costs about a second, so there are few of them; the rules
themselves are covered in test_config_validation.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from config_helpers import DEV, PIN_1B, PROD, REPO, STAGING, copy_tree, line_of

pytestmark = pytest.mark.slow  # full tier: the command in a subprocess, as CI runs it


def run(*args: str, root=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINNED_LLAMA_")}
    if root is not None:
        env["PINNED_LLAMA_ROOT"] = str(root)
    return subprocess.run([sys.executable, "-m", "scripts", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.fixture
def tree(tmp_path):
    return copy_tree(tmp_path)


def test_broken_tree_exits_2_with_every_error_on_its_own_line(tree):
    tree.replace(DEV, "object_lock_days: 30", "object_lock_days: 30\nnotfy: []")
    tree.replace(STAGING, "  intent-3b:", "\tintent-3b:")
    tree.replace(PROD, "container_startup_seconds: 1800", "container_startup_seconds: 30")
    tree.replace(PIN_1B, "  max_batch_size: 128", "  max_batch_size: 129")
    result = run("validate", root=tree.root)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""  # nothing on stdout: a pipeline reading it sees no half result
    lines = result.stderr.splitlines()
    assert lines[-1] == "4 problem(s) found; nothing was changed"
    errors = lines[:-1]
    assert len(errors) == 4 and all(line.startswith("error: ") and "; fix: " in line for line in errors)
    wanted = [f"error: {DEV}:", f"error: {PROD}:", f"error: {STAGING}:", f"error: {PIN_1B}:"]
    for line, start in zip(errors, wanted):  # sorted by file
        assert line.startswith(start), (line, start)
    line = line_of(tree.text(PROD), "container_startup_seconds: 30")
    assert f"error: {PROD}:{line}: endpoints.intent-3b.timeouts.container_startup_seconds: " in result.stderr
    assert ": notfy: unknown key; fix: remove it or correct its spelling (allowed: " in result.stderr
    assert ": manifest_sha256: manifest_sha256 does not match the pinned content" in result.stderr


def test_valid_tree_exits_0_and_prints_json_when_not_a_terminal(tree):
    result = run("validate", root=tree.root)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    event = json.loads(result.stdout)
    assert event["event"] == "valid"
    assert event["environments"] == ["dev", "prod", "staging"]
    assert event["pins"] == ["llama-3-2-1b-instruct/v1", "llama-3-2-3b-instruct/v1", "llama-3-2-3b-instruct/v2"]


def test_unknown_env_is_one_clear_line_and_exit_2(tree):
    result = run("validate", "--env", "nosuch", root=tree.root)
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        "error: environments/: (file): no environment named 'nosuch'; fix: use one of: dev, prod, staging",
        "1 problem(s) found; nothing was changed",
    ]


def test_help_documents_the_command_and_its_flags():
    result = run("validate", "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout and "--env" in result.stdout and "--json" in result.stdout
    assert "Exit 0 when valid, 2 otherwise." in " ".join(result.stdout.split())
