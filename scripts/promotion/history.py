"""history/promotions.jsonl: one JSON line per promotion attempt, kept in the repo.

A run writes a `started` line before it changes anything and exactly one final line
(same `run_id`) when it ends, whatever the ending: a run killed before it could write
its final line (kill -9, a lost machine) is closed by the next run of that endpoint in
this checkout, with outcome `abandoned`. CI commits the file with the config change;
`rollback` reads it to find the version that was live before; `status` shows a run
that has not finished.

Appends take an flock on the file and start on a fresh line: a line cut short by a
crash (or a bad merge) is never glued to the next record. Readers skip what they
cannot read (bad JSON, bad bytes) and say which lines: a broken line must never stop
a rollback at 3 a.m.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import socket
import subprocess
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HISTORY = Path("history") / "promotions.jsonl"
STARTED, ABANDONED = "started", "abandoned"
# Ended without the endpoint on the target and without a verdict on the version: a rerun
# to the same target continues that attempt (follows its deployment, keeps its `from`).
UNSETTLED = (STARTED, "interrupted", "error", "timed-out", ABANDONED)


@dataclass
class Record:
    env: str
    endpoint: str  # the config key, e.g. intent-3b
    model: str
    from_version: str | None
    to_version: str
    kind: str  # promote | rollback | resize | route
    strategy: str
    # started | promoted | routed | refused | rolled-back | deploy-failed | smoke-failed | timed-out | interrupted |
    # error | abandoned (written by the next run for a run that never wrote its final line)
    outcome: str = STARTED
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
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])  # pairs `started` with its final line
    live_at_end: str | None = None  # the version SageMaker said was live when the run ended; None: unknown


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
    """One line, on a line of its own, fsynced, under an flock (two runs never interleave)."""
    path = root / HISTORY
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(asdict(record), sort_keys=False) + "\n").encode()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # the last line was cut short: it stays unreadable, this one stays whole
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)  # releases the flock


@dataclass
class Loaded:
    records: list[dict[str, Any]]
    unreadable: list[int]  # line numbers skipped: not UTF-8, not JSON, or not a JSON object

    def warning(self) -> str | None:
        if not self.unreadable:
            return None
        shown = ", ".join(str(n) for n in self.unreadable[:8]) + (" …" if len(self.unreadable) > 8 else "")
        return (f"{HISTORY}: {len(self.unreadable)} unreadable line(s) skipped (line {shown}); "
                "fix: restore them from git or delete them")


def load(root: Path) -> Loaded:
    path = root / HISTORY
    if not path.is_file():
        return Loaded([], [])
    records, unreadable = [], []
    for number, raw in enumerate(path.read_bytes().split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            record = None
        if isinstance(record, dict):
            records.append(record)
        else:
            unreadable.append(number)
    return Loaded(records, unreadable)


def read(root: Path) -> list[dict[str, Any]]:
    """The readable records, oldest first (see `load` for the lines skipped)."""
    return load(root).records


def of_endpoint(records: list[dict], env: str, endpoint: str) -> list[dict]:
    return [r for r in records if r.get("env") == env and r.get("endpoint") == endpoint]


def unfinished(records: list[dict], env: str, endpoint: str) -> list[dict]:
    """`started` records of the endpoint with no final record of the same run. A record
    without run_id (written before run ids existed) counts only as the endpoint's last record."""
    mine = of_endpoint(records, env, endpoint)
    finished = {r.get("run_id") for r in mine if r.get("outcome") != STARTED and r.get("run_id")}
    return [r for i, r in enumerate(mine) if r.get("outcome") == STARTED
            and (r["run_id"] not in finished if r.get("run_id") else i == len(mine) - 1)]


def unsettled_attempt(records: list[dict], env: str, endpoint: str, target: str) -> dict | None:
    """The newest attempt at `target` that ended without a verdict (killed, interrupted, timed
    out, AWS unreachable), if nothing settled the endpoint since. Its deployment may have gone
    on in AWS: a rerun follows it, and records the `from` that attempt started from."""
    for record in reversed(of_endpoint(records, env, endpoint)):
        outcome = record.get("outcome")
        if outcome == "refused" or (outcome == STARTED and _closed(records, record)):
            continue
        if outcome in UNSETTLED and record.get("to_version") == target:
            return record
        return None
    return None


def _closed(records: list[dict], started: dict) -> bool:
    run = started.get("run_id")
    return bool(run) and any(r.get("run_id") == run and r.get("outcome") != STARTED for r in records)


def previous_version(records: list[dict], env: str, endpoint: str, live: str | None) -> str | None:
    """The version that was live before `live`: the `from` of the last successful promotion to it.
    Rollbacks are passed over, so a second rollback goes further back, never forward again."""
    for record in reversed(records):
        if record.get("env") == env and record.get("endpoint") == endpoint and record.get("outcome") == "promoted" \
                and record.get("kind") == "promote" \
                and record.get("to_version") == live and record.get("from_version") not in (None, live):
            return record["from_version"]
    return None


def refuse_unwritable(root: Path) -> None:
    """The history must take the record: checked before anything is recorded or changed."""
    from scripts.lib.errors import UserError

    path = root / HISTORY
    existing = path if path.exists() else next((p for p in path.parents if p.exists()), root)
    if not os.access(existing, os.W_OK) or (path.exists() and not path.stat().st_mode & 0o222):
        raise UserError(f"{HISTORY}: not writable; fix: make it (and history/) writable, or promote "
                        "from a writable checkout")


def close_unfinished(root: Path, records: list[dict], env: str, endpoint: str, closer: str) -> list[Record]:
    """Append an `abandoned` final record for each unfinished run of the endpoint (its process is
    gone: the caller holds the endpoint's lock), on behalf of that run. Returns them."""
    closed = []
    for started in unfinished(records, env, endpoint):
        run = started.get("run_id")
        record = Record(env=env, endpoint=endpoint, model=started.get("model") or "?",
                        from_version=started.get("from_version"), to_version=started.get("to_version") or "?",
                        kind=started.get("kind") or "?", strategy=started.get("strategy") or "?", outcome=ABANDONED,
                        reason=f"run {run or '(no run id)'} (started {started.get('started_at')}) ended without a "
                               f"final record: killed or crashed; closed by run {closer}, which reads the endpoint "
                               "from SageMaker",
                        by=started.get("by") or "?", started_at=started.get("started_at") or "?",
                        finished_at=now_iso(), ci_run=started.get("ci_run"), run_id=run or f"{closer}-old")
        append(root, record)
        closed.append(record)
    return closed
