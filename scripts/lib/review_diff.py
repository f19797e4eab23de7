"""Compare two synthesized cloud assemblies (base and head of a pull request) stack by stack.

What a reviewer needs from a template change: which endpoint facts move (version, image
digest, instance type, scaling, deployment, alarms), which resources CloudFormation adds,
removes, updates or *replaces* (a create-only property changed, per the resource schemas
cfn-lint ships), and which IAM statements appear or disappear anywhere (identity policies,
trust policies and resource policies alike).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from scripts.lib.assembly import EndpointReview, endpoint_reviews, stack_templates

# EndpointReview fields a reviewer compares, with their labels. `digest` is the image's.
ENDPOINT_FIELDS = {"version": "version", "digest": "image digest", "weights_uri": "weights",
                   "instance_type": "instance type", "instances": "instances initial/min-max",
                   "scaling": "scaling target", "strategy": "deployment", "rollback_alarms": "rollback alarms",
                   "shadow_version": "shadow version"}
# Where policies live, per resource type: property paths holding one policy document each.
POLICY_PATHS = {
    "AWS::IAM::Role": ("AssumeRolePolicyDocument",),
    "AWS::IAM::Policy": ("PolicyDocument",),
    "AWS::IAM::ManagedPolicy": ("PolicyDocument",),
    "AWS::S3::BucketPolicy": ("PolicyDocument",),
    "AWS::SNS::TopicPolicy": ("PolicyDocument",),
    "AWS::SQS::QueuePolicy": ("PolicyDocument",),
    "AWS::KMS::Key": ("KeyPolicy",),
}


@dataclass(frozen=True)
class FieldChange:
    name: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class ResourceChange:
    logical_id: str
    type: str
    action: str  # add | remove | update | replace
    properties: tuple[str, ...] = ()  # changed top-level properties; for replace, the create-only ones


@dataclass
class StackDiff:
    stack: str
    status: str  # added | removed | changed | unchanged
    endpoint: list[FieldChange] = field(default_factory=list)
    resources: list[ResourceChange] = field(default_factory=list)
    alarms: list[FieldChange] = field(default_factory=list)
    iam_added: list[str] = field(default_factory=list)
    iam_removed: list[str] = field(default_factory=list)


def diff_assemblies(base: Path, head: Path) -> list[StackDiff]:
    before, after = stack_templates(base), stack_templates(head)
    reviews_before = {r.stack: r for r in endpoint_reviews(base)}
    reviews_after = {r.stack: r for r in endpoint_reviews(head)}
    diffs = []
    for stack in sorted(set(before) | set(after)):
        old, new = before.get(stack, {}), after.get(stack, {})
        diff = StackDiff(stack, "added" if stack not in before else "removed" if stack not in after else "changed")
        diff.endpoint = _endpoint_changes(reviews_before.get(stack), reviews_after.get(stack))
        diff.resources = _resource_changes(old.get("Resources", {}), new.get("Resources", {}))
        diff.alarms = _keyed_changes(_alarms(old), _alarms(new))
        old_iam, new_iam = set(_statements(old)), set(_statements(new))
        diff.iam_added, diff.iam_removed = sorted(new_iam - old_iam), sorted(old_iam - new_iam)
        if diff.status == "changed" and old == new:
            diff.status = "unchanged"
        diffs.append(diff)
    return diffs


def as_json(diffs: list[StackDiff]) -> list[dict]:
    return [asdict(d) for d in diffs]


# --- endpoint facts ----------------------------------------------------------------------------


def _endpoint_facts(review: EndpointReview | None) -> dict[str, str]:
    if review is None:
        return {}
    facts = {}
    for attribute, label in ENDPOINT_FIELDS.items():
        value = getattr(review, attribute)
        if attribute == "version":
            value = f"{review.model} {value}"
        facts[label] = ", ".join(value) if isinstance(value, list) else value
    return {k: v for k, v in facts.items() if v is not None}


def _endpoint_changes(before: EndpointReview | None, after: EndpointReview | None) -> list[FieldChange]:
    changes = _keyed_changes(_endpoint_facts(before), _endpoint_facts(after))
    order = list(ENDPOINT_FIELDS.values())
    return sorted(changes, key=lambda c: order.index(c.name))


def _keyed_changes(before: dict[str, str], after: dict[str, str]) -> list[FieldChange]:
    return [FieldChange(k, before.get(k), after.get(k)) for k in sorted(set(before) | set(after))
            if before.get(k) != after.get(k)]


# --- resources -------------------------------------------------------------------------------


def _resource_changes(before: dict, after: dict) -> list[ResourceChange]:
    changes: dict[str, ResourceChange] = {}
    for logical in sorted(set(before) | set(after)):
        old, new = before.get(logical), after.get(logical)
        if old is None or new is None:
            kind = (new or old)["Type"]
            changes[logical] = ResourceChange(logical, kind, "add" if old is None else "remove")
        elif old["Type"] != new["Type"]:
            changes[logical] = ResourceChange(logical, new["Type"], "replace", ("Type",))
        else:
            props_old, props_new = old.get("Properties", {}), new.get("Properties", {})
            changed = {p for p in set(props_old) | set(props_new) if props_old.get(p) != props_new.get(p)}
            replacing = {p[0] for p in _create_only(new["Type"]) if _at(props_old, p) != _at(props_new, p)}
            if replacing:
                changes[logical] = ResourceChange(logical, new["Type"], "replace", tuple(sorted(replacing)))
            elif changed:  # else metadata only (cdk-nag acknowledgments, paths): nothing deploys differently
                changes[logical] = ResourceChange(logical, new["Type"], "update", tuple(sorted(changed)))
    _propagate_replacements(after, changes)
    return list(changes.values())


def _propagate_replacements(after: dict, changes: dict[str, ResourceChange]) -> None:
    """A replaced resource gets a new name and ARN: whatever refers to it changes too, though its text does not.

    A reference in a create-only property replaces the referring resource (a new Model makes a new
    EndpointConfig); elsewhere it updates it (the Endpoint switches to the new config in place).
    """
    while True:
        replaced = {r.logical_id for r in changes.values() if r.action == "replace"}
        grew = False
        for logical, resource in after.items():
            current = changes.get(logical)
            if current is not None and current.action in ("add", "replace"):
                continue
            props = resource.get("Properties", {})
            via = {p for p, value in props.items() if _references(value) & replaced}
            if not via:
                continue
            create_only = {p[0] for p in _create_only(resource["Type"])}
            already = set(current.properties) if current else set()
            if via & create_only:
                changes[logical] = ResourceChange(logical, resource["Type"], "replace", tuple(sorted(via & create_only)))
            elif not via <= already:
                changes[logical] = ResourceChange(logical, resource["Type"], "update", tuple(sorted(already | via)))
            else:
                continue
            grew = True
        if not grew:
            return


def _references(value: Any) -> set[str]:
    """Logical ids a CloudFormation value refers to (Ref, Fn::GetAtt), at any depth."""
    if isinstance(value, list):
        return set().union(*(_references(v) for v in value)) if value else set()
    if not isinstance(value, dict):
        return set()
    if set(value) == {"Ref"} and isinstance(value["Ref"], str):
        return {value["Ref"]}
    if set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        return {target[0] if isinstance(target, list) else str(target).split(".")[0]}
    return set().union(*(_references(v) for v in value.values())) if value else set()


@lru_cache(maxsize=None)
def _create_only(kind: str) -> tuple[tuple[str, ...], ...]:
    """Create-only property paths of a resource type, from the CloudFormation schemas cfn-lint ships.

    Empty when cfn-lint is not installed or does not know the type: changes then read as updates.
    """
    try:
        from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", kind).schema
    except Exception:  # noqa: BLE001 - optional knowledge; a review must not fail for lack of it
        return ()
    paths = schema.get("createOnlyProperties", [])
    return tuple(tuple(p.removeprefix("/properties/").split("/")) for p in paths if p.startswith("/properties/"))


def _at(properties: dict, path: tuple[str, ...]) -> Any:
    node: Any = properties
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


# --- alarms ----------------------------------------------------------------------------------


def _alarms(template: dict) -> dict[str, str]:
    alarms = {}
    for resource in template.get("Resources", {}).values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        p = resource["Properties"]
        statistic = p.get("ExtendedStatistic") or p.get("Statistic") or "metrics"
        what = p.get("MetricName") or "expression"
        alarms[render(p.get("AlarmName", "(unnamed)"))] = (
            f"{what} {statistic} {p.get('ComparisonOperator', '')} {p.get('Threshold', '')}, "
            f"{p.get('DatapointsToAlarm', p.get('EvaluationPeriods'))} of {p.get('EvaluationPeriods')} "
            f"x {p.get('Period', '')}s")
    return alarms


# --- IAM statements ----------------------------------------------------------------------------


def _statements(template: dict) -> list[str]:
    """Every policy statement of the template as one line, prefixed with where it lives."""
    lines = []
    for logical, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        documents = [(path, props.get(path)) for path in POLICY_PATHS.get(resource["Type"], ())]
        documents += [(f"Policies.{p.get('PolicyName')}", p.get("PolicyDocument")) for p in props.get("Policies", [])
                      if resource["Type"] == "AWS::IAM::Role"]
        for where, document in documents:
            statements = (document or {}).get("Statement", [])
            for statement in statements if isinstance(statements, list) else [statements]:
                lines.append(f"{logical} {where}: {_statement(statement)}")
    return lines


def _statement(s: dict) -> str:
    parts = [s.get("Effect", "Allow")]
    for key in ("Principal", "NotPrincipal"):
        if key in s:
            parts.append(f"{key} {render(s[key])}")
    for key in ("Action", "NotAction"):
        if key in s:
            parts.append(_list(s[key]))
    for key in ("Resource", "NotResource"):
        if key in s:
            parts.append(f"on {_list(s[key])}" if key == "Resource" else f"not on {_list(s[key])}")
    if "Condition" in s:
        parts.append(f"if {render(s['Condition'])}")
    return " ".join(parts)


def _list(value: Any) -> str:
    values = value if isinstance(value, list) else [value]
    return ", ".join(sorted(render(v) for v in values))


def render(value: Any) -> str:
    """CloudFormation values as a reviewer reads them: {"Ref": "X"} -> ${X}, joins joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(render(v) for v in value) + "]"
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref":
            return "${" + str(arg) + "}"
        if key == "Fn::GetAtt":
            return "${" + ".".join(map(str, arg if isinstance(arg, list) else [arg])) + "}"
        if key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], list):
            return str(arg[0]).join(render(v) for v in arg[1])
        if key == "Fn::ImportValue":
            return "import(" + render(arg) + ")"
        if key == "Fn::Sub" and isinstance(arg, str):
            return arg
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {render(v)}" for k, v in sorted(value.items())) + "}"
    return json.dumps(value)
