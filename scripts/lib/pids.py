"""Whether a process id still names a running process: how a command tells the leftovers of a run
that was killed with -9 (no handler ran) from those of a run going on beside it (promote's work
directories, synth's staging directory)."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: existence and permission checks only, nothing is sent
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
