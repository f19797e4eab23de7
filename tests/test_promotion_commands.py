"""The promotion commands' contract with CI, without AWS: `status` exits 3 (never "no drift") when AWS
cannot be read, every exit code is in the help, and SIGTERM/SIGINT become one `Interrupted`."""

from __future__ import annotations

import os
import signal

import pytest

from cli_helpers import run_cli
from scripts.lib import interrupts


@pytest.fixture
def unreachable_aws(monkeypatch):
    from scripts.lib import aws

    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: connection refused
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    aws.client.cache_clear()
    yield
    aws.client.cache_clear()


def test_status_exits_3_and_says_unknown_when_aws_cannot_be_reached(unreachable_aws):
    result = run_cli("status", "--env", "dev", "--json")
    assert result.code == 3, result.err
    assert "AWS could not be read" in result.errors[0]
    rows = result.result()["endpoints"]
    assert rows and all(r["aws_error"] and "AWS" in r["error"] and r["needs_attention"] for r in rows)
    drift = [e["drift"] for e in result.json_lines() if e.get("event") == "row"]
    assert set(drift) == {"unknown"}, "never 'none' when nothing could be compared"
    assert not any("credentials are for account" in r["error"] for r in rows)


def test_status_exits_3_without_credentials(monkeypatch, unreachable_aws, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = run_cli("status", "--env", "dev", "--json")
    assert result.code == 3 and "Unable to locate credentials" in result.result()["endpoints"][0]["error"]


def test_every_exit_code_is_in_the_help():
    promote = run_cli("promote", "--help").out
    for code in ("0 promoted", "2 invalid", "3 AWS", "4 refused", "5 SageMaker", "6 CloudFormation", "7 live",
                 "8 timed out", "70 internal", "130 interrupted"):
        assert code in " ".join(promote.split()), code
    top = " ".join(run_cli("--help").out.split())
    for code in ("3 AWS error", "4 promote/rollback refused", "5 rolled back", "6 deployment failed",
                 "7 smoke test failed", "8 timed out", "70 internal", "130 interrupted"):
        assert code in top, code


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_first_signal_interrupts_and_a_second_one_during_cleanup_is_ignored(sig):
    with interrupts.as_exceptions() as signals:
        with pytest.raises(interrupts.Interrupted) as raised:
            os.kill(os.getpid(), sig)  # the handler runs before the next bytecode
        assert raised.value.signal_name == sig.name
        with signals.held():
            os.kill(os.getpid(), signal.SIGTERM)  # CI's second signal while the record is written
        assert signals.received == [sig.name, "SIGTERM"]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, "the handlers are put back"


def test_evaluate_lets_a_second_signal_through_and_holds_the_rest():
    """evaluate's first signal stops sending, its second stops waiting for calls in flight; a third,
    or any while the report is written, is noted only."""
    with interrupts.as_exceptions(raising=2) as signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with pytest.raises(interrupts.Interrupted):
                os.kill(os.getpid(), sig)
        os.kill(os.getpid(), signal.SIGTERM)
        assert signals.received == ["SIGINT", "SIGTERM", "SIGTERM"]
    with interrupts.as_exceptions(raising=2) as signals:
        with signals.held():
            os.kill(os.getpid(), signal.SIGTERM)
        assert signals.received == ["SIGTERM"]
