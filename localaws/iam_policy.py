"""IAM policy evaluation for the emulator's own rules: does a policy document allow or deny an
action on a resource, given a request's condition keys?

moto evaluates policies without request context (a statement with a Condition is judged
false, and a false Allow reads as a Deny), so the rules this emulator enforces from
policies evaluate them here instead: S3 bucket policies on object writes and deletes
(`moto_patches/s3.py`) and an execution role's permission to read its rollback alarms
(`moto_patches/sagemaker.py`).

Semantics, from the IAM User Guide ("Policy evaluation logic", "IAM JSON policy elements:
Condition operators"): an explicit Deny wins over any Allow; a statement applies when its
Action (or NotAction), Resource (or NotResource) and every condition match; `*` and `?`
are wildcards in actions, resources and the *Like operators; a condition key missing from
the request makes its operator false, except `Null` (true when the key is absent, for the
value "true") and the `...IfExists` variants (true when the key is absent). In resource
policies only statements for every principal (`"*"` or `{"AWS": "*"}`) are judged here:
the emulator does not know who calls. Not modelled: policy variables, ForAnyValue/ForAllValues,
Date and IpAddress operators (a statement using one does not apply).
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

ALLOW, DENY = "Allow", "Deny"


def evaluate(document: dict | str, action: str, resource: str, context: dict[str, str] | None = None,
             resource_policy: bool = False) -> str | None:
    """DENY, ALLOW, or None when no statement applies (an implicit deny)."""
    if isinstance(document, (str, bytes)):
        document = json.loads(document)
    statements = document.get("Statement", [])
    allowed = False
    for statement in statements if isinstance(statements, list) else [statements]:
        if not applies(statement, action, resource, context or {}, resource_policy):
            continue
        if statement.get("Effect") == DENY:
            return DENY
        allowed = True
    return ALLOW if allowed else None


def applies(statement: dict, action: str, resource: str, context: dict[str, str], resource_policy: bool) -> bool:
    if resource_policy and not _for_everyone(statement.get("Principal")):
        return False
    if "Action" in statement and not _any_match(statement["Action"], action, case=False):
        return False
    if "NotAction" in statement and _any_match(statement["NotAction"], action, case=False):
        return False
    if "Resource" in statement and not _any_match(statement["Resource"], resource):
        return False
    if "NotResource" in statement and _any_match(statement["NotResource"], resource):
        return False
    return all(_condition(op, key, values, context)
               for op, block in (statement.get("Condition") or {}).items() for key, values in block.items())


def _for_everyone(principal: Any) -> bool:
    return principal == "*" or (isinstance(principal, dict) and principal.get("AWS") in ("*", ["*"]))


def _listed(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _any_match(patterns: Any, value: str, case: bool = True) -> bool:
    if not case:
        value = value.lower()
    return any(fnmatch.fnmatchcase(value, p if case else p.lower()) for p in _listed(patterns))


def _condition(operator: str, key: str, expected: Any, context: dict[str, str]) -> bool:
    values = _listed(expected)
    actual = next((v for k, v in context.items() if k.lower() == key.lower()), None)
    if operator == "Null":
        return (actual is None) == (values[0].lower() == "true")
    base = operator.removesuffix("IfExists")
    if actual is None:
        return base != operator  # ...IfExists holds when the key is absent
    test = _OPERATORS.get(base)
    return test is not None and test(actual, values)


def _number(value: str) -> float:
    return float(value)


_OPERATORS = {
    "StringEquals": lambda a, vs: a in vs,
    "StringNotEquals": lambda a, vs: a not in vs,
    "StringEqualsIgnoreCase": lambda a, vs: a.lower() in [v.lower() for v in vs],
    "StringLike": lambda a, vs: any(fnmatch.fnmatchcase(a, v) for v in vs),
    "StringNotLike": lambda a, vs: not any(fnmatch.fnmatchcase(a, v) for v in vs),
    "ArnEquals": lambda a, vs: any(fnmatch.fnmatchcase(a, v) for v in vs),
    "ArnLike": lambda a, vs: any(fnmatch.fnmatchcase(a, v) for v in vs),
    "ArnNotEquals": lambda a, vs: not any(fnmatch.fnmatchcase(a, v) for v in vs),
    "ArnNotLike": lambda a, vs: not any(fnmatch.fnmatchcase(a, v) for v in vs),
    "Bool": lambda a, vs: a.lower() in [v.lower() for v in vs],
    "NumericEquals": lambda a, vs: any(_number(a) == _number(v) for v in vs),
    "NumericLessThan": lambda a, vs: any(_number(a) < _number(v) for v in vs),
    "NumericLessThanEquals": lambda a, vs: any(_number(a) <= _number(v) for v in vs),
    "NumericGreaterThan": lambda a, vs: any(_number(a) > _number(v) for v in vs),
    "NumericGreaterThanEquals": lambda a, vs: any(_number(a) >= _number(v) for v in vs),
}
