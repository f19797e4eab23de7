"""Read one YAML/JSON file into a typed model, turning every problem into a `SpecError`.

ruamel.yaml keeps the line of every key, so an error names the line as well
as the dotted field. pydantic's messages say what is wrong; `_FIXES` adds
what to write instead.
"""

from __future__ import annotations

import functools
import json
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

from config.errors import Invalid, SpecError, SpecErrors

M = TypeVar("M", bound=BaseModel)

DOCS = "see docs/configuration.md"

_FIXES = {
    "missing": "add this required field",
    "literal_error": "use one of the values listed",
    "enum": "use one of the values listed",
    "int_parsing": "write a whole number",
    "int_type": "write a whole number",
    "int_from_float": "write a whole number",
    "float_parsing": "write a number",
    "float_type": "write a number",
    "finite_number": "write a finite number",
    "bool_parsing": "write true or false",
    "bool_type": "write true or false",
    "string_type": "write a quoted string",
    "dict_type": "write a mapping (key: value lines)",
    "list_type": "write a list",
    "model_type": "write a mapping (key: value lines)",
    "model_attributes_type": "write a mapping (key: value lines)",
    "greater_than": f"raise the value (allowed range: {DOCS})",
    "greater_than_equal": f"raise the value (allowed range: {DOCS})",
    "less_than": f"lower the value (allowed range: {DOCS})",
    "less_than_equal": f"lower the value (allowed range: {DOCS})",
    "too_short": "add at least one entry",
    "too_long": "remove entries",
    "string_pattern_mismatch": f"use the documented format ({DOCS})",
    "datetime_from_date_parsing": "write an ISO 8601 time, e.g. 2026-01-31T12:00:00Z",
    "datetime_parsing": "write an ISO 8601 time, e.g. 2026-01-31T12:00:00Z",
    "datetime_type": "write an ISO 8601 time, e.g. 2026-01-31T12:00:00Z",
}


def read_document(path: Path, display: str) -> tuple[Any, list[SpecError]]:
    """Parse YAML (or JSON) keeping line numbers; never raises for bad content.

    JSON is parsed by `json` (the strict grammar; a key given twice is an error, as
    RFC 8259 leaves its meaning undefined and a pin must not mean two things), then read
    again as YAML, of which JSON is a subset, only to learn each key's line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [SpecError(display, "", f"cannot read file ({exc.__class__.__name__})",
                                "check the path and that the file is UTF-8 text")]
    try:
        if path.suffix == ".json":
            return _json_with_lines(text, display)
        return _parse_yaml(text), []
    except json.JSONDecodeError as exc:
        return None, [SpecError(display, "", f"invalid JSON: {exc.msg}", "fix the JSON syntax", exc.lineno)]
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        problem = (exc.problem or "syntax error").strip()
        return None, [SpecError(display, "", f"invalid YAML: {problem}", "fix the YAML syntax", line)]
    except Exception as exc:  # ruamel raises a few unmarked errors (bad tags)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        return None, [SpecError(display, "", f"invalid YAML: {first}", "fix the YAML syntax")]


@functools.lru_cache(maxsize=512)
def _parse_yaml(text: str) -> Any:
    """The round-trip document of `text` (keys keep their lines). One parse per distinct text in a
    process: ruamel's pure-Python reader takes ~5 ms per file, and a project load reads ~40 files,
    most of them again and again within one command (validate, then synth) or test run. The
    document is shared, so no caller may change it: models are validated from a plain copy
    (`_plain`), and errors only read lines from it. A parse error is raised again each time."""
    return YAML(typ="rt", pure=True).load(text)


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen.add(key)
    return dict(pairs)


def _json_with_lines(text: str, display: str) -> tuple[Any, list[SpecError]]:
    try:
        values = json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        key = str(exc)
        return None, [SpecError(display, key, f'key "{key}" is given twice in one object',
                                "keep one of them (JSON parsers disagree on which one wins)",
                                _second_line_of(text, key))]
    try:
        located = _parse_yaml(text)
    except Exception:  # noqa: BLE001 - valid JSON that YAML reads otherwise (tabs): values without lines
        return values, []
    # The YAML reading carries the lines; it is used only where it reads the same values.
    return (located if _plain(located) == values else values), []


def _second_line_of(text: str, key: str) -> int | None:
    needle = json.dumps(key)
    lines = [number for number, line in enumerate(text.splitlines(), 1)
             if needle in line and line.split(needle, 1)[1].lstrip().startswith(":")]
    return lines[1] if len(lines) > 1 else None


@dataclass(frozen=True)
class Loaded(Generic[M]):
    """A validated model with the document it came from, to place later errors on lines."""

    value: M
    display: str
    document: Any

    def error(self, loc: tuple, problem: str, fix: str) -> SpecError:
        return SpecError(self.display, ".".join(str(p) for p in loc), problem, fix,
                         _line_of(self.document, loc))


def load_model(model: type[M], path: Path, display: str) -> tuple[Loaded[M] | None, list[SpecError]]:
    data, errors = read_document(path, display)
    if errors:
        return None, errors
    if not isinstance(data, dict):
        return None, [SpecError(display, "", "the file is not a mapping of keys to values",
                                f"start from an example in the repo ({DOCS})")]
    try:
        return Loaded(model.model_validate(_plain(data)), display, data), []
    except ValidationError as exc:
        return None, errors_of(model, data, display, exc)


def validate_model(model: type[M], data: dict, display: str) -> M:
    """`data` (built in code, not read from a file: a deployment override) as `model`; `SpecErrors` naming
    `display` when it is invalid, in the same one-line form as a file's errors."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SpecErrors(errors_of(model, data, display, exc)) from None


def errors_of(model: type[BaseModel], data: Any, display: str, exc: ValidationError) -> list[SpecError]:
    """pydantic's errors for `data` as SpecErrors: field, problem, fix, and the line where `data` has one."""
    return [e for err in exc.errors() for e in _to_spec_errors(model, data, display, err)]


def require(model: type[M], path: Path, display: str) -> M:
    loaded, errors = load_model(model, path, display)
    if errors:
        raise SpecErrors(errors)
    assert loaded is not None
    return loaded.value


def _to_spec_errors(model: type[BaseModel], data: Any, display: str, err: dict) -> list[SpecError]:
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, Invalid):
        return [_invalid_error(data, display, tuple(err["loc"]), each) for each in cause.each]
    return [_to_spec_error(model, data, display, err)]


def _invalid_error(data: Any, display: str, loc: tuple, invalid: Invalid) -> SpecError:
    if invalid.field:
        loc += tuple(int(part) if part.isdigit() else part for part in invalid.field.split("."))
    return SpecError(display, ".".join(str(p) for p in loc), invalid.problem, invalid.fix, _line_of(data, loc))


def _to_spec_error(model: type[BaseModel], data: Any, display: str, err: dict) -> SpecError:
    loc = tuple(err["loc"])
    field = ".".join(str(p) for p in loc)
    line = _line_of(data, loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = sorted(_fields_at(model, loc[:-1]))
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return SpecError(display, field, "unknown key", f"remove it or correct its spelling{hint}", line)
    problem = err["msg"]
    if kind.startswith("value_error"):
        problem = problem.removeprefix("Value error, ")
    value = err.get("input")
    if kind != "missing" and not isinstance(value, (dict, list)):
        problem += f" (got {value!r})"
    return SpecError(display, field, problem, _FIXES.get(kind, DOCS), line)


def _line_of(data: Any, loc: tuple) -> int | None:
    """1-based line of the deepest key of `loc` that exists in the document."""
    line = None
    node = data
    for part in loc:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, dict) and (part in node or str(part) in node):
                part = part if part in node else str(part)  # an all-digit key split from a dotted field
                line = lc.key(part)[0] + 1 if lc else line
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                line = lc.item(part)[0] + 1 if lc else line
                node = node[part]
            else:
                break
        except (KeyError, IndexError, TypeError, AttributeError):
            break
    return line


def _fields_at(model: type[BaseModel], loc: tuple) -> set[str]:
    """Field names of the model found at `loc`, walking dict/list/optional annotations."""
    annotation: Any = model
    for part in loc:
        annotation = _unwrap(annotation, part)
        if annotation is None:
            return set()
    return set(annotation.model_fields) if _is_model(annotation) else set()


def _unwrap(annotation: Any, part: Any) -> Any:
    if _is_model(annotation):
        field = annotation.model_fields.get(part)
        return _strip_optional(field.annotation) if field else None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is dict and args:
        return _strip_optional(args[1])
    if origin is list and args:
        return _strip_optional(args[0])
    return None


def _strip_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        models = [a for a in typing.get_args(annotation) if a is not type(None)]
        return models[0] if len(models) == 1 else annotation
    return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _plain(node: Any) -> Any:
    """ruamel's commented containers -> dict/list, so pydantic sees plain data."""
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node
