"""Scheduled scaling: configs validate schedules, stacks render them as scheduled actions on the scalable target."""

from __future__ import annotations

import pytest
from conftest import only

from config.errors import SpecErrors
from config.project import load_project
from config.schedule import parse_cron, weekly_firings

TARGET = "AWS::ApplicationAutoScaling::ScalableTarget"


def scheduled_actions(template: dict) -> dict[str, dict]:
    target = only(template, TARGET)["Properties"]
    return {a["ScheduledActionName"]: a for a in target.get("ScheduledActions", [])}


# -- what the stacks render ---------------------------------------------------------------


@pytest.mark.parametrize("stack", ["llama-dev-intent-3b", "llama-dev-intent-1b"])
def test_dev_scales_down_to_one_instance_outside_berlin_working_hours(templates, stack):
    actions = scheduled_actions(templates[stack])
    assert actions == {
        "evenings": {"ScheduledActionName": "evenings", "Schedule": "cron(0 19 ? * MON-FRI *)",
                     "Timezone": "Europe/Berlin", "ScalableTargetAction": {"MinCapacity": 1, "MaxCapacity": 1}},
        "mornings": {"ScheduledActionName": "mornings", "Schedule": "cron(0 8 ? * MON-FRI *)",
                     "Timezone": "Europe/Berlin", "ScalableTargetAction": {"MinCapacity": 1, "MaxCapacity": 2}},
    }


def test_staging_keeps_two_instances_at_night_and_only_caps_scale_out(templates):
    actions = scheduled_actions(templates["llama-staging-intent-3b"])
    assert actions["evenings"]["ScalableTargetAction"] == {"MinCapacity": 2, "MaxCapacity": 2}
    assert actions["mornings"]["ScalableTargetAction"] == {"MinCapacity": 2, "MaxCapacity": 4}
    assert {a["Timezone"] for a in actions.values()} == {"Europe/Berlin"}


def test_the_morning_schedule_restores_the_targets_configured_bounds(templates):
    for stack in ("llama-dev-intent-3b", "llama-dev-intent-1b", "llama-staging-intent-3b"):
        target = only(templates[stack], TARGET)["Properties"]
        restore = scheduled_actions(templates[stack])["mornings"]["ScalableTargetAction"]
        assert (restore["MinCapacity"], restore["MaxCapacity"]) == (target["MinCapacity"], target["MaxCapacity"])


def test_no_variant_is_ever_scheduled_to_zero_instances(templates):
    for name, template in templates.items():
        for resource in template["Resources"].values():
            if resource["Type"] == TARGET:
                for action in resource["Properties"].get("ScheduledActions", []):
                    assert action["ScalableTargetAction"]["MinCapacity"] >= 1, name


def test_production_has_no_schedule_and_tracking_still_applies_everywhere(templates):
    assert scheduled_actions(templates["llama-prod-intent-3b"]) == {}
    for stack in ("llama-dev-intent-3b", "llama-staging-intent-3b"):
        only(templates[stack], "AWS::ApplicationAutoScaling::ScalingPolicy")  # target tracking kept


# -- what the config accepts ---------------------------------------------------------------

DEV_EVENINGS = '{name: evenings, cron: "0 19 ? * MON-FRI *", min: 1, max: 1, timezone: Europe/Berlin}'


def _errors(repo, env: str, old: str, new: str) -> list[str]:
    path = repo / "environments" / f"{env}.yaml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(SpecErrors) as raised:
        load_project(repo)
    return [str(e) for e in raised.value.errors]


@pytest.mark.parametrize("new, field, words", [
    ('{name: evenings, cron: "0 19 * * MON-FRI *", min: 1, max: 1, timezone: Europe/Berlin}',
     "autoscaling.schedules.0.cron", "exactly one of day-of-month and day-of-week must be '?'"),
    ('{name: evenings, cron: "0 19 ? * MON-FRI", min: 1, max: 1, timezone: Europe/Berlin}',
     "autoscaling.schedules.0.cron", "has 5 field(s)"),
    ('{name: evenings, cron: "0 25 ? * MON-FRI *", min: 1, max: 1, timezone: Europe/Berlin}',
     "autoscaling.schedules.0.cron", "hours value 25 is outside 0-23"),
    ('{name: evenings, cron: "0 19 ? * MON-FRI *", min: 1, max: 1, timezone: Europe/Berlim}',
     "autoscaling.schedules.0.timezone", "not an IANA time zone"),
    ('{name: evenings, cron: "0 19 ? * MON-FRI *", min: 0, max: 1, timezone: Europe/Berlin}',
     "autoscaling.schedules.0.min", "greater than 0"),
    ('{name: evenings, cron: "0 19 ? * MON-FRI *", min: 2, max: 1, timezone: Europe/Berlin}',
     "autoscaling.schedules.0.min", "min 2 is above max 1"),
    ('{name: evenings, cron: "0 19 ? * MON-FRI *", min: 1, max: 3, timezone: Europe/Berlin}',
     "autoscaling.schedules.0.max", "above instances.max (2)"),
    ('{name: mornings, cron: "0 19 ? * MON-FRI *", min: 1, max: 1, timezone: Europe/Berlin}',
     "autoscaling.schedules.0.name", "used twice"),
])
def test_bad_schedules_are_refused_naming_file_line_field_and_fix(repo_copy, new, field, words):
    errors = _errors(repo_copy, "dev", DEV_EVENINGS, new)
    assert len(errors) == 1, errors
    line = errors[0]
    assert line.startswith("environments/dev.yaml:") and f"endpoints.intent-3b.{field}" in line, line
    assert words in line and "; fix: " in line, line


def test_schedules_must_restore_the_configured_bounds(repo_copy):
    errors = _errors(repo_copy, "dev", '{name: mornings, cron: "0 8 ? * MON-FRI *", min: 1, max: 2,',
                     '{name: mornings, cron: "0 8 ? * MON-FRI *", min: 1, max: 1,')
    assert len(errors) == 1 and "no schedule restores instances.min/max" in errors[0]
    assert "add a schedule with min: 1, max: 2" in errors[0]


def test_an_instance_count_canary_needs_twice_its_size_under_every_schedule(repo_copy):
    prod = repo_copy / "environments" / "prod.yaml"
    prod.write_text(prod.read_text().replace(
        "      scale_in_cooldown_seconds: 900\n",
        "      scale_in_cooldown_seconds: 900\n      schedules:\n"
        '        - {name: nights, cron: "0 22 ? * * *", min: 1, max: 2, timezone: UTC}\n'
        '        - {name: days, cron: "0 6 ? * * *", min: 2, max: 8, timezone: UTC}\n'))
    with pytest.raises(SpecErrors) as raised:
        load_project(repo_copy)
    (error,) = [str(e) for e in raised.value.errors]
    assert "endpoints.intent-3b.autoscaling.schedules.0.min" in error and "more than half" in error


def test_cron_parsing_covers_names_ranges_lists_steps_and_aws_day_numbers():
    assert parse_cron("0/15 8-18 ? * MON-FRI *") == ["0/15", "8-18", "?", "*", "MON-FRI", "*"]
    assert parse_cron("30 2 1,15 * ? 2026-2030")[2] == "1,15"
    assert parse_cron("0 12 ? * 6#3 *")[4] == "6#3" and parse_cron("0 12 L * ? *")[2] == "L"
    # AWS day-of-week: 1 = SUN, 2 = MON ... 7 = SAT -> Python weekday 6, 0 ... 5
    assert weekly_firings("0 19 ? * 2-6 *") == weekly_firings("0 19 ? * MON-FRI *") == \
        [(d, 19, 0) for d in range(5)]
    assert weekly_firings("0 0 ? * SUN,SAT *") == [(5, 0, 0), (6, 0, 0)]
    assert weekly_firings("0/30 9 * * ? *") == [(d, 9, m) for d in range(7) for m in (0, 30)]
