"""Exit codes (documented in docs/operations.md) and the errors that carry them."""

from __future__ import annotations

from enum import IntEnum


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
