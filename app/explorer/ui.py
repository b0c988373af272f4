"""Streamlit glue shared by the pages: picking a run, messages instead of tracebacks, and run-file text
shown as text.

Every string read from a run file (or a run's name) that reaches an element rendering Markdown
(st.markdown, caption, info, warning, success, error, subheader, metric help, radio options) goes
through `md` (literal text) or `code` (an inline code span): a run file written by someone else, or
an LLM's feature label, cannot add links, images or formatting to a page.
"""
from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Iterator, Sequence

import streamlit as st

from app.explorer.rundata import MissingArtifact


# what Markdown (CommonMark + GitHub's extensions, as Streamlit renders it) could make live or format: links and
# images ([ ]), HTML and <autolinks> (< >), emphasis, code, tables, strikethrough, math ($), e-mail autolinks (@)
_MARKDOWN = re.compile(r"([\\`*_\[\]<>#|~$@])")
_AUTOLINK = re.compile(r"(:)(?=//)|(?<=www)(\.)", re.IGNORECASE)  # bare http://... and www. links
_LIST = re.compile(r"^(\s*)([-+>]|\d+[.)])")  # a line that would open a list or a quote


def md(text: object) -> str:
    """`text` as literal text inside Markdown: the characters Markdown (or Streamlit's :color[] and $math$) could
    read are backslash-escaped, so no link, image, autolink, HTML or formatting survives; one line. Ordinary
    punctuation (-, ., :, parentheses) stays as typed."""
    text = _MARKDOWN.sub(r"\\\1", " ".join(str(text).split()))
    text = _AUTOLINK.sub(lambda m: "\\" + m.group(0), text)
    return _LIST.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def code(text: object) -> str:
    """`text` as an inline code span (literal by definition), fenced by more backticks than it holds."""
    text = " ".join(str(text).split())
    fence = "`" * (max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}" if text.startswith("`") or text.endswith("`") else f"{fence}{text}{fence}"


def no_run(what: str, root: Path, command: str) -> None:
    """The page's run does not exist: say which command makes one, and stop the page."""
    st.info(f"No {what} run yet in {md(root)}: run {code(command)}.")
    st.stop()


def pick(label: str, options: Sequence[str], key: str, index: int = 0) -> str:
    """A selectbox that also works with one option (shown, so the user sees what is displayed)."""
    return st.selectbox(label, list(options), index=min(index, max(len(options) - 1, 0)), key=key)


def show_missing(e: MissingArtifact) -> None:
    """The file, what is wrong with it, and the command that makes it (a trailing '(note)' kept outside the code)."""
    cmd, sep, note = e.command.partition(" (")
    st.warning(f"{code(e.path)} {md(e.why)}. Make it with: {code(cmd)}" + (f" ({md(note)}" if sep else ""))


@contextlib.contextmanager
def artifact_section(stop: bool = False) -> Iterator[None]:
    """Run a block that reads artifacts; a missing or half-written file becomes a message.

    With `stop=True` the rest of the page is skipped (the block's data is needed below).
    """
    try:
        yield
    except MissingArtifact as e:
        show_missing(e)
        if stop:
            st.stop()
