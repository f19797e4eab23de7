"""Scheduled scaling: an Application Auto Scaling scheduled action on an endpoint's variant.

A schedule sets the scalable target's min/max when its cron fires; the values
hold until the next schedule fires (Application Auto Scaling keeps no other
state). So schedules come in sets: one that scales down after working hours,
one that restores `instances.min`/`max` in the morning.

Cron is AWS's six-field form without seconds: minutes hours day-of-month month
day-of-week year, e.g. `0 19 ? * MON-FRI *`. Day-of-week counts 1 = SUN ... 7 = SAT.
The check here is basic (field count, characters and ranges, `?` in exactly one
day field); `weekly_firings` expands the weekly subset the cost model needs.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass

from pydantic import Field, PositiveInt, field_validator, model_validator

from config.errors import Invalid
from config.fields import ResourceName, Strict

MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]  # AWS: 1 = SUN ... 7 = SAT

EXAMPLE = "0 19 ? * MON-FRI *"


@dataclass(frozen=True)
class _FieldSpec:
    name: str
    low: int
    high: int
    names: list[str] | None = None


FIELDS = [
    _FieldSpec("minutes", 0, 59),
    _FieldSpec("hours", 0, 23),
    _FieldSpec("day-of-month", 1, 31),
    _FieldSpec("month", 1, 12, MONTHS),
    _FieldSpec("day-of-week", 1, 7, DAYS),
    _FieldSpec("year", 1970, 2199),
]

_ATOM = re.compile(r"^(?P<start>\*|[0-9A-Z]+)(?:-(?P<end>[0-9A-Z]+))?(?:/(?P<step>[0-9]+))?$")


def _value(token: str, spec: _FieldSpec) -> int:
    if spec.names and token in spec.names:
        return spec.names.index(token) + 1
    if not token.isdigit():
        raise ValueError(f"'{token}' is not a valid {spec.name} value")
    value = int(token)
    if not spec.low <= value <= spec.high:
        raise ValueError(f"{spec.name} value {value} is outside {spec.low}-{spec.high}")
    return value


def _expand(field: str, spec: _FieldSpec) -> set[int]:
    """Values matched by one plain field (lists, ranges, steps, names, `*`)."""
    values: set[int] = set()
    for part in field.split(","):
        match = _ATOM.match(part)
        if not match:
            raise ValueError(f"'{part}' is not a valid {spec.name} entry")
        start, end, step = match["start"], match["end"], match["step"]
        if start == "*":
            if end:
                raise ValueError(f"'{part}' is not a valid {spec.name} entry")
            low, high = spec.low, spec.high
        else:
            low = _value(start, spec)
            high = _value(end, spec) if end else (spec.high if step else low)
        if step is not None and int(step) == 0:
            raise ValueError(f"step 0 in '{part}'")
        if high < low:
            raise ValueError(f"range '{part}' runs backwards")
        values.update(range(low, high + 1, int(step or 1)))
    return values


def _check_day_field(field: str, spec: _FieldSpec) -> None:
    if field in ("?", "*", "L", "LW"):
        return
    if spec.name == "day-of-month" and re.fullmatch(r"[0-9]{1,2}W", field):
        _value(field[:-1], spec)
        return
    if spec.name == "day-of-week":
        special = re.fullmatch(r"([0-9A-Z]+)(L|#[1-5])", field)
        if special:
            _value(special[1], spec)
            return
    _expand(field, spec)


def parse_cron(expression: str) -> list[str]:
    """The six fields of a valid AWS cron expression; ValueError saying what is wrong otherwise."""
    fields = expression.strip().upper().split()
    if len(fields) != 6:
        raise ValueError(f"'{expression}' has {len(fields)} field(s), AWS cron has 6 "
                         "(minutes hours day-of-month month day-of-week year)")
    for field, spec in zip(fields, FIELDS):
        if spec.name in ("day-of-month", "day-of-week"):
            _check_day_field(field, spec)
        elif field == "?":
            raise ValueError(f"'?' is allowed only in day-of-month or day-of-week, not in {spec.name}")
        else:
            _expand(field, spec)
    if (fields[2] == "?") == (fields[4] == "?"):
        raise ValueError("exactly one of day-of-month and day-of-week must be '?'")
    return fields


def is_weekly(expression: str) -> bool:
    """True when the expression repeats every week (what the cost model can place in a week)."""
    fields = parse_cron(expression)
    dom, month, dow, year = fields[2], fields[3], fields[4], fields[5]
    return dom in ("?", "*") and month == "*" and year == "*" and not re.search(r"[L#W]", dow)


def weekly_firings(expression: str) -> list[tuple[int, int, int]]:
    """(weekday 0=Monday..6=Sunday, hour, minute) of every firing in a week, sorted.

    Only for weekly expressions (`is_weekly`); raises ValueError otherwise.
    """
    if not is_weekly(expression):
        raise ValueError(f"'{expression}' does not repeat weekly")
    fields = parse_cron(expression)
    minutes = _expand(fields[0], FIELDS[0])
    hours = _expand(fields[1], FIELDS[1])
    aws_days = _expand(fields[4], FIELDS[4]) if fields[4] != "?" else set(range(1, 8))
    weekdays = {(d - 2) % 7 for d in aws_days}  # AWS 1=SUN -> Python 6, 2=MON -> 0
    return sorted((d, h, m) for d in weekdays for h in hours for m in minutes)


def _cron(value: str) -> str:
    try:
        parse_cron(value)
    except ValueError as exc:
        raise Invalid(f"cron '{value}': {exc}",
                      f"write AWS's 6-field cron without seconds, e.g. '{EXAMPLE}' (19:00 on weekdays)") from None
    return " ".join(value.split())


class ScalingSchedule(Strict):
    """One scheduled action: from `cron` on, the variant scales between `min` and `max`."""

    name: ResourceName
    cron: str = Field(description="AWS cron without seconds: min hour day-of-month month day-of-week year")
    # SageMaker real-time variants cannot scale to zero instances (only inference
    # components can): min is at least 1.
    min: PositiveInt
    max: PositiveInt = Field(le=100)
    timezone: str = Field(default="UTC", description="IANA time zone the cron is read in")

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        return _cron(value)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise Invalid(f"'{value}' is not an IANA time zone",
                          "use a zone name such as Europe/Berlin, America/New_York or UTC") from None
        return value

    @model_validator(mode="after")
    def _ordered(self) -> "ScalingSchedule":
        if self.min > self.max:
            raise Invalid(f"min {self.min} is above max {self.max}", "set min <= max", "min")
        return self

    @property
    def expression(self) -> str:
        return f"cron({self.cron})"
