"""Change an endpoint's live `version:` in environments/<env>.yaml with a one-token edit.

The repo is the source of truth, so the file is what reviewers diff: only the
version token changes; comments, anchors, quoting and layout stay byte for
byte. The edited text is validated as the whole project before the file is
replaced in one rename.
"""

from __future__ import annotations

import re
from pathlib import Path

from ruamel.yaml import YAML

from scripts.lib.errors import UserError
from config.manifest_io import write_atomic

_TOKEN = re.compile(r"""("[^"]*"|'[^']*'|[^\s#,}\]]+)""")


def version_in_text(text: str, shown: str, endpoint: str, field: str = "version",
                    path: tuple[str, ...] | None = None) -> tuple[int, int, str]:
    """(line, column, token) of `endpoints.<endpoint>.<field>`'s value (or of the node at `path`'s)."""
    data = YAML(typ="rt", pure=True).load(text)
    path = path or ("endpoints", endpoint)
    where = ".".join(path)
    try:
        node = data
        for key in path:
            node = node[key]
        line, column = node.lc.value(field)
    except (KeyError, TypeError, AttributeError):
        raise UserError(f"{shown}: {where}.{field}: not found as a plain key; "
                        f"fix: write `{field}: vN` under {where}") from None
    match = _TOKEN.match(text.splitlines(keepends=True)[line], column)
    if match is None:
        raise UserError(f"{shown}: {where}.{field}: unreadable value; fix: write `{field}: vN`")
    return line, column, match.group(1)


def with_version(text: str, shown: str, endpoint: str, version: str, path: tuple[str, ...] | None = None) -> str:
    line, column, token = version_in_text(text, shown, endpoint, path=path)
    quote = token[0] if token[0] in "\"'" else ""
    lines = text.splitlines(keepends=True)
    lines[line] = lines[line][:column] + f"{quote}{version}{quote}" + lines[line][column + len(token):]
    return "".join(lines)


def set_version(path: Path, shown: str, endpoint: str, version: str, validate,
                node: tuple[str, ...] | None = None) -> str:
    """Write the file with the endpoint's version set (or the version of the node at `node`, e.g. a
    component's); `validate()` runs on the written file and the old text is put back if it raises.
    Returns the old text."""
    old = path.read_text(encoding="utf-8")
    new = with_version(old, shown, endpoint, version, node)
    if new == old:
        return old
    write_atomic(path, new)
    try:
        validate()
    except BaseException:
        write_atomic(path, old)
        raise
    return old
