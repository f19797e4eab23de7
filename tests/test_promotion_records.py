"""What a run leaves behind, without AWS: the history (fresh lines, unreadable lines, one final record
per run, the attempt a rerun continues), the config edit under its lock, a read-only config, the
file mode, and the work directories of killed runs."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time

import pytest

from scripts.lib.errors import UserError
from scripts.lib import pids
from scripts.promotion import config_edit, deploy, history


def record(**kwargs) -> history.Record:
    base = dict(env="dev", endpoint="e", model="m", from_version="v1", to_version="v2", kind="promote",
                strategy="canary", by="t", ci_run=None)
    return history.Record(**{**base, **kwargs})


# ----- history file
def test_an_append_after_a_line_cut_short_starts_on_a_fresh_line(tmp_path):
    history.append(tmp_path, record(outcome="promoted"))
    with (tmp_path / history.HISTORY).open("a") as handle:
        handle.write('{"env": "dev", "endpoint": "e", "outcome": "prom')  # a crash mid-write
    history.append(tmp_path, record(to_version="v3", outcome="promoted"))
    loaded = history.load(tmp_path)
    assert [r["to_version"] for r in loaded.records] == ["v2", "v3"]
    assert loaded.unreadable == [2]
    assert "line 2" in loaded.warning() and "fix:" in loaded.warning()


def test_bad_bytes_and_non_objects_are_skipped_and_counted_never_fatal(tmp_path):
    path = tmp_path / history.HISTORY
    path.parent.mkdir()
    good = json.dumps({"env": "dev", "endpoint": "e", "outcome": "promoted", "kind": "promote",
                       "from_version": "v1", "to_version": "v2"})
    path.write_bytes(b"\xff\xfe\x80 latin-1 \xe9t\xe9\n" + good.encode() + b"\n[1, 2]\n\n\"text\"\n")
    loaded = history.load(tmp_path)
    assert loaded.unreadable == [1, 3, 5] and len(loaded.records) == 1
    assert history.previous_version(loaded.records, "dev", "e", "v2") == "v1"


def test_a_started_record_without_its_final_one_is_unfinished_until_closed(tmp_path):
    killed = record()
    history.append(tmp_path, killed)
    done = record(to_version="v3")
    history.append(tmp_path, done)
    history.append(tmp_path, record(to_version="v3", outcome="promoted", run_id=done.run_id))
    records = history.read(tmp_path)
    assert [r["run_id"] for r in history.unfinished(records, "dev", "e")] == [killed.run_id]
    closed = history.close_unfinished(tmp_path, records, "dev", "e", closer="new")
    assert [(c.run_id, c.outcome, c.from_version, c.to_version) for c in closed] == \
        [(killed.run_id, "abandoned", "v1", "v2")]
    assert history.unfinished(history.read(tmp_path), "dev", "e") == []


def test_a_rerun_continues_the_unsettled_attempt_at_the_same_target(tmp_path):
    history.append(tmp_path, record(outcome="promoted", from_version="v0", to_version="v1"))
    history.append(tmp_path, record(outcome="timed-out"))
    history.append(tmp_path, record(outcome="refused", from_version=None, to_version="(previous)"))
    records = history.read(tmp_path)
    assert history.unsettled_attempt(records, "dev", "e", "v2")["outcome"] == "timed-out"
    assert history.unsettled_attempt(records, "dev", "e", "v3") is None
    history.append(tmp_path, record(outcome="promoted"))
    assert history.unsettled_attempt(history.read(tmp_path), "dev", "e", "v2") is None


@pytest.mark.slow  # starts processes
def test_appends_from_many_processes_stay_whole_lines(tmp_path):
    """O_APPEND + flock: concurrent runs never interleave their lines."""
    script = ("import sys; sys.path.insert(0, sys.argv[2]);\nfrom pathlib import Path\n"
              "from scripts.promotion import history\n"
              "for i in range(40):\n    history.append(Path(sys.argv[1]), history.Record(env='dev', endpoint='e', "
              "model='m', from_version='v1', to_version='v2', kind='promote', strategy='c', by='t', reason='x' * 3000))\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), root]) for _ in range(3)]
    assert [p.wait(60) for p in procs] == [0, 0, 0]
    loaded = history.load(tmp_path)
    assert (len(loaded.records), loaded.unreadable) == (120, [])


# ----- config edit
CONFIG = "endpoints:\n" + "".join(f"  e{i}:\n    model: m\n    version: v1  # e{i}\n" for i in range(6))


def test_concurrent_edits_of_one_file_are_never_lost(tmp_path):
    """Item 2: six runs edit six endpoints of one file at once; the slow validation widens the window
    in which an unlocked read-modify-write would lose another run's edit."""
    path, lock = tmp_path / "dev.yaml", tmp_path / "locks" / "dev.config.lock"
    path.write_text(CONFIG)

    def edit(i: int) -> None:
        config_edit.set_version(path, "dev.yaml", f"e{i}", "v2", lambda: time.sleep(0.05), lock=lock)

    threads = [threading.Thread(target=edit, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert path.read_text() == CONFIG.replace("version: v1", "version: v2")


def test_an_edit_keeps_the_file_mode(tmp_path):
    path = tmp_path / "dev.yaml"
    path.write_text(CONFIG)
    path.chmod(0o664)
    config_edit.set_version(path, "dev.yaml", "e0", "v2", lambda: None)
    assert stat.S_IMODE(path.stat().st_mode) == 0o664


@pytest.mark.parametrize("mode", [0o444, 0o440])
def test_a_read_only_config_is_refused_with_one_line_even_for_root(tmp_path, mode):
    path = tmp_path / "dev.yaml"
    path.write_text(CONFIG)
    path.chmod(mode)
    with pytest.raises(UserError, match=rf"dev.yaml: read-only \(mode 0{mode:o}\); fix: "):
        config_edit.refuse_read_only(path, "dev.yaml")
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_promote_refuses_a_read_only_config_before_recording_anything(repo_copy, monkeypatch):
    from cli_helpers import run_cli

    path = repo_copy / "environments" / "dev.yaml"
    path.chmod(0o444)
    monkeypatch.setenv("PINNED_LLAMA_ROOT", str(repo_copy))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # never reached
    result = run_cli("promote", "--env", "dev", "--endpoint", "intent-3b", "--version", "v2", "--json")
    assert result.code == 2 and len(result.errors) == 1 and "read-only (mode 0444)" in result.errors[0]
    assert not (repo_copy / history.HISTORY).exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o444


# ----- work directories
def test_the_work_directories_of_dead_runs_are_swept(tmp_path, monkeypatch):
    monkeypatch.setattr(deploy.tempfile, "gettempdir", lambda: str(tmp_path))
    dead = next(pid for pid in range(4_000_000, 3_000_000, -1) if not pids.alive(pid))
    (tmp_path / f"promote-{dead}-abc").mkdir()
    (tmp_path / f"promote-{os.getpid()}-def").mkdir()
    (tmp_path / "promote-legacy").mkdir()
    removed = deploy.sweep_workdirs()
    assert [p.name for p in removed] == [f"promote-{dead}-abc"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"promote-{os.getpid()}-def", "promote-legacy"])
