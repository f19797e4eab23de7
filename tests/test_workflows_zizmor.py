"""zizmor (GitHub Actions security linter, offline) finds nothing of medium severity or above in .github/:
no checkout keeps the job token in .git/config (artipacked); only the step that pushes is given it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow  # full tier: a subprocess


def test_zizmor_finds_nothing_medium_or_above_in_github_workflows():
    zizmor = Path(sys.executable).parent / "zizmor"  # pinned in requirements-dev.txt
    result = subprocess.run([str(zizmor), "--offline", "--min-severity", "medium", "--format", "plain", ".github"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_every_checkout_drops_the_job_token():
    for path in sorted((ROOT / ".github").rglob("*.yml")):
        lines = [line.strip() for line in path.read_text().splitlines()]
        checkouts = sum(line.startswith(("- uses: actions/checkout@", "uses: actions/checkout@")) for line in lines)
        assert checkouts == sum(line.startswith("persist-credentials: false") for line in lines), path
