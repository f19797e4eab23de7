"""Where the repo is, and its validated project (environments + pins)."""

from __future__ import annotations

import os
from pathlib import Path

from config.project import Project, load_project

ROOT = Path(__file__).resolve().parents[2]


def repo_root() -> Path:
    """The repo the commands act on: $PINNED_LLAMA_ROOT (used by tests) or this checkout."""
    return Path(os.environ.get("PINNED_LLAMA_ROOT", ROOT)).resolve()


def project(env: str | None = None) -> Project:
    return load_project(repo_root(), only_env=env)
