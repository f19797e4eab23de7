"""Errors in what a user wrote: one line each, naming file, field and fix.

Validation never stops at the first problem: every loader and check appends
to a list of `SpecError` and the caller reports them all together, the way
aws-cdk's alpha constructs collect `node.addValidation` results.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class SpecError:
    file: str
    field: str
    problem: str
    fix: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = self.field or "(file)"
        # One error, one line: a value quoted in a message may contain line breaks.
        return " ".join(f"{where}: {field}: {self.problem}; fix: {self.fix}".splitlines())


class SpecErrors(Exception):
    """Raised once, carrying every problem found."""

    def __init__(self, errors: list[SpecError]):
        self.errors = sorted(set(errors), key=lambda e: (e.file, e.line or 0, e.field, e.problem))
        super().__init__("\n".join(str(e) for e in self.errors))


class Invalid(ValueError):
    """Raised inside model validators: the message is the problem, `fix` the remedy.

    pydantic wraps it in its ValidationError; `loader.py` unwraps `fix` again.
    """

    def __init__(self, problem: str, fix: str, field: str | None = None):
        super().__init__(f"{problem}; fix: {fix}")
        self.problem = problem
        self.fix = fix
        self.field = field  # the sub-field a model-level check blames, if any

    @property
    def each(self) -> list["Invalid"]:
        return [self]


class AllInvalid(Invalid):
    """Every problem one model-level check found (a production rule on each endpoint, say), raised
    once: pydantic stops a model's validation at the first error it raises, so a check that
    raised per problem would hide the rest. `loader.py` reports each as its own line."""

    def __init__(self, problems: list[Invalid]):
        super().__init__(problems[0].problem, problems[0].fix, problems[0].field)
        self.problems = problems

    @property
    def each(self) -> list[Invalid]:
        return self.problems


def raise_all(problems: list[Invalid | None]) -> None:
    """Raise every problem found (None entries are checks that passed); nothing when all passed."""
    found = [p for p in problems if p is not None]
    if len(found) == 1:
        raise found[0]
    if found:
        raise AllInvalid([each for problem in found for each in problem.each])
