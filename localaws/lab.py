"""A scratch copy of the repo deployed into the emulator with the real CDK CLI: what `make demo`
and the end-to-end tests run on (one code path for both).

    with Lab(workdir, speed=20) as lab:        # emulator up, nothing deployed
        lab.deploy_environment()               # stand-in weights, cdk bootstrap, cdk deploy of dev
        lab.run("promote", "--env", "dev", "--endpoint", "intent-3b", "--version", "v2")

The example pins name multi-GB weights with placeholder checksums, so the
scratch copy re-pins each deployed version to tiny stand-in files (same file
names, real SHA-256 and sizes, manifest resealed) and uploads them with S3
SHA-256 checksums: `verify` and the promotion gates then check real objects.
The repo's own environments/ and model_artifacts/ are never touched.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from config import naming
from localaws.emulator import AwsEmulator, SimClock, Timings
from localaws.inference_components import ComponentTimings
from scripts.lib import cdk
from scripts.evaluation.answers import request_text
from scripts.lib.repo import INPUTS, copy_inputs

REPO = Path(__file__).resolve().parents[1]
COPIED = (*INPUTS, "datasets")  # the evaluation datasets too: reports are made in the lab


@dataclass(frozen=True)
class Step:
    """A line of what the lab does, for the demo's narration and the tests' logs."""

    text: str


class Lab:
    def __init__(self, workdir: Path, env: str = "dev", account: str = "111111111111", speed: float = 20.0,
                 timings: Timings | None = None, say: Callable[[str], None] = lambda _: None,
                 prepare: Callable[[Path], None] | None = None, component_timings: ComponentTimings | None = None):
        self.workdir, self.env_name, self.account = Path(workdir), env, account
        self.root = self.workdir / "repo"
        self.broken_versions: set[str] = set()  # versions whose answers are nonsense (smoke-test faults)
        self.broken_adapters: set[tuple[str, str]] = set()  # (adapter, version) answering nonsense
        self._component_answers: dict[str, dict[str, str]] | None = None
        self.invoke_fault: Exception | None = None  # raised by every InvokeEndpoint (localaws/invoke_faults.py)
        self.labels_of: dict[str, str] = {}  # utterance -> label the stand-in model answers (the demo's traffic)
        self.assembly: Path | None = None  # the cdk.out deployed by deploy_environment()
        self._answers: dict[str, str] | None = None
        self.say = say
        self.prepare = prepare  # edits the scratch repo before anything is pinned or synthesized
        self.emulator = AwsEmulator(
            timings=timings or Timings(create_s=60, provision_s=60, rollback_s=30, wait_scale=0.25),
            clock=SimClock(speed=speed), account_id=account, component_timings=component_timings)

    # ----- lifecycle
    def __enter__(self) -> "Lab":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        if self.root.exists():
            shutil.rmtree(self.root)
        copy_inputs(REPO, self.root, COPIED)
        if self.prepare:
            self.prepare(self.root)
        self.emulator.start()
        self.emulator.responder = self.answer
        self.emulator.component_responder = self.answer_component
        self.say(f"emulator: moto on {self.emulator.url} (account {self.account}, {self.emulator.region})")

    def stop(self) -> None:
        self.emulator.stop()

    # ----- environment for subprocesses
    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        home = self.workdir / "home"  # the CDK CLI caches accounts per access key under ~/.cdk
        home.mkdir(exist_ok=True)
        env.update(self.emulator.env())
        env.update({"PINNED_LLAMA_ROOT": str(self.root), "HOME": str(home), "CI": "true", "PYTHONPATH": str(REPO)})
        return cdk.environ(env)

    def run(self, *args: str, check: bool = True, capture: bool = False, timeout: float = 600) \
            -> subprocess.CompletedProcess:
        """`python -m scripts ARGS` against the emulator and the scratch repo."""
        return self._exec([sys.executable, "-m", "scripts", *args], check, capture, timeout)

    def cdk(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return self._exec([str(cdk.cli()), *args, "--no-notices"], True, True, timeout)

    def _exec(self, args: list[str], check: bool, capture: bool, timeout: float) -> subprocess.CompletedProcess:
        # cwd: the lab's own directory. In the checkout, the CLI would read its cdk.json and lock
        # its cdk.out, and a concurrent `make synth` or test run would refuse to start.
        result = subprocess.run(args, cwd=self.workdir, env=self.environ(), text=True, timeout=timeout,
                                capture_output=capture, stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            detail = ((result.stdout or "") + (result.stderr or ""))[-2000:] if capture else ""
            raise RuntimeError(f"{' '.join(args[:4])} … exited {result.returncode}\n{detail}")
        return result

    # ----- deploy
    def deploy_environment(self, endpoints: list[str] | None = None, components: list[str] | None = None) -> None:
        """Deploy the artifacts stack and the endpoint stacks `endpoints` (default: all) and component
        endpoint stacks `components` (default: none)."""
        from config.project import load_project
        from localaws.lab_components import standin_adapters, upload_adapters

        env = load_project(self.root, self.env_name).environments[self.env_name]
        keys = list(env.endpoints) if endpoints is None else endpoints
        components = components or []
        models = {e.model for e in env.endpoints.values()} | {env.component_endpoints[k].base.model for k in components}
        repinned = standin_pins(self.root, sorted({(m, v) for m in models for v in _versions(self.root, m)}))
        pins = [pin for pin, _ in repinned]
        adapters = standin_adapters(self.root, {p.ref: p for p in pins})
        self.say(f"pins: {len(pins)} version(s) re-pinned to stand-in weights in the scratch copy")
        t = time.monotonic()
        self.cdk("bootstrap", f"aws://{self.account}/{env.region}")
        self.say(f"cdk bootstrap aws://{self.account}/{env.region} ({time.monotonic() - t:.0f} s)")
        assembly = self.assembly = Path(tempfile.mkdtemp(prefix="assembly-", dir=self.workdir))
        cdk.synthesize(self.root, assembly, self.env_name)
        artifacts = naming.artifacts_stack(self.env_name)
        t = time.monotonic()
        self.cdk("deploy", "--app", str(assembly), artifacts, "--require-approval", "never")
        self.say(f"cdk deploy {artifacts} ({time.monotonic() - t:.0f} s): key, buckets, Model Registry")
        upload_standins(self.emulator.client("s3"), env.weights_bucket_name, repinned)
        upload_adapters(self.emulator.client("s3"), env.weights_bucket_name, adapters)
        self.say(f"uploaded stand-in weights ({len(adapters)} adapter archive(s)) to s3://{env.weights_bucket_name} "
                 "with SHA-256 checksums")
        seed_images(self.account, pins)
        self.say("ECR: the pinned serving images exist under their digests (stand-in manifests)")
        stacks = [naming.endpoint_stack(self.env_name, k) for k in [*keys, *components]] + \
            [naming.routing_stack(self.env_name, k) for k in keys]  # the application client's routing
        t = time.monotonic()
        self.cdk("deploy", "--app", str(assembly), *stacks, "--exclusively", "--require-approval", "never",
                 "--concurrency", "4")
        self.say(f"cdk deploy {' '.join(stacks)} ({time.monotonic() - t:.0f} s)")
        self.wait_in_service([env.endpoint_name(k) for k in [*keys, *components]])
        self.wait_components_in_service([naming.inference_component(env.endpoint_name(k), c)
                                         for k in components for c in env.component_endpoints[k].components])

    def wait_in_service(self, names: list[str], timeout: float = 120) -> None:
        sagemaker = self.emulator.client("sagemaker")
        deadline = time.monotonic() + timeout
        for name in names:
            while (status := sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"]) != "InService":
                if status == "Failed" or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} is {status}")
                time.sleep(0.2)
        self.say(f"InService: {', '.join(names)}")

    def wait_components_in_service(self, names: list[str], timeout: float = 120) -> None:
        sagemaker = self.emulator.client("sagemaker")
        deadline = time.monotonic() + timeout
        for name in names:
            while (status := sagemaker.describe_inference_component(InferenceComponentName=name)
                   ["InferenceComponentStatus"]) != "InService":
                if status == "Failed" or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} is {status}")
                time.sleep(0.2)
        if names:
            self.say(f"InService: {', '.join(names)}")

    # ----- the stand-in model behind InvokeEndpoint
    def answer(self, endpoint: str, version: str | None, payload: dict) -> dict:
        """Answers the configured smoke_test texts with their expected label (a model that knows
        its test); `self.broken_versions` answer nonsense, like a bad version would."""
        if self.invoke_fault is not None:
            raise self.invoke_fault
        if version in self.broken_versions:
            return {"generated_text": "I'm sorry, I can't help with that."}
        prompt = request_text(payload)  # chat (messages) or generate (inputs) route
        for text, label in self.labels_of.items():
            if text in prompt:
                return {"generated_text": label}
        for text, label in self._smoke_answers().items():
            if text in prompt:
                return {"generated_text": label}
        return {"generated_text": "speak_to_agent"}

    def _smoke_answers(self) -> dict[str, str]:
        # Read once: InvokeEndpoint calls this per request, and the smoke texts never change in a lab.
        if self._answers is None:
            self._answers = self._read_smoke_answers()
        return self._answers

    def _read_smoke_answers(self) -> dict[str, str]:
        from config.project import load_project

        answers = {}
        for env in load_project(self.root, self.env_name).environments.values():
            for endpoint in env.endpoints.values():
                for case in endpoint.smoke_test:
                    answers[case.text] = case.expect or (endpoint.evaluation.labels[0] if endpoint.evaluation else "")
        return answers

    def answer_component(self, endpoint: str, component: str, served: dict, payload: dict) -> dict:
        """A component that knows its smoke test: each configured text gets its expected label;
        `broken_adapters` (and `broken_versions` of the base) answer nonsense."""
        from localaws.lab_components import component_answers

        if (served.get("adapter"), served.get("adapter_version")) in self.broken_adapters or \
                served.get("base_version") in self.broken_versions:
            return {"generated_text": "I'm sorry, I can't help with that."}
        if self._component_answers is None:
            self._component_answers = component_answers(self.root, self.env_name)
        prompt = request_text(payload)
        for text, label in self._component_answers.get(component, {}).items():
            if text in prompt:
                return {"generated_text": label}
        return {"generated_text": "speak_to_agent"}


def _versions(root: Path, model: str) -> list[str]:
    return sorted(p.stem for p in (root / "model_artifacts" / model).glob("*.yaml"))


def standin_pins(root: Path, keys: list[tuple[str, str]]) -> list[tuple[object, dict[str, bytes]]]:
    """Re-pin (model, version)s of the scratch repo to small files; returns the new Pins with their
    files' contents. Versions that pin the same weight files (a container-only upgrade) get the same
    stand-ins, so an adapter trained on one serves on the other as in the repo."""
    from scripts.pinning.manifests import load_pin, write_pin
    from config.manifest_io import seal

    pins = []
    for model, version in keys:
        pin = load_pin(root, model, version)
        files, contents = [], {}
        for f in pin.weights.files:
            content = contents[f.path] = _standin_bytes(model, f.sha256, f.path)
            files.append({"path": f.path, "size": len(content), "sha256": hashlib.sha256(content).hexdigest()})
        data = pin.model_dump(mode="json", exclude_none=True, exclude={"manifest_sha256"})
        data["weights"]["files"] = files
        data["description"] = f"stand-in weights for the emulator (was: {pin.description or ''})"[:300]
        new = seal(data)
        write_pin(root, new)
        pins.append((new, contents))
    return pins


def _standin_bytes(model: str, sha256: str, path: str) -> bytes:
    return f"stand-in {model}/{sha256[:16]}/{path}\n".encode() * 8


def seed_images(account: str, pins: list) -> None:
    """Put each pinned image digest into the emulator's ECR under the AWS registry it names
    (763104351884 for the DLCs), so the digest check of `verify` finds them."""
    import json

    from moto.ecr.models import ecr_backends

    for pin in pins:
        for region, uri in pin.container.images.items():
            registry, rest = uri.split(".dkr.ecr.", 1)
            repository, digest = rest.split("/", 1)[1].split("@", 1)
            backend = ecr_backends[account][region]
            if repository not in backend.repositories:
                backend.create_repository(repository, registry, {}, {}, "IMMUTABLE", [])
            if not any(i.image_digest == digest for i in backend.repositories[repository].images):
                manifest = json.dumps({"schemaVersion": 2, "stand-in": uri,
                                       "mediaType": "application/vnd.docker.distribution.manifest.v2+json"})
                backend.put_image(repository, manifest, f"{pin.container.tag}-{digest[7:19]}", digest=digest)


def upload_standins(s3, bucket: str, pins: list[tuple[object, dict[str, bytes]]]) -> None:
    for pin, contents in pins:
        for f in pin.weights.files:
            s3.put_object(Bucket=bucket, Key=pin.weights.prefix + f.path, IfNoneMatch="*", Body=contents[f.path],
                          ChecksumAlgorithm="SHA256")
