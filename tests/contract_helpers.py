"""Recorded real-shape bodies (tests/contracts/*.json, each naming its source) and a loopback
server that replays them, so the real clients (botocore, openai) parse them end to end."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from localaws.loopback import LoopbackServer

CONTRACTS = Path(__file__).resolve().parent / "contracts"


def contract(name: str) -> dict:
    data = json.loads((CONTRACTS / f"{name}.json").read_text(encoding="utf-8"))
    assert data.get("source"), f"{name}.json names no source"
    return data


def shape(value):
    """Keys and value kinds, recursively (lists by their first element): what a reader relies on."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    return "number" if isinstance(value, (int, float)) else type(value).__name__


@dataclass
class Replay(LoopbackServer):
    """Answers each POST with the next (status, headers, body) of `responses` (the last one repeats)."""

    thread_name = "replay"
    responses: list[tuple[int, dict, object]] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        raw = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        self.requests.append(json.loads(raw or b"{}"))
        status, headers, body = self.responses[min(len(self.requests), len(self.responses)) - 1]
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(data)
