"""Command-line flags checked the way config is: one line `--flag: problem; fix: ...`, exit 2.

click's own usage block names the flag but not the fix; these checks say what to write
instead. Patterns come from config/fields.py, so a flag and a config field accept the same.
"""

from __future__ import annotations

import math

import click

from config.errors import SpecError
from config.fields import BUCKET_NAME, GIT_COMMIT, REGION, RESOURCE_NAME, VERSION
from scripts.lib.errors import Problem, UserError


class Number(click.ParamType):
    """A number flag with bounds, refused as one line (`1_000`, `1,000` accepted)."""

    name = "number"

    def __init__(self, kind: type = float, low: float | None = None, high: float | None = None,
                 low_open: bool = False, example: str = "10"):
        self.kind, self.low, self.high, self.low_open, self.example = kind, low, high, low_open, example

    def convert(self, value, param, ctx):  # noqa: ANN001 - click's signature
        flag = param.opts[0] if param is not None and param.opts else "value"
        text = str(value).strip().replace("_", "").replace(",", "")
        try:
            number = float(text)
        except ValueError:
            raise UserError(f"{flag}: '{value}' is not a number; fix: write e.g. {flag} {self.example}") from None
        if not math.isfinite(number):
            raise UserError(f"{flag}: '{value}' is not a finite number; fix: write e.g. {flag} {self.example}")
        if self.kind is int:
            if number != int(number):
                raise UserError(f"{flag}: '{value}' is not a whole number; fix: write e.g. {flag} {self.example}")
            number = int(number)
        if self.low is not None and (number < self.low or (self.low_open and number == self.low)):
            bound = f"above {self.low:g}" if self.low_open else f"at least {self.low:g}"
            raise UserError(f"{flag}: {value} is out of range; fix: use a value {bound}"
                            + (f" and at most {self.high:g}" if self.high is not None else ""))
        if self.high is not None and number > self.high:
            raise UserError(f"{flag}: {value} is out of range; fix: use a value of at most {self.high:g}")
        return number


def required(flag: str, value: object, fix: str) -> None:
    if value is None:
        raise UserError(f"{flag}: missing; fix: {fix}")


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


def check_bucket(bucket: str) -> None:
    if not BUCKET_NAME.match(bucket):
        raise UserError(f"--bucket: '{bucket}' is not an S3 bucket name; fix: use the bucket's name, without s3://")


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
