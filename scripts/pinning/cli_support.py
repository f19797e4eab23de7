"""Small helpers the pinning commands share: flag checks, bucket choice, thread-safe progress."""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from scripts.lib.errors import UserError
from config.errors import SpecError
from config.fields import GIT_COMMIT, RESOURCE_NAME, VERSION

REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")


from scripts.pinning.manifests import Problem  # noqa: E402,F401 - re-exported for the commands


def flag_error(flag: str, problem: str, fix: str) -> SpecError:
    """An error about a command-line flag, printed as `error: --flag: problem; fix: ...`."""
    return Problem(flag, "", problem, fix)


def check_model(model: str) -> list[SpecError]:
    if RESOURCE_NAME.match(model) and len(model) <= 48:
        return []
    return [flag_error("--model", f"'{model}' is not a valid model name",
                       "use 1-48 lower-case letters, digits and single hyphens, e.g. llama-3-2-3b-instruct")]


def check_version(version: str, flag: str = "--version") -> list[SpecError]:
    if VERSION.match(version):
        return []
    return [flag_error(flag, f"'{version}' is not a valid version name",
                       "use 1-32 lower-case letters, digits, '.' or '-', e.g. v3")]


def check_revision(revision: str) -> list[SpecError]:
    if GIT_COMMIT.match(revision):
        return []
    return [flag_error("--revision", f"'{revision}' is not a 40-hex commit id (branches and tags move)",
                       "pass the full commit sha of the Hugging Face snapshot (the repo's commit page, or "
                       "refs/main in the HF cache)")]


def parse_regions(value: str | None) -> tuple[list[str], list[SpecError]]:
    if not value:
        return [], []
    regions = [r.strip() for r in value.split(",") if r.strip()]
    bad = [r for r in regions if not REGION.match(r)]
    if bad:
        return regions, [flag_error("--regions", f"'{', '.join(bad)}' is not an AWS region name",
                                    "write regions like us-east-1,eu-west-1 (comma-separated)")]
    if len(set(regions)) != len(regions):
        return regions, [flag_error("--regions", "a region is listed twice", "list each region once")]
    return regions, []


def bucket_and_region(root: Path, bucket: str | None, env: str | None, region: str | None,
                      required: bool = True) -> tuple[str | None, str | None]:
    """--bucket B, or --env E (its weights_bucket_name, in its region); --region overrides the region."""
    if bucket and env:
        raise UserError("--bucket/--env: both given; fix: pass one of them")
    if env:
        from scripts.pinning.manifests import environment

        config = environment(root, env)
        return config.weights_bucket_name, region or config.region
    if not bucket and required:
        raise UserError("--bucket: missing; fix: pass --bucket NAME or --env NAME "
                        "(the environment's weights bucket)")
    if bucket and not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", bucket):
        raise UserError(f"--bucket: '{bucket}' is not an S3 bucket name; fix: use the bucket's name, without s3://")
    return bucket, region


class _Locked:
    def __init__(self, ticker: Any):
        self.ticker = ticker
        self.lock = threading.Lock()

    def advance(self, amount: float = 1) -> None:
        with self.lock:
            self.ticker.advance(amount)


@contextmanager
def progress(out: Any, description: str, total: float | None) -> Iterator[Callable[[int], None]]:
    """Output.progress in bytes, with an `advance` that worker threads may call."""
    with out.progress(description, total, unit_bytes=True) as ticker:
        yield _Locked(ticker).advance


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"  # pragma: no cover
