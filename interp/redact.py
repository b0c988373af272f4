"""Keep credentials out of run directories and logs.

A credential is the value of an environment variable whose name says so (HF_TOKEN, OPENAI_API_KEY,
INTERP_JUDGE_API_KEY, AWS_SECRET_ACCESS_KEY, ...). `redact(text)` replaces every such value found in
`text` with "***"; `RedactingFilter` does the same to log records; `interp.runs` runs every
config and metrics dict through it before writing.
"""
from __future__ import annotations

import logging
import os
import re
from typing import Any, Mapping

SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)
NOT_SECRET = {"TOKENIZERS_PARALLELISM"}
MIN_LENGTH = 6  # shorter values ("1", "false") would redact ordinary text
MASK = "***"


def secret_values(env: Mapping[str, str] | None = None) -> list[str]:
    """Values of the credential-named environment variables, longest first."""
    env = os.environ if env is None else env
    vals = {v.strip() for k, v in env.items() if SECRET_NAME.search(k) and k not in NOT_SECRET and len(v.strip()) >= MIN_LENGTH}
    return sorted(vals, key=len, reverse=True)


def redact(text: str, secrets: list[str] | None = None) -> str:
    """`text` with every credential value replaced by ***."""
    for s in secret_values() if secrets is None else secrets:
        if s in text:
            text = text.replace(s, MASK)
    return text


def redact_obj(obj: Any, secrets: list[str] | None = None) -> Any:
    """Every string inside dicts, lists and tuples redacted (keys too)."""
    secrets = secret_values() if secrets is None else secrets
    if not secrets:
        return obj
    if isinstance(obj, str):
        return redact(obj, secrets)
    if isinstance(obj, dict):
        return {(redact(k, secrets) if isinstance(k, str) else k): redact_obj(v, secrets) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(redact_obj(v, secrets) for v in obj)
    return obj


class RedactingFilter(logging.Filter):
    """A logging filter that redacts credential values from each record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = secret_values()
        if secrets:
            msg = record.getMessage()
            clean = redact(msg, secrets)
            if clean != msg:
                record.msg, record.args = clean, None
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Add a RedactingFilter to every handler of `logger` (default: the root logger), once."""
    logger = logger or logging.getLogger()
    for h in logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in h.filters):
            h.addFilter(RedactingFilter())
