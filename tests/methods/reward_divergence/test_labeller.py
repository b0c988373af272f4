"""The optional LLM labeller against a local OpenAI-compatible endpoint (a real HTTP server on localhost)."""
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from methods.reward_divergence.labeller import FeatureLabeller, render_contexts

TOP = [{"tokens": ["I", " love", " it"], "acts": [0.0, 2.5, 0.1], "focus": 1},
       {"tokens": [" so", " great"], "acts": [0.2, 1.5], "focus": 1}]


@pytest.fixture
def endpoint():
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
            reply = {"choices": [{"message": {"content": "Praise for a film | POSITIVE"}}]}
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1", seen
    server.shutdown()


def test_label_from_endpoint(endpoint, monkeypatch):
    url, seen = endpoint
    monkeypatch.setenv("INTERP_JUDGE_URL", url)
    monkeypatch.setenv("INTERP_JUDGE_MODEL", "local-model")
    monkeypatch.setenv("INTERP_JUDGE_API_KEY", "sk-test")
    labeller = FeatureLabeller.from_env()
    assert "sk-test" not in repr(labeller)
    assert labeller.label(TOP) == {"description": "Praise for a film", "verdict": "POSITIVE"}
    req = seen[0]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sk-test"
    assert req["body"]["model"] == "local-model"
    assert "[[ love]]" in req["body"]["messages"][1]["content"]


def test_off_without_environment(monkeypatch):
    monkeypatch.delenv("INTERP_JUDGE_URL", raising=False)
    monkeypatch.delenv("INTERP_JUDGE_MODEL", raising=False)
    with pytest.raises(ValueError, match="INTERP_JUDGE_URL"):
        FeatureLabeller.from_env()


def test_unreachable_endpoint_is_a_clear_error():
    labeller = FeatureLabeller(url="http://127.0.0.1:9/v1", model="m", timeout=2)
    with pytest.raises(RuntimeError, match="unreachable"):
        labeller.label(TOP)


def test_render_marks_the_focus_token():
    text = render_contexts(TOP)
    assert "[[ love]]" in text and "[[ great]]" in text and "2.50" in text
