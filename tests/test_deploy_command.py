"""`deploy` (what `make deploy ENV=...` runs): nothing reaches CloudFormation while a serving pin is
not what the account holds."""

from __future__ import annotations

import pytest

from cli_helpers import run_cli
from conftest import copy_inputs
from localaws.emulator import AwsEmulator

pytestmark = pytest.mark.slow  # full tier: the emulator and an in-process synth of one environment


@pytest.fixture
def dev_account(monkeypatch, tmp_path):
    from scripts.lib import aws

    root = copy_inputs(tmp_path / "repo")
    with AwsEmulator(account_id="111111111111") as emu:
        for name, value in emu.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("PINNED_LLAMA_ROOT", str(root))
        aws.client.cache_clear()
        yield emu
    aws.client.cache_clear()


def test_unverified_serving_pins_are_refused_one_line_each_before_any_stack_changes(dev_account):
    result = run_cli("deploy", "--env", "dev", "--json")
    assert result.code == 4, result.err
    lines = result.err.splitlines()
    assert lines[0] == "error: 2 serving pin(s) of dev are not what the account holds; nothing was deployed:"
    pins = [line.strip() for line in lines[1:]]
    assert [p.split(":")[0] for p in pins] == ["llama-3-2-1b-instruct/v1", "llama-3-2-3b-instruct/v1"]
    assert all("bucket does not exist" in p and "; fix: python -m scripts verify --model" in p for p in pins)
    assert dev_account.client("cloudformation").describe_stacks()["Stacks"] == []


def test_credentials_of_another_account_are_refused_before_synthesis(monkeypatch, tmp_path):
    from scripts.lib import aws

    monkeypatch.setenv("PINNED_LLAMA_ROOT", str(copy_inputs(tmp_path / "repo")))
    with AwsEmulator() as emu:  # moto's own account, not dev's 111111111111
        for name, value in emu.env().items():
            monkeypatch.setenv(name, value)
        aws.client.cache_clear()
        result = run_cli("deploy", "--env", "dev")
    aws.client.cache_clear()
    assert result.code == 2
    assert result.errors == ["error: --env dev: your credentials are for account 123456789012, dev is 111111111111; "
                             "fix: use credentials of account 111111111111"]
