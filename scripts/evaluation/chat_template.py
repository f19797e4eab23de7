"""The pinned weights' own chat template, for containers asked on the generate route.

Where it comes from: the pin lists every file of the snapshot with its SHA-256, and Llama 3.2
snapshots carry their template in `tokenizer_config.json` (`chat_template`, a string or a list of
named templates of which `default` is used, as transformers does). That file is read from the
environment's weights bucket under the pin's prefix (what the container loads) or from a local
copy (`--chat-template`, e.g. the snapshot directory pin-weights hashed), and refused unless its
SHA-256 is the pinned one: the template is pinned with the weights, never fetched from a hub.
Absent (no tokenizer_config.json in the pin, or none with a chat_template), the generate route
cannot build the prompt production would see, so `evaluate` stops with a fix instead of guessing.

Rendering follows transformers' `apply_chat_template` (`utils/chat_template_utils.py`): a jinja2
ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks, `raise_exception`,
`strftime_now` (Llama 3.2's system block prints today's date with it), a `tojson` that does not
escape HTML, `add_generation_prompt=True`, and the special tokens as variables. The leading BOS
token the template writes is removed: the container's tokenizer adds it when it encodes `inputs`,
as vLLM's and TGI's chat routes add it once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from config.pin import Pin
from scripts.lib.aws import error_code
from scripts.lib.errors import Exit, UserError

TEMPLATE_FILE = "tokenizer_config.json"


@dataclass(frozen=True)
class ChatTemplate:
    source: str
    sha256: str  # of the file it came from (the pinned checksum)
    origin: str  # where it was read, for the report
    bos_token: str | None = None
    eos_token: str | None = None

    def render(self, chat: list[dict]) -> str:
        tokens = {"bos_token": self.bos_token or "", "eos_token": self.eos_token or ""}
        text = _compiled(self.source).render(messages=chat, tools=None, documents=None, add_generation_prompt=True,
                                             **tokens)
        if self.bos_token and text.startswith(self.bos_token):
            text = text[len(self.bos_token):]
        return text


@lru_cache(maxsize=8)
def _compiled(source: str):
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                                extensions=["jinja2.ext.loopcontrols"])
    environment.filters["tojson"] = tojson
    environment.globals["raise_exception"] = raise_exception
    environment.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return environment.from_string(source)


def _token(value) -> str | None:
    if isinstance(value, dict):  # AddedToken as saved by transformers: {"content": ..., ...}
        value = value.get("content")
    return value if isinstance(value, str) else None


def parse(data: bytes, sha256: str, origin: str, shown: str) -> ChatTemplate:
    try:
        config = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError(f"{shown}: is not JSON; fix: give the snapshot's {TEMPLATE_FILE}") from None
    template = config.get("chat_template") if isinstance(config, dict) else None
    if isinstance(template, list):  # named templates: [{"name": "default", "template": ...}, ...]
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default")
    if not isinstance(template, str) or not template.strip():
        raise UserError(f"{shown}: chat_template: missing; fix: the container would have no template either: "
                        "pin an Instruct snapshot whose tokenizer_config.json has one")
    try:
        _compiled(template)
    except Exception as exc:  # noqa: BLE001 - jinja2's TemplateSyntaxError and friends
        raise UserError(f"{shown}: chat_template: does not compile ({exc}); fix: pin a snapshot with a valid "
                        "template") from None
    return ChatTemplate(template, sha256, origin, _token(config.get("bos_token")), _token(config.get("eos_token")))


def pinned_template_file(pin: Pin, pin_shown: str):
    file = next((f for f in pin.weights.files if f.path == TEMPLATE_FILE), None)
    if file is None:
        raise UserError(f"{pin_shown}: weights.files: no {TEMPLATE_FILE}, so the chat template the container "
                        f"uses is not pinned and the generate route cannot render the prompt; fix: pin the whole "
                        f"snapshot (python -m scripts pin-weights pins every file)")
    return file


def load_template(pin: Pin, pin_shown: str, *, local: Path | None = None, s3=None,
                  bucket: str | None = None) -> ChatTemplate:
    """The pinned template from a local copy or the weights bucket, checked against the pin."""
    file = pinned_template_file(pin, pin_shown)
    if local is not None:
        try:
            data, origin, shown = local.read_bytes(), str(local), "--chat-template"
        except OSError as exc:
            raise UserError(f"--chat-template: cannot read {local} ({exc.strerror}); fix: give the snapshot's "
                            f"{TEMPLATE_FILE}") from None
    else:
        key = f"{pin.weights.prefix}{TEMPLATE_FILE}"
        origin = shown = f"s3://{bucket}/{key}"
        data = _s3_bytes(s3, bucket, key, shown)
    digest = hashlib.sha256(data).hexdigest()
    if digest != file.sha256:
        raise UserError(f"{shown}: sha256 {digest[:16]}… is not the pinned {file.sha256[:16]}… of {TEMPLATE_FILE} "
                        f"({pin_shown}); fix: use the file of the pinned snapshot")
    return parse(data, digest, origin, shown)


def _s3_bytes(s3, bucket: str | None, key: str, shown: str) -> bytes:
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:  # noqa: BLE001 - reported as one line with a fix
        code = error_code(exc) or type(exc).__name__
        raise UserError(f"{shown}: cannot read it ({code}); fix: upload the pinned weights (the artifacts stack), "
                        "or give a local copy with --chat-template", Exit.AWS_ERROR) from None


def serving_for(env, pin: Pin, local: Path | None, out):
    """How evaluate and loadtest ask this pin's container: its chat route, or the generate route
    with the pinned template (from `local`, else the environment's weights bucket)."""
    from scripts.evaluation.answers import Route, ServingFormat
    from scripts.lib.aws import client

    serving = ServingFormat.of(pin)
    shown = f"model_artifacts/{pin.model}/{pin.version}.yaml"
    if serving.route is Route.CHAT:
        if local is not None:
            out.event("warning", f"--chat-template: not used: {pin.container.framework.value} "
                      f"{pin.container.framework_version} has a chat route and applies the template of the weights "
                      "it loaded")
        return serving
    if local is None:
        template = load_template(pin, shown, s3=client("s3", env.region), bucket=env.weights_bucket_name)
    else:
        template = load_template(pin, shown, local=local)
    out.event("chat-template", f"generate route: prompts rendered with the pinned chat template of "
              f"{template.origin} (sha256 {template.sha256[:12]}…)", origin=template.origin, sha256=template.sha256)
    return ServingFormat.of(pin, template)
