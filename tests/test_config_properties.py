"""Properties of validation, over generated inputs (hypothesis): junk never crashes the loader,
every setting inside SageMaker's ranges is accepted, and the manifest hash catches any change
of pinned content and only that."""

from __future__ import annotations

import math
import random
import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from config_helpers import (DEV, PIN_1B, PIN_3B, REPO, STAGING, Tree, copy_tree,
                          one, read_data)

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from config.environment import Environment
from config.errors import SpecErrors
from config.loader import require
from config.manifest_io import seal
from config.pin import Pin, PinnedContent

pytestmark = pytest.mark.slow  # full tier: generated examples (hypothesis), each a project load

FAST = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- properties ------------------------------------------------------------------------------------

NUMERIC_FIELDS = {  # path in dev.yaml -> is it an integer field
    ("endpoints", "intent-3b", "instances", "min"): True,
    ("endpoints", "intent-3b", "instances", "max"): True,
    ("endpoints", "intent-3b", "autoscaling", "target"): False,
    ("endpoints", "intent-3b", "deployment", "wait_seconds"): True,
    ("endpoints", "intent-1b", "data_capture_percent"): True,
    ("object_lock_days",): True,
}
NOT_NUMERIC = "ghjkmqvwzGHJKMQVWZ@$%^*|<>?~"  # a string with one of these never parses as a number
# typed raw into the file: one line, and no comment or anchor that could hide the junk
RAW_JUNK = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="#&"),
                   min_size=1, max_size=40).filter(lambda s: any(c in NOT_NUMERIC for c in s))


def _junk(integer: bool) -> st.SearchStrategy:
    bad = [
        st.integers(max_value=-1),
        st.integers(min_value=10**20, max_value=10**40),  # above every upper bound but target's
        st.floats(allow_nan=True, allow_infinity=True).filter(lambda f: not math.isfinite(f) or f < 0),
        st.text(min_size=1, max_size=30).filter(lambda s: any(c in NOT_NUMERIC for c in s)),
        st.none(),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text("abcxyz", max_size=5), st.integers(), max_size=2),
    ]
    if integer:
        bad.append(st.floats(min_value=0.01, max_value=1e6).filter(lambda f: f != int(f)))
    return st.one_of(bad)


@pytest.fixture(scope="module")
def shared_tree(tmp_path_factory) -> Tree:
    return copy_tree(tmp_path_factory.mktemp("shared"))


def _set(node, path: tuple, value) -> None:
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _refused_alone(tree: Tree, rel: str, model: type, path: tuple, value) -> SpecErrors:
    """Set `path` in `rel` to `value` (round-trip edit), check the file alone as load_project does
    (it must raise SpecErrors, returned) and put the file back."""
    original = tree.text(rel)
    try:
        with tree.yaml(rel) as doc:
            _set(doc, path, value)
        with pytest.raises(SpecErrors) as caught:
            require(model, tree.path(rel), rel)  # what load_project does per file
    finally:
        tree.write(rel, original)
    return caught.value


def _assert_reported(caught: SpecErrors, rel: str) -> None:
    lines = str(caught).splitlines()
    assert len(lines) == len(caught.errors) >= 1
    for line in lines:
        assert line.startswith(rel), line
        problem_and_fix = line.split("; fix: ")
        assert len(problem_and_fix) >= 2 and problem_and_fix[-1].strip(), line


@settings(FAST, max_examples=12)
@given(data=st.data())
def test_junk_in_numeric_fields_is_always_reported_as_spec_errors(shared_tree, data):
    path, integer = data.draw(st.sampled_from(sorted(NUMERIC_FIELDS.items())))
    value = data.draw(_junk(integer) if path[-1] != "target" else _junk(False).filter(
        lambda v: not (isinstance(v, int) and v > 0)))
    caught = _refused_alone(shared_tree, DEV, Environment, path, value)
    _assert_reported(caught, DEV)
    dotted = ".".join(path)  # the field itself, or its parent for a cross-field rule (min > max)
    assert any(dotted == e.field or dotted.startswith(e.field + ".") for e in caught.errors), caught


@FAST
@given(junk=RAW_JUNK)
def test_raw_junk_text_never_crashes_the_loader(shared_tree, junk):
    """Typed straight into the file: may break the YAML itself, which must be reported too."""
    original = shared_tree.text(DEV)
    try:
        shared_tree.write(DEV, original.replace("      target: 8", "      target: " + junk, 1))
        with pytest.raises(SpecErrors) as caught:
            require(Environment, shared_tree.path(DEV), DEV)  # what load_project does per file
    finally:
        shared_tree.write(DEV, original)
    _assert_reported(caught.value, DEV)


@st.composite
def _fleet_and_guardrails(draw):
    low = draw(st.integers(1, 100))
    high = draw(st.integers(low, 100))
    initial = draw(st.integers(low, high))
    wait = draw(st.integers(300, 3600))  # a canary wait covers the default rollback alarms' 300 s
    baking = draw(st.integers(0, 3600))
    startup, download = draw(st.integers(60, 3600)), draw(st.integers(60, 3600))
    max_execution = draw(st.integers(max(600, download + startup + wait + baking + 1), 28800))
    return dict(instances=dict(initial=initial, min=low, max=high),
                deployment=dict(strategy="canary", canary_size=dict(type="capacity-percent",
                                                                    value=draw(st.integers(1, 50))),
                                wait_seconds=wait, baking_seconds=baking, max_execution_seconds=max_execution),
                timeouts=dict(container_startup_seconds=startup, model_download_seconds=download))


@settings(FAST, max_examples=8)
@given(settings_=_fleet_and_guardrails())
def test_any_setting_within_sagemaker_ranges_is_accepted(shared_tree, settings_):
    original = shared_tree.text(STAGING)
    try:
        with shared_tree.yaml(STAGING) as doc:
            endpoint = doc["endpoints"]["intent-3b"]
            for key, value in settings_.items():
                endpoint[key] = value
            # scheduled bounds must sit inside instances: not what this property is about
            endpoint["autoscaling"].pop("schedules", None)
        endpoint = shared_tree.load().environments["staging"].endpoints["intent-3b"]
    finally:
        shared_tree.write(STAGING, original)
    assert endpoint.instances.model_dump() == settings_["instances"]
    assert endpoint.deployment.canary_size.value == settings_["deployment"]["canary_size"]["value"]
    assert endpoint.deployment.max_execution_seconds == settings_["deployment"]["max_execution_seconds"]
    assert endpoint.timeouts.model_dump() == settings_["timeouts"]


PIN_FILES = [PIN_1B, PIN_3B, "model_artifacts/llama-3-2-3b-instruct/v2.yaml"]


def _shuffled(node, rng: random.Random):
    if isinstance(node, dict):
        keys = list(node)
        rng.shuffle(keys)
        out = CommentedMap()
        for key in keys:
            out[key] = _shuffled(node[key], rng)
        return out
    if isinstance(node, list):
        return [_shuffled(v, rng) for v in node]  # list order is content (weight files)
    return node


@settings(FAST, max_examples=12)
@given(rel=st.sampled_from(PIN_FILES), rng=st.randoms(use_true_random=False))
def test_manifest_hash_is_stable_under_key_reordering(shared_tree, rel, rng):
    original = shared_tree.text(rel)
    data = read_data(shared_tree.path(rel))
    shuffled = _shuffled(data, rng)
    try:
        yaml = YAML(typ="rt", pure=True)
        with shared_tree.path(rel).open("w") as handle:
            yaml.dump(shuffled, handle)
        pin = require(Pin, shared_tree.path(rel), rel)  # what load_project does per pin, one file only
    finally:
        shared_tree.write(rel, original)
    assert pin.manifest_sha256 == data["manifest_sha256"] == pin.content_hash()


def _leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, path + (index,))
    else:
        yield path


SWAPS = {"djl-lmi": "huggingface-llm", "huggingface-llm": "djl-lmi", "bf16": "fp16", "fp16": "bf16"}


def _changed(value, draw):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + draw(st.sampled_from([1, -1, 1024]))
    if isinstance(value, float):
        return draw(st.floats(0.31, 0.98).filter(lambda f: f != value))
    if value in SWAPS:
        return SWAPS[value]
    hexes = re.search(r"[0-9a-f]{40,64}$", value)
    if hexes:
        at = draw(st.integers(hexes.start(), len(value) - 1))
        return value[:at] + ("0" if value[at] != "0" else "1") + value[at + 1:]
    at = draw(st.integers(1, len(value) - 1)) if len(value) > 1 else 1
    return value[:at] + "x" + value[at:]


@settings(FAST, max_examples=12)
@given(rel=st.sampled_from(PIN_FILES), data=st.data())
def test_any_change_of_pinned_content_changes_the_hash_and_is_caught(shared_tree, rel, data):
    pinned = read_data(shared_tree.path(rel))
    old_hash = pinned.pop("manifest_sha256")
    content = {k: pinned[k] for k in PinnedContent.model_fields if k in pinned}  # schema 1: no registry block
    path = data.draw(st.sampled_from(list(_leaves(content))))
    node = pinned
    for part in path[:-1]:
        node = node[part]
    changed = _changed(node[path[-1]], data.draw)
    node[path[-1]] = changed
    try:
        new = seal(pinned)
    except ValidationError:
        assume(False)  # e.g. renamed config.json: invalid for other reasons, covered above
    assert new.manifest_sha256 != old_hash
    # the same change made by hand in the file (old hash kept) is refused
    one(_refused_alone(shared_tree, rel, Pin, path, changed).errors, rel, "manifest_sha256", "does not match")


def test_seal_ignores_the_approval_record():
    data = read_data(REPO / PIN_3B)
    stored = data.pop("manifest_sha256")
    assert seal(data).manifest_sha256 == stored
    data["approval"] = {"status": "Rejected", "by": "someone", "at": "2025-01-01T00:00:00Z"}
    data["description"] = "another description"
    assert seal(data).manifest_sha256 == stored
    assert isinstance(seal(data), Pin)
