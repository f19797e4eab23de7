"""`evaluate` across serving formats: LMI's and TGI's chat routes, TGI's generate route with the pinned
chat template, the containers' own overload, and the baseline's refusals."""

from __future__ import annotations

import hashlib
import json

import pytest
from contract_helpers import CONTRACTS
from evaluation_helpers import env, run_cli, utterance, write_dataset  # noqa: F401
from ruamel.yaml import YAML

from localaws.openai_compatible import FakeOpenAI, Refusal
from localaws.runtime_endpoint import FakeRuntimeEndpoint
from scripts.evaluation.answers import request_text

TEMPLATE = CONTRACTS / "llama-3.2-instruct_tokenizer_config.json"
ROWS = [("where is my parcel", "check_order_status"), ("cancel it please", "cancel_order"),
        ("refund me", "refund_request"), ("is it on its way", "check_order_status"),
        ("talk to a person", "speak_to_agent"), ("my card was charged twice", "payment_issue")]
MODEL = {"where is my parcel": "check_order_status", "cancel it please": "Cancel order.",
         "refund me": "refund_request", "is it on its way": "cancel_order",  # wrong
         "talk to a person": "I can't tell.", "my card was charged twice": "payment_issue"}  # invalid
# accuracy 4/6 = 0.6667, invalid 1/6: the same for every format, since the model answers the same.


@pytest.fixture(autouse=True)
def no_baseline_rule(env):
    dev = env / "environments" / "dev.yaml"
    dev.write_text(dev.read_text().replace(", max_accuracy_gap_to_baseline: 0.02}", "}"))


@pytest.fixture(autouse=True)
def fast_png(monkeypatch):
    monkeypatch.setattr("scripts.evaluation.report.confusion_png", lambda report, path: path.write_bytes(b""))


def model(endpoint: str, request: dict) -> str:
    return MODEL[utterance(request_text(request) + "\n")]


def tgi_2_3_pin(root, template: bytes) -> None:
    """llama-3-2-1b-instruct v9: v1's weights on TGI 2.3.1 (no chat route on /invocations), with the
    template file's real checksum: a pin as pin-weights / pin-image would write it."""
    yaml = YAML(typ="safe", pure=True)
    data = yaml.load((root / "model_artifacts" / "llama-3-2-1b-instruct" / "v1.yaml").read_text())
    data.update(version="v9", approval={"status": "PendingManualApproval"})
    data["weights"]["prefix"] = "llama-3-2-1b-instruct/v9/"
    data["container"].update(framework_version="2.3.1", tag="2.3.1-tgi2.3.1-gpu-py311-cu124-ubuntu22.04")
    for file in data["weights"]["files"]:
        if file["path"] == "tokenizer_config.json":
            file.update(size=len(template), sha256=hashlib.sha256(template).hexdigest())
    data["manifest_sha256"] = _hash(data)
    (root / "model_artifacts" / "llama-3-2-1b-instruct" / "v9.yaml").write_text(json.dumps(data, indent=2))


def _hash(data: dict) -> str:
    from config.pin import PinnedContent

    content = {k: data[k] for k in PinnedContent.model_fields if k in data}  # schema 1: no registry block
    return PinnedContent.model_validate(content).content_hash()


def run(fake, tmp_path, name, endpoint, *extra):
    dataset = write_dataset(tmp_path / "d.jsonl", ROWS)
    result = run_cli("evaluate", "--env", "dev", "--endpoint", endpoint, "--dataset", str(dataset),
                     "--endpoint-url", fake.url, "--out", str(tmp_path / name), "--json", *extra)
    return result, json.loads((tmp_path / name / "report.json").read_text())


def test_tgi_and_lmi_served_versions_get_the_same_verdict_for_the_same_answers(env, tmp_path):
    template = TEMPLATE.read_bytes()
    tgi_2_3_pin(env, template)
    reports, bodies = {}, {}
    for name, container, version, endpoint, extra in [
            ("lmi-chat", "lmi", "0.31.0", "intent-3b", ()),
            ("tgi-chat", "tgi", "2.4.0", "intent-1b", ()),
            ("tgi-generate", "tgi", "2.3.1", "intent-1b", ("--version", "v9", "--chat-template", str(TEMPLATE)))]:
        with FakeRuntimeEndpoint(container=container, version=version, latency_s=0, answer=model,
                                 record_bodies=True) as fake:
            result, reports[name] = run(fake, tmp_path, name, endpoint, *extra)
        assert result.code == 1, result.err  # 0.6667 < min_accuracy 0.9
        bodies[name] = fake.bodies[0]
    verdicts = {name: (r["verdict"], r["metrics"]["accuracy"], r["metrics"]["invalid"], r["metrics"]["errors"],
                       [e["predicted"] for e in r["examples"]]) for name, r in reports.items()}
    assert len(set(map(json.dumps, verdicts.values()))) == 1, verdicts
    assert verdicts["lmi-chat"][:4] == ("fail", 0.6667, 1, 0)
    assert [r["prompt"]["route"] for r in reports.values()] == ["chat", "chat", "generate"]
    # TGI 2.3: the prompt rendered with the pinned template (system block, no BOS: the tokenizer adds
    # it), the generated text only, and the container's token counts.
    inputs = bodies["tgi-generate"]["inputs"]
    assert inputs.startswith("<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
                             "Today Date: ")
    assert inputs.endswith("Intent:<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    assert bodies["tgi-generate"]["parameters"]["return_full_text"] is False
    generate = reports["tgi-generate"]
    assert generate["prompt"]["chat_template"] == {"file": "tokenizer_config.json",
                                                   "sha256": hashlib.sha256(template).hexdigest(),
                                                   "applied_by": "evaluate", "read_from": str(TEMPLATE)}
    assert generate["tokens"]["prompt_source"] == "reported" == generate["tokens"]["completion_source"]


def test_the_generate_route_refuses_a_template_that_is_not_the_pinned_one(env, tmp_path):
    tgi_2_3_pin(env, TEMPLATE.read_bytes())
    other = tmp_path / "tokenizer_config.json"
    other.write_text(TEMPLATE.read_text().replace("Cutting Knowledge", "Knowledge"))
    with FakeRuntimeEndpoint(container="tgi", version="2.3.1", latency_s=0, answer=model) as fake:
        dataset = write_dataset(tmp_path / "d.jsonl", ROWS)
        result = run_cli("evaluate", "--env", "dev", "--endpoint", "intent-1b", "--dataset", str(dataset),
                         "--version", "v9", "--chat-template", str(other), "--endpoint-url", fake.url,
                         "--out", str(tmp_path / "o"))
    assert result.code == 2 and fake.requests == 0 and not (tmp_path / "o").exists()
    assert result.errors[0].startswith("error: --chat-template: sha256 ") and "is not the pinned" in result.errors[0]


def test_the_generate_route_reads_the_template_from_the_weights_bucket(env, tmp_path):
    from moto import mock_aws

    from scripts.lib.aws import client

    tgi_2_3_pin(env, TEMPLATE.read_bytes())
    with mock_aws():
        s3 = client("s3", "us-east-1")
        bucket = "llama-weights-dev-111111111111-us-east-1"
        s3.create_bucket(Bucket=bucket)
        with FakeRuntimeEndpoint(container="tgi", version="2.3.1", latency_s=0, answer=model) as fake:
            dataset = write_dataset(tmp_path / "d.jsonl", ROWS)
            args = ["evaluate", "--env", "dev", "--endpoint", "intent-1b", "--dataset", str(dataset), "--version",
                    "v9", "--endpoint-url", fake.url, "--out", str(tmp_path / "o"), "--json"]
            missing = run_cli(*args)
            s3.put_object(Bucket=bucket, Key="llama-3-2-1b-instruct/v9/tokenizer_config.json",
                          Body=TEMPLATE.read_bytes())
            found = run_cli(*args)
    assert missing.code == 3 and missing.errors[0].startswith(
        f"error: s3://{bucket}/llama-3-2-1b-instruct/v9/tokenizer_config.json: cannot read it (NoSuchKey); fix: ")
    assert found.code == 1, found.err
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["prompt"]["chat_template"]["read_from"].startswith(f"s3://{bucket}/")


@pytest.mark.parametrize("container", ["lmi", "tgi"])
def test_the_containers_own_overload_is_retried_and_a_failed_generation_is_an_error(env, tmp_path, container):
    endpoint = "intent-3b" if container == "lmi" else "intent-1b"
    with FakeRuntimeEndpoint(container=container, latency_s=0, overload_rate=0.4, answer=model, seed=3) as fake:
        result, report = run(fake, tmp_path, "busy", endpoint)
    assert report["metrics"]["errors"] == 0 and report["run"]["throttled"] > 0, report["run"]
    assert fake.requests == len(ROWS) + report["run"]["throttled"]
    with FakeRuntimeEndpoint(container=container, latency_s=0, error_rate=1.0, answer=model) as fake:
        result, report = run(fake, tmp_path, "broken", endpoint)
    assert report["metrics"]["errors"] == len(ROWS) and fake.requests == len(ROWS)  # not retried
    assert report["examples"][0]["error"].startswith("ModelError: the container answered ")


def test_a_baseline_refusal_is_kept_as_an_invalid_answer_with_its_text(env, tmp_path, monkeypatch):
    def baseline(model_name, messages):
        text = utterance(messages[-1]["content"] + "\n")
        return Refusal("I'm sorry, I can't help with that.") if text == "refund me" else MODEL[text]

    with FakeRuntimeEndpoint(latency_s=0, answer=model) as fake, FakeOpenAI(answer=baseline) as openai:
        monkeypatch.setenv("OPENAI_BASE_URL", openai.url)
        monkeypatch.setenv("OPENAI_API_KEY", openai.api_key)
        result, report = run(fake, tmp_path, "base", "intent-3b", "--baseline", "openai:gpt-4o-mini")
    base = report["baseline"]
    refused = next(e for e in base["examples"] if e["text"] == "refund me")
    assert refused["status"] == "invalid" and refused.get("refusal") is True
    assert refused["answer"] == "(refusal) I'm sorry, I can't help with that."
    assert base["tokens"]["refusals"] == 1 and base["metrics"]["invalid"] == 2
    disagreement = next(d for d in base["disagreements"] if d["text"] == "refund me")
    assert disagreement["baseline_answer"].startswith("(refusal) I'm sorry")


def test_a_pin_without_its_tokenizer_config_cannot_use_the_generate_route(env, tmp_path):
    from scripts.evaluation.chat_template import pinned_template_file
    from scripts.lib.errors import UserError
    from config.loader import require
    from config.pin import Pin

    tgi_2_3_pin(env, TEMPLATE.read_bytes())
    path = env / "model_artifacts" / "llama-3-2-1b-instruct" / "v9.yaml"
    data = json.loads(path.read_text())
    data["weights"]["files"] = [f for f in data["weights"]["files"] if f["path"] != "tokenizer_config.json"]
    data["manifest_sha256"] = _hash(data)
    path.write_text(json.dumps(data))
    pin = require(Pin, path, "model_artifacts/llama-3-2-1b-instruct/v9.yaml")
    with pytest.raises(UserError, match="weights.files: no tokenizer_config.json, so the chat template"):
        pinned_template_file(pin, "model_artifacts/llama-3-2-1b-instruct/v9.yaml")


def test_a_client_for_a_generate_route_pin_without_its_template_is_refused_up_front(env):
    from scripts.evaluation.clients import SageMakerEndpoint
    from scripts.lib.errors import UserError
    from config.project import load_project

    tgi_2_3_pin(env, TEMPLATE.read_bytes())
    pin = load_project(env).pins[("llama-3-2-1b-instruct", "v9")]
    with pytest.raises(UserError, match="the generate route needs the pinned chat template"):
        SageMakerEndpoint.for_pin("dev-intent-1b", "us-east-1", pin, 12)
