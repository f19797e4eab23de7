"""github.yaml: who may deploy from GitHub Actions. Every bad value is one line with a fix, and it is optional."""

from __future__ import annotations

import pytest

from config_helpers import REPO, Tree, copy_tree, one

GITHUB = "github.yaml"
VALID = """\
repository: example-org/pinned-llama
environments:
  dev: {branch: main}
  staging: {branch: main}
  prod: {github_environment: prod}
"""


@pytest.fixture
def tree(tmp_path) -> Tree:
    tree = copy_tree(tmp_path)
    tree.write(GITHUB, VALID)
    return tree


def test_the_repo_example_is_valid_and_trusts_main_and_the_prod_environment():
    github = Tree(REPO).load().github
    assert github.subject("dev") == "repo:example-org/pinned-llama:ref:refs/heads/main"
    assert github.subject("staging") == "repo:example-org/pinned-llama:ref:refs/heads/main"
    assert github.subject("prod") == "repo:example-org/pinned-llama:environment:prod"


def test_without_github_yaml_there_is_no_github_config(tmp_path):
    assert copy_tree(tmp_path).load().github is None


@pytest.mark.parametrize("old, new, field, problem, fix", [
    ("example-org/pinned-llama", "example-org", "repository", "is not a GitHub repository", "owner/name"),
    ("example-org/pinned-llama", "https://github.com/a/b", "repository", "is not a GitHub repository", "owner/name"),
    ("dev: {branch: main}", "dev: {branch: 'feature/*'}", "environments.dev.branch", "not a plain branch name",
     "no wildcards"),
    ("dev: {branch: main}", "dev: {branch: refs/heads/main}", "environments.dev.branch", "not a plain branch name",
     "no refs/heads/"),
    ("prod: {github_environment: prod}", "prod: {github_environment: 'pro*'}", "environments.prod.github_environment",
     "not a GitHub environment name", "no wildcards"),
    ("dev: {branch: main}", "dev: {branch: main, github_environment: dev}", "environments.dev",
     "exactly one of branch or github_environment", "github_environment: prod"),
    ("dev: {branch: main}", "dev: {}", "environments.dev", "exactly one of branch or github_environment", "branch: main"),
    ("dev: {branch: main}", "dev: {branch: main, trust: all}", "environments.dev.trust", "unknown key",
     "github_environment"),
    pytest.param("staging: {branch: main}", "qa: {branch: main}", "environments.qa", "no environment named 'qa'",
                 "dev, prod, staging", id="an-environment-without-a-config-file"),
    # A branch is all anyone with push access needs; the prod environment adds required reviewers.
    pytest.param("prod: {github_environment: prod}", "prod: {branch: main}", "environments.prod.branch",
                 "production environment", "github_environment: prod", id="production-trusts-a-branch"),
])
def test_bad_values_are_refused_on_their_line_with_a_fix(tree, old, new, field, problem, fix):
    tree.refuses(GITHUB, old, new, field, problem, fix)


def test_github_errors_are_reported_with_the_other_files_errors(tree):
    tree.replace(GITHUB, "example-org/pinned-llama", "nope")
    tree.replace("environments/dev.yaml", "region: us-east-1", "region: nowhere")
    files = {e.file for e in tree.errors()}
    assert files == {GITHUB, "environments/dev.yaml"}


def test_promote_on_approval_must_name_an_environment_with_a_deploy_role(tree):
    line = tree.replace(GITHUB, "dev: {branch: main}", "dev: {branch: main, promote_on_approval_to: qa}")
    one(tree.errors(), GITHUB, "environments.dev.promote_on_approval_to", "'qa' has no deploy role",
        "dev, prod, staging")
    assert one(tree.errors(), GITHUB, "environments.dev.promote_on_approval_to").line == line


def test_approval_routes_lead_to_the_target_endpoints_serving_the_approved_model(tree):
    tree.replace(GITHUB, "dev: {branch: main}", "dev: {branch: main, promote_on_approval_to: staging}")
    github = tree.load(only_env="dev").github  # a single-environment synth sees the same routes
    assert github.approval_routes("dev") == (("dev-llama-3-2-3b-instruct", "intent-3b"),)
    assert github.approval_routes("staging") == ()


def test_an_unlisted_environment_gets_no_deploy_role(tree):
    tree.replace(GITHUB, "  dev: {branch: main}\n", "")
    assert sorted(tree.load().github.environments) == ["prod", "staging"]
