"""Change an endpoint's live `version:` (promote) or `routing.mode:` (route) in environments/<env>.yaml
with a one-token edit.

The repo is the source of truth, so the file is what reviewers diff: only the
version token changes; comments, anchors, quoting and layout stay byte for
byte. The edited text is validated as the whole project before the file is
replaced in one rename, keeping the file's mode.

Promotions of different endpoints of one environment run at the same time (each
holds only its endpoint's lock) and all edit the same file: every edit takes the
file's own lock (`history/.locks/<env>.config.lock`), reads the file inside it and
changes one token, so no edit is lost to another run's read-modify-write.
"""

from __future__ import annotations

import fcntl
import os
import re
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ruamel.yaml import YAML

from config.manifest_io import write_atomic
from config.project import ENVIRONMENTS_DIR, SUFFIXES
from scripts.lib.errors import UserError

_TOKEN = re.compile(r"""("[^"]*"|'[^']*'|[^\s#,}\]]+)""")
_EXAMPLES = {"version": "vN", "mode": "api", "canary_percent": "10"}


def version_in_text(text: str, shown: str, endpoint: str, field: str = "version",
                    node: tuple[str, ...] | None = None) -> tuple[int, int, str]:
    """(line, column, token) of the value of `field` under `node` (default `endpoints.<endpoint>`; a
    component's: component_endpoints.<endpoint>.base or .adapters.<id>); `field` may be a dotted path
    (`routing.mode`, edited by `route`)."""
    data = YAML(typ="rt", pure=True).load(text)
    *parents, last = field.split(".")
    keys = (*(node or ("endpoints", endpoint)), *parents)
    where = ".".join(keys)
    try:
        found = data
        for key in keys:
            found = found[key]
        line, column = found.lc.value(last)
    except (KeyError, TypeError, AttributeError):
        raise UserError(f"{shown}: {where}.{last}: not found as a plain key; "
                        f"fix: write `{last}: {_EXAMPLES.get(last, '...')}` under {where}") from None
    match = _TOKEN.match(text.splitlines(keepends=True)[line], column)
    if match is None:
        raise UserError(f"{shown}: {where}.{last}: unreadable value; fix: write `{last}: {_EXAMPLES.get(last, '...')}`")
    return line, column, match.group(1)


def with_value(text: str, shown: str, endpoint: str, field: str, value: str,
               node: tuple[str, ...] | None = None) -> str:
    """`text` with the one token of `field` under `node` (see version_in_text) replaced (its quotes kept)."""
    line, column, token = version_in_text(text, shown, endpoint, field, node)
    quote = token[0] if token[0] in "\"'" else ""
    lines = text.splitlines(keepends=True)
    lines[line] = lines[line][:column] + f"{quote}{value}{quote}" + lines[line][column + len(token):]
    return "".join(lines)


def with_version(text: str, shown: str, endpoint: str, version: str, node: tuple[str, ...] | None = None) -> str:
    return with_value(text, shown, endpoint, "version", version, node)


def set_values(path: Path, shown: str, endpoint: str, values: dict[str, str], validate,
               lock: Path | None = None, node: tuple[str, ...] | None = None) -> str:
    """Write the file with each `field` token under `node` (see version_in_text) set; `validate()` runs
    on the written file and the old text is put back if it raises. Read, edit, validation and write
    happen under the flock `lock` (when given). Returns the old text."""
    with _locked(lock):
        old = path.read_text(encoding="utf-8")
        new = old
        for field, value in values.items():
            new = with_value(new, shown, endpoint, field, value, node)
        if new == old:
            return old
        write_atomic(path, new)
        try:
            validate()
        except BaseException:
            write_atomic(path, old)
            raise
        return old


def set_version(path: Path, shown: str, endpoint: str, version: str, validate, lock: Path | None = None,
                node: tuple[str, ...] | None = None) -> str:
    """Write the file with the endpoint's (or the component's at `node`) version set (see set_values).
    Returns the old text."""
    return set_values(path, shown, endpoint, {"version": version}, validate, lock, node)


def refuse_read_only(path: Path, shown: str) -> None:
    """One line, before anything is recorded or changed, when the file cannot be edited in place:
    not writable by this user, no write bit at all (root could still write it, but someone made it
    read-only on purpose), or a directory that refuses the rename."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if not os.access(path, os.W_OK) or not mode & 0o222:
        raise UserError(f"{shown}: read-only (mode {mode:04o}); fix: make it writable (chmod u+w {shown}) "
                        "or promote from a writable checkout")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise UserError(f"{shown}: its directory is not writable (the edit replaces the file in one rename); "
                        "fix: make the directory writable or promote from a writable checkout")


@contextmanager
def _locked(lock: Path | None) -> Iterator[None]:
    if lock is None:
        yield
        return
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # blocking: an edit takes milliseconds
        yield
    finally:
        os.close(fd)


def config_file(root: Path, env: str) -> tuple[Path, str]:
    for suffix in SUFFIXES:
        path = root / ENVIRONMENTS_DIR / f"{env}{suffix}"
        if path.is_file():
            return path, f"{ENVIRONMENTS_DIR}/{path.name}"
    raise UserError(f"--env: {ENVIRONMENTS_DIR}/{env}.yaml not found; fix: check the name")
