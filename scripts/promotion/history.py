"""history/promotions.jsonl: one JSON line per promotion attempt, kept in the repo.

Appended with one write() on a file opened O_APPEND, so a crash leaves whole
lines; CI commits the file with the config change. `rollback` reads it to
find the version that was live before.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HISTORY = Path("history") / "promotions.jsonl"


@dataclass
class Record:
    env: str
    endpoint: str  # the config key, e.g. intent-3b
    model: str
    from_version: str | None
    to_version: str
    kind: str  # promote | rollback | resize | route
    strategy: str
    outcome: str = "started"  # started | promoted | routed | refused | rolled-back | deploy-failed | smoke-failed | timed-out | interrupted
    exit_code: int | None = None
    reason: str = ""
    by: str = field(default_factory=lambda: who())
    started_at: str = field(default_factory=lambda: now_iso())
    finished_at: str | None = None
    durations_s: dict[str, float] = field(default_factory=dict)
    stages: list[str] = field(default_factory=list)  # endpoint statuses seen while watching
    config_restored_to: str | None = None
    ci_run: str | None = field(default_factory=lambda: ci_run_url())
    # route (scripts/routing): the application client's routing before and after, e.g. "shadow", "canary 10%"
    from_route: str | None = None
    to_route: str | None = None


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def who() -> str:
    """GitHub actor in CI, else git's user.email, else the login name."""
    if os.environ.get("GITHUB_ACTOR"):
        return f"github:{os.environ['GITHUB_ACTOR']}"
    try:
        email = subprocess.run(["git", "config", "user.email"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        email = ""
    return email or f"{getpass.getuser()}@{socket.gethostname()}"


def ci_run_url() -> str | None:
    env = os.environ
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        return f"{env.get('GITHUB_SERVER_URL', 'https://github.com')}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    return None


def append(root: Path, record: Record) -> None:
    path = root / HISTORY
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(asdict(record), sort_keys=False) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read(root: Path) -> list[dict[str, Any]]:
    path = root / HISTORY
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a hand-edited or merged-over line: skipped, never fatal for a rollback at 3 a.m.
    return records


def previous_version(records: list[dict], env: str, endpoint: str, live: str | None) -> str | None:
    """The version that was live before `live`: the `from` of the last successful promotion to it.
    Rollbacks are passed over, so a second rollback goes further back, never forward again."""
    for record in reversed(records):
        if record.get("env") == env and record.get("endpoint") == endpoint and record.get("outcome") == "promoted" \
                and record.get("kind") == "promote" \
                and record.get("to_version") == live and record.get("from_version") not in (None, live):
            return record["from_version"]
    return None
