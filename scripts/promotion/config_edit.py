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


def version_in_text(text: str, shown: str, endpoint: str, field: str = "version") -> tuple[int, int, str]:
    """(line, column, token) of `endpoints.<endpoint>.<field>`'s value."""
    data = YAML(typ="rt", pure=True).load(text)
    try:
        node = data["endpoints"][endpoint]
        line, column = node.lc.value(field)
    except (KeyError, TypeError, AttributeError):
        raise UserError(f"{shown}: endpoints.{endpoint}.{field}: not found as a plain key; "
                        f"fix: write `{field}: vN` under endpoints.{endpoint}") from None
    match = _TOKEN.match(text.splitlines(keepends=True)[line], column)
    if match is None:
        raise UserError(f"{shown}: endpoints.{endpoint}.{field}: unreadable value; fix: write `{field}: vN`")
    return line, column, match.group(1)


def with_version(text: str, shown: str, endpoint: str, version: str) -> str:
    line, column, token = version_in_text(text, shown, endpoint)
    quote = token[0] if token[0] in "\"'" else ""
    lines = text.splitlines(keepends=True)
    lines[line] = lines[line][:column] + f"{quote}{version}{quote}" + lines[line][column + len(token):]
    return "".join(lines)


def set_version(path: Path, shown: str, endpoint: str, version: str, validate) -> str:
    """Write the file with the endpoint's version set; `validate()` runs on the written file and
    the old text is put back if it raises. Returns the old text."""
    old = path.read_text(encoding="utf-8")
    new = with_version(old, shown, endpoint, version)
    if new == old:
        return old
    write_atomic(path, new)
    try:
        validate()
    except BaseException:
        write_atomic(path, old)
        raise
    return old
