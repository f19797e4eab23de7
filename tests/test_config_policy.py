"""Policy rules across files: rejected versions never serve, promotion order, S3 name limits."""

from __future__ import annotations

import pytest

from config_helpers import DEV, PROD, STAGING, Tree, copy_tree, one


@pytest.fixture
def tree(tmp_path) -> Tree:
    return copy_tree(tmp_path)


def test_a_rejected_version_never_serves_even_where_approval_is_not_required(tree):
    tree.new_version("v3", edit=lambda d: d.update(approval={
        "status": "Rejected", "by": "qa@example.com", "at": "2026-01-05T10:00:00Z", "evidence": "accuracy 0.71"}))
    tree.replace(DEV, "version: v1", "version: v3")  # dev: require_approved_versions: false
    error = one(tree.errors(), DEV, "endpoints.intent-3b.version", "was rejected (accuracy 0.71)")
    assert "never serves" in error.fix


def test_promote_after_cannot_name_its_own_environment(tree):
    tree.replace(STAGING, "promote_after: dev", "promote_after: staging")
    one(tree.errors(), STAGING, "promote_after", "no other environment named 'staging'", "dev, prod")


def test_default_bucket_names_must_fit_s3s_63_characters(tree):
    # account (12) + a long region + a long environment name push the derived name past 63.
    tree.replace(PROD, "region: us-east-1", "region: ap-southeast-2")
    text = tree.text(PROD).replace("name: prod", "name: production-eu-customer-care")
    tree.write("environments/production-eu-customer-care.yaml", text)
    tree.path(PROD).unlink()
    errors = tree.errors()
    error = one(errors, "environments/production-eu-customer-care.yaml", "weights_bucket", "longer than S3's 63")
    assert "set weights_bucket explicitly" in error.fix


def test_gpu_memory_alarm_must_sit_above_what_the_server_reserves_at_start_up(tree):
    # The 3B pins reserve 90% (gpu_memory_utilization 0.9); prod alarms at 95%.
    tree.replace(PROD, "gpu_memory_percent: 95", "gpu_memory_percent: 90")
    error = one(tree.errors(), PROD, "endpoints.intent-3b.alarms.gpu_memory_percent",
                "90% is at or below the 90% of GPU memory that llama-3-2-3b-instruct/v1 reserves")
    assert "above 90" in error.fix
