"""Run a command that must not outlive the process that started it: `python tether.py CMD...`.

`promote` runs the CDK CLI in the background while it watches the endpoint. If
`promote` is killed (kill -9 included, when no handler runs), a CLI left behind would
go on deploying for a run that no longer exists: the lock is gone, the config was
restored, and the next command would report a state that the orphan then changes.

The tether sits between the two. Its stdin is a pipe whose write end only the parent
holds: the kernel closes it when the parent dies, however it dies, and the tether then
ends the command (SIGTERM, then SIGKILL after a grace period). On Linux the command
also gets PR_SET_PDEATHSIG, so it dies if the tether itself is killed; the tether has
no other thread when it forks, which keeps that pre-exec step safe. The command stays
in the caller's process group, so a Ctrl-C on the terminal or a kill of the whole
group reaches it directly. SIGTERM, SIGINT and SIGHUP to the tether end the command
too. The exit code is the command's (128 + signal if a signal ended it).

Killing the CLI stops nothing in AWS: a change set already executed goes on in
CloudFormation, which `promote` reads back (stack status, PendingDeploymentSummary).
Run as a file, not a module: it imports nothing of this project.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

GRACE_S = 5.0


def _pdeathsig(tether: int):
    def preexec() -> None:
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            return
        if os.getppid() != tether:  # the tether died before prctl took effect
            os._exit(128 + signal.SIGKILL)
    return preexec


def main(argv: list[str]) -> int:
    preexec = _pdeathsig(os.getpid()) if sys.platform.startswith("linux") else None
    ended = threading.Event()
    started: list[subprocess.Popen] = []

    def end(*_args) -> None:
        if ended.is_set():
            return
        ended.set()
        if not started:
            return  # a signal before the command started: it is ended as soon as it exists
        child = started[0]
        child.send_signal(signal.SIGTERM)
        timer = threading.Timer(GRACE_S, lambda: child.poll() is None and child.kill())
        timer.daemon = True
        timer.start()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, end)
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, preexec_fn=preexec)
    started.append(child)
    if ended.is_set():
        ended.clear()
        end()

    def watch_parent() -> None:
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        end()  # EOF: the parent is gone (or closed the pipe to say stop), even if it died before this read

    threading.Thread(target=watch_parent, daemon=True).start()
    code = child.wait()
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
