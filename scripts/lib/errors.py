"""Exit codes (documented in docs/operations.md) and the errors that carry them."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    CHECK_FAILED = 1  # the command ran and found a problem (verify mismatch, synth failed)
    INVALID_INPUT = 2  # a config, pin manifest or flag is wrong: nothing was changed
    AWS_ERROR = 3  # AWS refused or failed a call (credentials, permissions, throttling after retries)
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
