"""Pin manifests for the pinning commands: find, load, compare, seal and write.

Loading one pin does not need the rest of the repo to be valid (unlike
`config.project.load_project`): pinning a new version must not fail because an
unrelated environment config is being edited.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from scripts.lib.errors import Problem, UserError, fail
from scripts.lib.flags import check_bucket
from config.environment import Environment
from config.errors import Invalid, SpecError, SpecErrors
from config.loader import errors_of, read_document, require
from config.manifest_io import render, seal, write_atomic
from config.pin import Pin, PinnedContent
from config.project import ENVIRONMENTS_DIR, PINS_DIR, SUFFIXES
from config.serving_env import container_environment


def display(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def pin_path(root: Path, model: str, version: str) -> Path:
    return root / PINS_DIR / model / f"{version}.yaml"


def existing_pin_file(root: Path, model: str, version: str) -> Path | None:
    for suffix in SUFFIXES:
        path = root / PINS_DIR / model / f"{version}{suffix}"
        if path.is_file():
            return path
    return None


def load_pin(root: Path, model: str, version: str) -> Pin | None:
    """The pin model/version if a manifest exists (SpecErrors if it is invalid), else None."""
    path = existing_pin_file(root, model, version)
    if path is None:
        return None
    shown = display(root, path)
    pin = require(Pin, path, shown)
    if pin.ref != (model, version):
        raise UserError(f"{shown}: model: pins {pin.model}/{pin.version} but lives at {shown}; "
                        f"fix: run python -m scripts validate and move the file")
    return pin


def all_pin_keys(root: Path) -> list[tuple[str, str]]:
    base = root / PINS_DIR
    return sorted((p.parent.name, p.stem) for p in base.glob("*/*") if p.suffix in SUFFIXES and p.is_file())


def load_pins(root: Path, keys: list[tuple[str, str]]) -> list[Pin]:
    """Every requested pin, or SpecErrors naming every problem."""
    pins: list[Pin] = []
    errors: list[SpecError] = []
    for model, version in keys:
        try:
            pin = load_pin(root, model, version)
        except SpecErrors as exc:
            errors += exc.errors
            continue
        if pin is None:
            known = sorted(v for m, v in all_pin_keys(root) if m == model)
            fix = f"use a pinned version ({', '.join(known)})" if known else "check --model, or pin it first"
            errors.append(Problem("--version", "", f"no pin {PINS_DIR}/{model}/{version}.yaml", fix))
            continue
        pins.append(pin)
    fail(errors)
    return pins


def environment(root: Path, name: str) -> Environment:
    """One environment config, validated on its own (SpecErrors when invalid)."""
    for suffix in SUFFIXES:
        path = root / ENVIRONMENTS_DIR / f"{name}{suffix}"
        if path.is_file():
            return require(Environment, path, display(root, path))
    known = sorted(p.stem for p in (root / ENVIRONMENTS_DIR).glob("*") if p.suffix in SUFFIXES)
    raise UserError(f"--env: no environment named '{name}'; fix: use one of: {', '.join(known) or '(none)'}")


def read_settings(path: Path, root: Path) -> dict[str, Any]:
    """A --settings file: description, source (hub_repo, license), serving, resources."""
    shown = display(root, path) if path.is_absolute() else str(path)
    data, errors = read_document(path, shown)
    if errors:
        fail(errors)
    if not isinstance(data, dict):
        fail([Problem(shown, "", "is not a mapping", "write description/source/serving/resources keys")])
    allowed = {"description", "source", "serving", "resources"}
    plain = _plain(data)
    found = [Problem(shown, key, "unknown key", f"remove it (allowed: {', '.join(sorted(allowed))}; "
                       "container images come from --like or --framework)") for key in plain if key not in allowed]
    source = plain.get("source") or {}
    if isinstance(source, dict):
        found += [Problem(shown, f"source.{k}", "cannot be set in a settings file",
                            "the revision comes from --revision; set source.hub_repo or source.license only")
                  for k in source if k not in ("hub_repo", "license")]
    fail(found)
    return plain


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def seal_checked(data: dict[str, Any], shown: str) -> Pin:
    """seal() with every validation problem as one `error:` line naming `shown` and the field."""
    try:
        pin = seal(data)
    except ValidationError as exc:
        fail([Problem(e.file, e.field, e.problem, e.fix) for e in errors_of(Pin, data, shown, exc)])
        raise AssertionError("unreachable") from None
    except Invalid as exc:  # today's container environment cannot be derived (config/serving_env.py)
        fail([Problem(shown, "serving.extra_env", exc.problem, exc.fix)])
    try:
        if pin.registry is None:  # schema 1 derives its environment; schema 2 froze it when sealed
            container_environment(pin)
    except Invalid as exc:
        fail([Problem(shown, "serving.extra_env", exc.problem, exc.fix)])
    return pin


def write_pin(root: Path, pin: Pin) -> Path:
    path = pin_path(root, pin.model, pin.version)
    write_atomic(path, render(pin))
    return path


def differences(old: PinnedContent, new: PinnedContent) -> list[str]:
    """Human-readable list of what differs between two pins' content."""
    out: list[str] = []
    if old.source.revision != new.source.revision or old.source.hub_repo != new.source.hub_repo:
        out.append(f"source: {old.source.hub_repo}@{old.source.revision} -> "
                   f"{new.source.hub_repo}@{new.source.revision}")
    if old.source.license != new.source.license:
        out.append(f"source.license: {old.source.license} -> {new.source.license}")
    if old.weights.prefix != new.weights.prefix:
        out.append(f"weights.prefix: {old.weights.prefix} -> {new.weights.prefix}")
    before = {f.path: f for f in old.weights.files}
    after = {f.path: f for f in new.weights.files}
    for name in sorted(before.keys() | after.keys()):
        a, b = before.get(name), after.get(name)
        if a is None:
            out.append(f"weights: {name} is new")
        elif b is None:
            out.append(f"weights: {name} is gone")
        elif (a.size, a.sha256) != (b.size, b.sha256):
            out.append(f"weights: {name} changed (sha256 {a.sha256[:12]}... -> {b.sha256[:12]}...)")
    for section in ("container", "serving", "resources", "registry"):
        if getattr(old, section) != getattr(new, section):
            out.append(f"{section} differs")
    return out


def weights_bucket_and_region(root: Path, bucket: str | None, env: str | None, region: str | None,
                              required: bool = True) -> tuple[str | None, str | None]:
    """--bucket B, or --env E (its weights_bucket_name, in its region); --region overrides the region."""
    if bucket and env:
        raise UserError("--bucket/--env: both given; fix: pass one of them")
    if env:
        config = environment(root, env)
        return config.weights_bucket_name, region or config.region
    if not bucket and required:
        raise UserError("--bucket: missing; fix: pass --bucket NAME or --env NAME "
                        "(the environment's weights bucket)")
    if bucket:
        check_bucket(bucket)
    return bucket, region
