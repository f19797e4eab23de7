"""Exit codes (documented in docs/operations.md), the errors that carry them, and how they are printed."""

from __future__ import annotations

import sys
from enum import IntEnum
from typing import TextIO

from config.errors import SpecError, SpecErrors


class Exit(IntEnum):
    OK = 0
    CHECK_FAILED = 1  # the command ran and found a problem (verify mismatch, synth failed)
    INVALID_INPUT = 2  # a config, pin manifest or flag is wrong: nothing was changed
    AWS_ERROR = 3  # AWS refused or failed a call (credentials, permissions, throttling after retries)
    # promote / rollback (docs/operations.md): the config names the version actually live afterwards
    GATE_REFUSED = 4  # a gate refused (or another deployment is in flight): nothing was changed
    ROLLED_BACK = 5  # SageMaker rolled the deployment back (a rollback alarm fired)
    DEPLOY_FAILED = 6  # CloudFormation failed the update, or the endpoint ended Failed
    SMOKE_FAILED = 7  # live but not as pinned, or a smoke test failed: rolled back to the previous version
    TIMED_OUT = 8  # still deploying at --timeout: the deployment goes on in AWS
    INTERRUPTED = 130
    INTERNAL = 70  # a bug: please report it with --debug output


class UserError(Exception):
    """A problem the user can fix: printed as one line, never as a traceback."""

    def __init__(self, message: str, exit_code: Exit = Exit.INVALID_INPUT):
        super().__init__(message)
        self.exit_code = exit_code


class CheckFailed(UserError):
    def __init__(self, message: str):
        super().__init__(message, Exit.CHECK_FAILED)


class Problem(SpecError):
    """A problem with a flag or a place that is not a config file: `<flag or place>: [field: ]problem; fix: ...`
    (a SpecError prints '(file)' for an empty field)."""

    def __str__(self) -> str:
        field = f"{self.field}: " if self.field else ""
        return f"{self.file}: {field}{self.problem}; fix: {self.fix}"


def fail(problems: list[SpecError]) -> None:
    """Raise every problem found, if any: one as a single `error:` line, several as SpecErrors (one line each)."""
    if len(problems) == 1:
        raise UserError(str(problems[0]))
    if problems:
        raise SpecErrors(problems)


def print_spec_errors(exc: SpecErrors, stream: TextIO | None = None) -> None:
    """Every problem on its own `error:` line, then how many: the one way config errors reach a user
    (the CLI, app.py under `cdk synth`, the workflow helpers)."""
    stream = stream or sys.stderr
    for error in exc.errors:
        print(f"error: {error}", file=stream)
    print(f"{len(exc.errors)} problem(s) found; nothing was changed", file=stream)
