"""Where the repo is, its validated project (environments + pins), and scratch copies of its inputs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from config.project import ENVIRONMENTS_DIR, PINS_DIR, Project, load_project

ROOT = Path(__file__).resolve().parents[2]
# What a synth reads besides the code: a scratch copy of these synthesizes what the repo would.
INPUTS = (ENVIRONMENTS_DIR, PINS_DIR, "cdk.json", "github.yaml")


def repo_root() -> Path:
    """The repo the commands act on: $PINNED_LLAMA_ROOT (used by tests) or this checkout."""
    return Path(os.environ.get("PINNED_LLAMA_ROOT", ROOT)).resolve()


def project(env: str | None = None) -> Project:
    return load_project(repo_root(), only_env=env)


def copy_inputs(source: Path, target: Path, names: tuple[str, ...] = INPUTS) -> Path:
    """A copy of `source`'s inputs in `target` (created), to change without touching the repo:
    `promote --dry-run`'s edited config, the emulator lab, tests. Missing optional inputs are skipped."""
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, target / name)
        elif path.is_file():
            shutil.copy2(path, target / name)
    return target
