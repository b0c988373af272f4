"""One request to an OpenAI-compatible chat endpoint, shared by the judge and the feature labeller.

Plain urllib (no client library). The bearer key is kept out of repr, error messages and logs:
it is replaced by *** wherever the endpoint or the network echo it back.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field

ENV_URL, ENV_MODEL, ENV_KEY = "INTERP_JUDGE_URL", "INTERP_JUDGE_MODEL", "INTERP_JUDGE_API_KEY"


@dataclass
class ChatEndpoint:
    """`complete(system, user)` -> the reply's text, from `url` (".../v1" or ".../chat/completions")."""

    url: str
    model: str
    api_key: str = field(default="", repr=False)
    timeout: float = 60.0
    purpose: str = "chat"  # names the endpoint in errors: "judge endpoint ...", "label endpoint ..."

    @property
    def endpoint(self) -> str:
        url = self.url.rstrip("/")
        return url if url.endswith("/chat/completions") else url + "/chat/completions"

    def complete(self, system: str, user: str, max_tokens: int) -> str:
        body = {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "temperature": 0,
            "max_tokens": max_tokens,
        }
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.endpoint, data=json.dumps(body).encode(), headers=headers, method="POST")
        where = f"{self.purpose} endpoint {self.endpoint}"
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                reply = json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            detail = self.scrub(e.read().decode("utf-8", "replace")[:300])
            raise RuntimeError(f"{where} answered HTTP {e.code}: {detail}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            raise RuntimeError(f"{where} unreachable ({self.scrub(str(e))}); check {ENV_URL}") from None
        except json.JSONDecodeError:
            raise RuntimeError(f"{where} answered something that is not JSON") from None
        try:
            return reply["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise RuntimeError(f"{where} sent no choices[0].message.content") from None

    def scrub(self, text: str) -> str:
        from interp.redact import redact

        return redact(text, [self.api_key] if self.api_key else [])
