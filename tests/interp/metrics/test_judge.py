"""The OpenAI-compatible judge against a local fake endpoint: off by default, order-debiased, key never leaked."""
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from interp.metrics import ApiJudge, judge_from_env, parse_verdict, win_rate

KEY = "sk-test-secret-123"


class FakeJudge(BaseHTTPRequestHandler):
    """Prefers the response that contains 'GOOD'; records what it received."""

    seen: list = []
    status = 200

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeJudge.seen.append((self.path, self.headers.get("Authorization"), body))
        if FakeJudge.status != 200:
            self.send_response(FakeJudge.status)
            self.end_headers()
            self.wfile.write(b'{"error": "bad key"}')
            return
        text = body["messages"][1]["content"]
        a = text.split("[Response A]\n")[1].split("\n\n[Response B]")[0]
        b = text.split("[Response B]\n")[1].split("\n\nWhich")[0]
        verdict = "A" if "GOOD" in a and "GOOD" not in b else "B" if "GOOD" in b and "GOOD" not in a else "TIE"
        out = json.dumps({"choices": [{"message": {"role": "assistant", "content": f"{verdict}."}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    FakeJudge.seen, FakeJudge.status = [], 200
    srv = HTTPServer(("127.0.0.1", 0), FakeJudge)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


def test_off_by_default(monkeypatch):
    monkeypatch.delenv("INTERP_JUDGE_URL", raising=False)
    assert judge_from_env() is None
    monkeypatch.setenv("INTERP_JUDGE_URL", "http://127.0.0.1:1/v1")
    monkeypatch.delenv("INTERP_JUDGE_MODEL", raising=False)
    with pytest.raises(ValueError, match="INTERP_JUDGE_MODEL"):
        judge_from_env()


def test_judge_outcomes_through_win_rate(server, monkeypatch, caplog):
    monkeypatch.setenv("INTERP_JUDGE_URL", server)
    monkeypatch.setenv("INTERP_JUDGE_MODEL", "judge-1")
    monkeypatch.setenv("INTERP_JUDGE_API_KEY", KEY)
    judge = judge_from_env()
    assert KEY not in repr(judge)
    a = ["GOOD one", "meh", "GOOD", "x", "GOOD again", "plain"]
    b = ["meh", "GOOD", "GOOD", "y", "bad", "GOOD two"]
    with caplog.at_level(logging.DEBUG):
        w = win_rate(["p"] * 6, a, b, judge=judge)
    # A has GOOD alone in items 0 and 4 -> wins; B alone in 1 and 5 -> losses; 2 and 3 -> ties
    assert (w.wins, w.losses, w.ties) == (2, 2, 2) and w.rate == pytest.approx(0.5)
    paths = {s[0] for s in FakeJudge.seen}
    assert paths == {"/v1/chat/completions"}
    assert all(s[1] == f"Bearer {KEY}" and s[2]["model"] == "judge-1" for s in FakeJudge.seen)
    # seeded order randomisation: both presentation orders were used
    firsts = [s[2]["messages"][1]["content"].split("[Response A]\n")[1].split("\n")[0] for s in FakeJudge.seen]
    assert any(f in b for f in firsts) and any(f in a for f in firsts)
    assert KEY not in caplog.text


def test_http_error_is_clear_and_scrubbed(server):
    FakeJudge.status = 401
    judge = ApiJudge(url=server + "/chat/completions", model="m", api_key=KEY)
    with pytest.raises(RuntimeError, match="HTTP 401") as e:
        judge(["p"], ["a"], ["b"])
    assert KEY not in str(e.value)


def test_unreachable_endpoint():
    judge = ApiJudge(url="http://127.0.0.1:1/v1", model="m", api_key=KEY, timeout=2)
    with pytest.raises(RuntimeError, match="unreachable") as e:
        judge(["p"], ["a"], ["b"])
    assert KEY not in str(e.value)


def test_parse_verdict():
    assert parse_verdict("A") == "A" and parse_verdict(" b.") == "B" and parse_verdict("Tie") == "TIE"
    assert parse_verdict("Response A is better") == "A"
    assert parse_verdict("neither") is None
