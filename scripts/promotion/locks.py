"""The locks of a checkout (history/.locks/, not committed): one promotion per endpoint, and one
edit at a time of an environment's config file.

flock locks: the kernel releases them when the process ends, kill -9 included. They order runs
in one checkout only; across checkouts and CI runners, the endpoint's own status and its stack's
status (`stack.py`) say that a deployment is in flight.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from config import naming

LOCKS = Path("history") / ".locks"


class Busy(Exception):
    """Another process of this checkout holds the lock (its pid in the message)."""


def endpoint_lock(root: Path, env: str, endpoint: str) -> IO[str]:
    """Take the endpoint's promotion lock without waiting; Busy if another run holds it. Closing the
    returned file releases it."""
    return _take(root / LOCKS / naming.lock_file(env, endpoint))


def route_lock(root: Path, env: str, endpoint: str) -> IO[str]:
    """Take the endpoint's `route` lock without waiting (one route change per endpoint); Busy if held."""
    return _take(root / LOCKS / naming.route_lock_file(env, endpoint))


def _take(path: Path) -> IO[str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise Busy(holder) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    return handle


def config_lock(root: Path, env: str) -> Path:
    """The lock file every edit of environments/<env>.yaml takes (config_edit.set_version)."""
    return root / LOCKS / naming.config_lock_file(env)
