"""Numeric flags that fail as one line (`--flag: problem; fix: ...`, exit 2), not click's usage block."""

from __future__ import annotations

import math

import click

from scripts.lib.errors import UserError


class Number(click.ParamType):
    name = "number"

    def __init__(self, kind: type = float, low: float | None = None, high: float | None = None,
                 low_open: bool = False, example: str = "10"):
        self.kind, self.low, self.high, self.low_open, self.example = kind, low, high, low_open, example

    def convert(self, value, param, ctx):  # noqa: ANN001 - click's signature
        flag = param.opts[0] if param is not None and param.opts else "value"
        text = str(value).strip().replace("_", "").replace(",", "")
        try:
            number = float(text)
        except ValueError:
            raise UserError(f"{flag}: '{value}' is not a number; fix: write e.g. {flag} {self.example}") from None
        if not math.isfinite(number):
            raise UserError(f"{flag}: '{value}' is not a finite number; fix: write e.g. {flag} {self.example}")
        if self.kind is int:
            if number != int(number):
                raise UserError(f"{flag}: '{value}' is not a whole number; fix: write e.g. {flag} {self.example}")
            number = int(number)
        if self.low is not None and (number < self.low or (self.low_open and number == self.low)):
            bound = f"above {self.low:g}" if self.low_open else f"at least {self.low:g}"
            raise UserError(f"{flag}: {value} is out of range; fix: use a value {bound}"
                            + (f" and at most {self.high:g}" if self.high is not None else ""))
        if self.high is not None and number > self.high:
            raise UserError(f"{flag}: {value} is out of range; fix: use a value of at most {self.high:g}")
        return number


def required(flag: str, value: object, fix: str) -> None:
    if value is None:
        raise UserError(f"{flag}: missing; fix: {fix}")
