"""The investigation driven by the official `openai` client against a loopback
OpenAI-compatible server started by the test (no network, no key)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

import oddsight
from test_investigate import write_case

openai = pytest.importorskip("openai")


class ChatCompletions(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ChatCompletions.received.append({"path": self.path, "body": body})
        answer = {"root_cause": {"service": "db", "metric": "latency"}, "confidence": "80%",
                  "hypotheses": [{"service": "db", "statement": "the v42 deploy slowed queries", "evidence": ["E1"]}]}
        reply = {
            "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "```json\n" + json.dumps(answer) + "\n```"}}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server():
    httpd = HTTPServer(("127.0.0.1", 0), ChatCompletions)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    ChatCompletions.received = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_openai_client_as_the_model(server: str, tmp_path: Path) -> None:
    client = openai.OpenAI(base_url=server, api_key="test-key", max_retries=0)

    def llm(request: dict) -> dict:
        messages = [{"role": "system", "content": request["system"]}]
        messages += [{"role": m["role"], "content": m["content"]} for m in request["messages"]]
        r = client.chat.completions.create(model=request["model"], messages=messages, max_tokens=request["max_tokens"])
        return {
            "text": r.choices[0].message.content,
            "stop_reason": "end_turn",
            "usage": {"input_tokens": r.usage.prompt_tokens, "output_tokens": r.usage.completion_tokens},
            "model": r.model,
        }

    report = oddsight.investigate(write_case(tmp_path), llm=llm, model="gpt-test")
    assert ChatCompletions.received and ChatCompletions.received[0]["path"] == "/v1/chat/completions"
    sent = ChatCompletions.received[0]["body"]
    assert sent["model"] == "gpt-test" and sent["messages"][0]["role"] == "system"
    assert report["model"]["used"] is True and report["model"]["calls"] >= 1
    assert report["model"]["usage"]["input_tokens"] >= 120
    assert report["root_cause"]["service"] == "db"
