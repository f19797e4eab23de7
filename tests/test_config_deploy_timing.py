"""Deployment timing rules (issue 12 items 6 and 9): rollback alarms must have time to fire while
SageMaker watches them, and MaximumExecutionTimeoutInSeconds must cover the whole deployment."""

from __future__ import annotations

import pytest

from config.deploy_override import DeployOverride, DeployOverrides, apply_overrides
from config.environment import Strategy
from config.errors import SpecErrors
from config_helpers import DEV, PROD, STAGING, copy_tree, one

EP = "endpoints.intent-3b"


@pytest.fixture
def tree(tmp_path):
    return copy_tree(tmp_path)


def test_an_all_at_once_bake_shorter_than_the_alarm_window_is_refused_with_the_numbers(tree):
    # dev intent-1b before the fix: bake 120 s, alarms need 3 breaching minutes + CloudWatch's delay
    tree.replace(DEV, "      baking_seconds: 300\n    data_capture", "      baking_seconds: 120\n    data_capture")
    error = one(tree.errors(), DEV, "endpoints.intent-1b.deployment.baking_seconds",
                "baking_seconds 120 is shorter than the rollback alarms can fire: the baking period must last at "
                "least 3 x 60 s (alarms.evaluation_minutes) + 120 s CloudWatch delay = 300 s", "to 300 or more")
    assert error.line is not None


def test_a_canary_wait_shorter_than_the_alarm_window_is_refused(tree):
    tree.replace(PROD, "wait_seconds: 600", "wait_seconds: 290")
    one(tree.errors(), PROD, f"{EP}.deployment.wait_seconds", "canary wait must last at least 3 x 60 s "
        "(alarms.evaluation_minutes) + 120 s CloudWatch delay = 300 s")


def test_longer_alarm_windows_need_longer_waits(tree):
    tree.replace(PROD, "evaluation_minutes: 3", "evaluation_minutes: 10")  # 600 + 120 > the 600 s canary wait
    one(tree.errors(), PROD, f"{EP}.deployment.wait_seconds", "= 720 s", "lower alarms.evaluation_minutes")


def test_the_window_rule_holds_for_the_repo_examples(tree):
    for env in tree.load().environments.values():
        for endpoint in env.endpoints.values():
            assert endpoint.rollback_window_problems() == [], endpoint


def test_a_rollback_without_auto_rollback_is_not_held_to_the_alarm_window(tree):
    # A canary config may bake briefly; `rollback` deploys it all-at-once without alarm rollback.
    tree.replace(PROD, "baking_seconds: 900", "baking_seconds: 60")
    project = tree.load()
    rollback = DeployOverrides({"prod/intent-3b": DeployOverride(strategy=Strategy.ALL_AT_ONCE, auto_rollback=False)})
    assert apply_overrides(project, rollback).environments["prod"].endpoints["intent-3b"].deployment.baking_seconds == 60
    promote = DeployOverrides({"prod/intent-3b": DeployOverride(strategy=Strategy.ALL_AT_ONCE)})
    with pytest.raises(SpecErrors, match="baking_seconds 60 is shorter than the rollback alarms can fire"):
        apply_overrides(project, promote)


def test_max_execution_counts_every_linear_step(tree):
    # 25% steps: 4 waits of 600 s; with 3600 s of timeouts and 600 s baking that is 6600 s, above 5400
    tree.replace(STAGING, "strategy: canary\n      canary_size: {type: capacity-percent, value: 50}",
                 "strategy: linear\n      linear_step: {type: capacity-percent, value: 25}")
    one(tree.errors(), STAGING, f"{EP}.deployment.max_execution_seconds",
        "1800 s download + 1800 s start-up (timeouts) + 4 x 600 s wait + 600 s baking = 6600 s", "above 6600")


def test_max_execution_counts_instance_count_steps_on_the_largest_fleet(tree):
    # 1-instance steps on a fleet that may have scaled to 8: 8 waits of 600 s
    tree.replace(PROD, "strategy: canary\n      canary_size: {type: instance-count, value: 1}",
                 "strategy: linear\n      linear_step: {type: instance-count, value: 1}")
    one(tree.errors(), PROD, f"{EP}.deployment.max_execution_seconds", "+ 8 x 600 s wait + 900 s baking = 9300 s")


def test_max_execution_counts_the_download_and_startup_timeouts(tree):
    tree.replace(PROD, "model_download_seconds: 1800", "model_download_seconds: 2100")  # 5400 s: not above
    one(tree.errors(), PROD, f"{EP}.deployment.max_execution_seconds", "2100 s download + 1800 s start-up")
