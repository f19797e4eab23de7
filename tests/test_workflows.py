"""The GitHub workflows users run: schema-valid, and the properties their security and ordering rely on.

Schemas: check-jsonschema's vendored GitHub schemas (offline). What only GitHub can show
(OIDC token claims at run time, required reviewers, pushes back to the branch) is in docs/ci.md.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from conftest import ROOT

from scripts.cli import COMMANDS
from config.project import load_project
from stacks.constructs.github_deploy_role import SESSION_HOURS

WORKFLOWS = ROOT / ".github" / "workflows"
ACTION = ROOT / ".github" / "actions" / "promote" / "action.yml"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def load(path: Path) -> dict:
    return YAML(typ="safe", pure=True).load(path.read_text())


def check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)],
                          capture_output=True, text=True, timeout=60)


def every_file() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml")) + [ACTION]


def steps_of(document: dict) -> list[dict]:
    if "runs" in document:
        return document["runs"]["steps"]
    return [s for job in document["jobs"].values() for s in job.get("steps", [])]


@pytest.fixture(scope="module")
def promote() -> dict:
    return load(WORKFLOWS / "promote.yml")


@pytest.fixture(scope="module")
def pull_request() -> dict:
    return load(WORKFLOWS / "pull-request.yml")


# --- schemas ---------------------------------------------------------------------------------


@pytest.mark.slow  # full tier: check-jsonschema in a subprocess
def test_workflows_match_the_github_workflow_schema():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert [f.name for f in files] == ["promote.yml", "pull-request.yml"]
    result = check_jsonschema("vendor.github-workflows", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    # Every job has a timeout: a stuck promotion must not hold the endpoint's concurrency group for 6 h.
    result = check_jsonschema("custom.github-workflows-require-timeout", *files)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow  # full tier: check-jsonschema in a subprocess
def test_the_composite_action_matches_the_github_action_schema():
    result = check_jsonschema("vendor.github-actions", ACTION)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow  # full tier: check-jsonschema in a subprocess
def test_the_schema_check_refuses_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text((WORKFLOWS / "promote.yml").read_text().replace("runs-on: ubuntu-24.04", "run-on: ubuntu-24.04"))
    assert check_jsonschema("vendor.github-workflows", broken).returncode != 0


# --- authentication and pinning ----------------------------------------------------------------


def test_no_long_lived_aws_keys_anywhere():
    for path in every_file():
        text = path.read_text()
        for key in ("aws-access-key-id", "aws-secret-access-key", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert key not in text, (path.name, key)


def test_aws_credentials_come_from_oidc_role_assumption_only():
    uses = [s for s in steps_of(load(ACTION)) if "configure-aws-credentials" in s.get("uses", "")]
    assert len(uses) == 1
    (step,) = uses
    assert set(step["with"]) == {"role-to-assume", "aws-region", "role-session-name", "role-duration-seconds"}
    assert step["with"]["role-duration-seconds"] == SESSION_HOURS * 3600  # the role's MaxSessionDuration


def test_only_promotion_jobs_may_request_an_oidc_token(promote, pull_request):
    assert promote["permissions"] == {"contents": "read"} == pull_request["permissions"]
    assert all("permissions" not in job for job in pull_request["jobs"].values())
    for name, job in promote["jobs"].items():
        if name == "plan":
            assert "permissions" not in job
        else:
            assert job["permissions"] == {"id-token": "write", "contents": "write"}, name
            assert [s.get("uses") for s in job["steps"]][-1] == "./.github/actions/promote"


def test_third_party_actions_are_pinned_by_full_commit_sha():
    seen = set()
    for path in every_file():
        text = path.read_text()
        for step in steps_of(load(path)):
            uses = step.get("uses")
            if uses is None or uses.startswith("./"):
                continue
            assert PINNED.match(uses), (path.name, uses)
            # A human-readable version next to the SHA, for the next reviewer bumping it.
            assert re.search(re.escape(uses) + r"\s+# v\d+\.\d+\.\d+", text), (path.name, uses)
            seen.add(uses.split("@")[0])
    assert seen == {"actions/checkout", "actions/setup-python", "actions/setup-node", "actions/upload-artifact",
                    "aws-actions/configure-aws-credentials"}


def test_no_expression_is_expanded_inside_a_shell_script():
    """Inputs and event payloads reach scripts through env: an expression in `run` is script injection."""
    for path in every_file():
        for step in steps_of(load(path)):
            assert "${{" not in step.get("run", ""), (path.name, step.get("name"))


# --- promotion order and trust ---------------------------------------------------------------------


def test_prod_waits_for_staging_and_its_reviewers(promote):
    jobs = promote["jobs"]
    assert jobs["prod"]["environment"] == "prod"
    assert "staging" in jobs["prod"]["needs"] and "plan" in jobs["prod"]["needs"]
    assert jobs["prod"]["if"] == "needs.plan.outputs.target == 'prod'"
    assert "'prod'" in jobs["staging"]["if"] and "'staging'" in jobs["staging"]["if"]


def test_each_job_runs_where_its_deploy_role_trusts_it(promote):
    """A job with a GitHub environment gets sub repo:..:environment:<name>; without one, repo:..:ref:<branch>."""
    github = load_project(ROOT).github
    jobs = promote["jobs"]
    for env, trust in github.environments.items():
        assert jobs[env].get("environment") == trust.github_environment, env
        step = jobs[env]["steps"][-1]
        assert step["with"]["environment"] == env
    assert promote["on"]["workflow_dispatch"]["inputs"]["environment"]["options"] == ["dev", "staging", "prod"]
    assert sorted(github.environments) == sorted(["dev", "staging", "prod"])


def test_two_promotions_of_one_endpoint_never_run_at_once(promote):
    group = promote["concurrency"]["group"]
    assert "github.event.inputs.endpoint" in group and "github.event.client_payload.endpoint" in group
    assert promote["concurrency"]["cancel-in-progress"] is False  # never abort a deployment halfway


def test_a_model_package_approval_can_start_a_promotion(promote):
    assert promote["on"]["repository_dispatch"]["types"] == ["model-package-approved"]
    step = promote["jobs"]["plan"]["steps"][0]
    for field in ("environment", "endpoint", "version"):
        assert f"github.event.client_payload.{field}" in str(step["env"])


def test_the_promote_step_calls_the_cli_with_json_and_commits_config_and_history():
    steps = {s.get("id") or s.get("name"): s for s in steps_of(load(ACTION))}
    assert 'promote --env "$ENVIRONMENT" --endpoint "$ENDPOINT" --version "$VERSION"' in steps["promote"]["run"]
    assert "--json" in steps["promote"]["run"] and "set -o pipefail" in steps["promote"]["run"]
    commit = steps["Commit the config and the promotion record back"]
    assert 'environments/$ENVIRONMENT.yaml' in commit["run"] and "history/promotions.jsonl" in commit["run"]
    assert "git pull --rebase" in commit["run"] and 'git push origin "HEAD:$BRANCH"' in commit["run"]
    # Concurrent endpoints append to the same history file: union merge keeps both lines on rebase.
    assert "history/promotions.jsonl merge=union" in (ROOT / ".gitattributes").read_text().splitlines()


# --- pull requests ---------------------------------------------------------------------------------


def test_pull_requests_validate_synthesize_review_and_test(pull_request):
    assert list(pull_request["on"]) == ["pull_request"]
    runs = "\n".join(s.get("run", "") for s in steps_of(pull_request))
    for command in ("make setup", "-m scripts validate", "-m scripts synth", "-m scripts review", "make test",
                    'cat review.md >> "$GITHUB_STEP_SUMMARY"'):
        assert command in runs, command
    upload = next(s for s in steps_of(pull_request) if "upload-artifact" in s.get("uses", ""))
    assert "review.md" in upload["with"]["path"]
    setup = {s["uses"].split("@")[0]: s["with"] for s in steps_of(pull_request) if "setup-" in s.get("uses", "")}
    assert setup["actions/setup-python"]["python-version"] == "3.11"
    assert setup["actions/setup-node"]["node-version"] == "22"


def test_the_cli_commands_the_workflows_call_exist():
    runs = "\n".join(s.get("run", "") for path in every_file() for s in steps_of(load(path)))
    called = set(re.findall(r"-m scripts ([a-z-]+)", runs))
    assert called >= {"validate", "synth", "review", "summary", "promote"}
    assert called <= set(COMMANDS)
