"""The demo's cutover (`make demo`, after promote / status / rollback): the migration's shadow and
cutover phases on live traffic, with the application client (client/pinned_llama_client).

An application in this process classifies utterances of the intent dataset with the client: its
routing from the emulator's SSM parameters (cache TTL 1 s), InvokeEndpoint on the emulator's
endpoint (the lab's stand-in model), the OpenAI-compatible fake as the hosted API, and its metrics
as EMF through CloudWatch Logs into the endpoint's client log group, where the emulator extracts
them and evaluates the fallback-rate alarm on the simulated clock. Steps: route shadow (the API
answers; agreement recorded, shadow-report reads it), canary 25 %, llama, an injected endpoint
failure (the client falls back, the circuit opens, the alarm fires), recovery (the circuit
closes, the alarm clears). The route gates are in docs/applications.md.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from config import naming
from localaws.invoke_faults import model_error
from localaws.lab import Lab
from localaws.openai_compatible import FakeOpenAI

ENDPOINT_KEY = "intent-3b"
AGREEMENT = 0.92  # the stand-in Llama gives the API's label on about this share of utterances


def utterances(root: Path) -> list[tuple[str, str]]:
    """(text, intent) of the dataset's dev split."""
    import json

    lines = (root / "datasets" / "intents" / "dev.jsonl").read_text().splitlines()
    return [(d["text"], d["intent"]) for d in map(json.loads, filter(str.strip, lines))]


class App:
    """The application: a Classifier and a stream of utterances."""

    def __init__(self, lab: Lab, api_url: str, data: list[tuple[str, str]]):
        import openai

        from pinned_llama_client import Classifier, CircuitBreaker, CloudWatchLogsSink, Metrics, ParameterSettings

        emu = lab.emulator
        self.data = data
        from config.project import load_project

        self.evaluation = load_project(lab.root, lab.env_name).environments[lab.env_name] \
            .endpoints[ENDPOINT_KEY].evaluation  # the prompt the application sends (as it sent GPT-4o-mini)
        self.sink = CloudWatchLogsSink(emu.client("logs"), naming.client_log_group(lab.env_name, ENDPOINT_KEY),
                                       "demo-app-1", interval_s=0.2)
        self.classifier = Classifier(
            ParameterSettings(naming.client_parameter_prefix(lab.env_name, ENDPOINT_KEY), emu.client("ssm"), ttl_s=1.0),
            openai.OpenAI(api_key="test-key", base_url=api_url, max_retries=0),
            metrics=Metrics(self.sink, flush_interval_s=0.2),
            breaker=CircuitBreaker(failure_threshold=5, open_seconds=3.0),
            sagemaker_client=lambda timeout: emu.client("sagemaker-runtime"), seed=11)
        self._random = random.Random(5)

    def send(self, count: int) -> Counter:
        seen: Counter = Counter()
        for _ in range(count):
            text, _ = self._random.choice(self.data)
            answer = self.classifier.classify(self.evaluation.prompt(text))
            seen[answer.served_by + (f" ({answer.fallback_reason.value})" if answer.fallback_reason else "")] += 1
        return seen

    def close(self) -> None:
        self.classifier.close()


def run(lab: Lab, say: Callable[[str], None], step: Callable[[str], None]) -> None:
    data = utterances(lab.root)
    flip = random.Random(9)
    labels = sorted({label for _, label in data})
    # The stand-in Llama: the dataset's label, or another one for ~8% of the utterances.
    lab.labels_of = {text: (label if flip.random() < AGREEMENT else flip.choice(labels)) for text, label in data}
    truth = dict(data)

    def api_answer(model: str, messages: list[dict]) -> str:
        content = str(messages[-1].get("content", ""))
        return next((label for text, label in truth.items() if text in content), "speak_to_agent")

    common = ["--env", lab.env_name, "--endpoint", ENDPOINT_KEY]
    name = naming.endpoint(lab.env_name, ENDPOINT_KEY)
    alarm = naming.alarm(name, "fallback-rate")
    cloudwatch = lab.emulator.client("cloudwatch")
    state = (lambda: cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"])
    with FakeOpenAI(answer=api_answer) as api:
        app = App(lab, api.url, data)
        try:
            step("8. cutover: shadow (the API answers; Llama is asked in the background and compared)")
            route(lab, say, *common, "--mode", "shadow")
            say(f"app: 60 requests → {dict(app.send(60))}")
            time.sleep(0.5)  # the last comparisons and their EMF lines
            say("$ python -m scripts shadow-report --env dev --endpoint intent-3b --source client")
            lab.run("shadow-report", *common, "--source", "client", check=False)

            step("9. cutover: canary 25% (a quarter served by Llama, with fallback)")
            route(lab, say, *common, "--mode", "canary", "--percent", "25")
            time.sleep(1.1)  # the client's cache TTL
            say(f"app: 80 requests → {dict(app.send(80))}")

            step("10. cutover: llama (Llama serves; the API is the fallback)")
            route(lab, say, *common, "--mode", "llama")
            time.sleep(1.1)
            say(f"app: 60 requests → {dict(app.send(60))}")

            step("11. an endpoint failure: ModelError 500 on every call; the client falls back, the circuit opens")
            lab.invoke_fault = model_error(name, 500,
                                           {"code": 500, "type": "EngineException", "message": "CUDA error"})
            seen = _until(app, lambda: state() == "ALARM", timeout_s=40)
            say(f"app during the outage: {dict(seen)}; the application got an answer every time")
            say(f"alarm {alarm}: {state()} (the fallback rate from the client's EMF metrics)")

            step("12. recovery: the endpoint answers again; a probe closes the circuit, the alarm clears")
            lab.invoke_fault = None
            seen = _until(app, lambda: state() == "OK", timeout_s=40)
            say(f"app after recovery: {dict(seen)}; circuit {app.classifier.breaker.state}")
            say(f"alarm {alarm}: {state()}")
            say("$ python -m scripts route --env dev --endpoint intent-3b")
            lab.run("route", *common, check=False)
        finally:
            app.close()


def route(lab: Lab, say: Callable[[str], None], *args: str) -> None:
    say("$ python -m scripts route " + " ".join(args))
    lab.run("route", *args)


def _until(app: App, done: Callable[[], bool], timeout_s: float) -> Counter:
    """Send traffic (in a thread, as an application would) until `done()` or the timeout."""
    seen: Counter = Counter()
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            seen.update(app.send(5))

    worker = threading.Thread(target=traffic, daemon=True)
    worker.start()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not done():
            time.sleep(0.5)
    finally:
        stop.set()
        worker.join()
    return seen
