"""Streamlit glue shared by the pages: picking a run, and messages instead of tracebacks."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator, Sequence

import streamlit as st

from app.explorer.rundata import MissingArtifact


def no_run(what: str, root: Path, command: str) -> None:
    """The page's run does not exist: say which command makes one, and stop the page."""
    st.info(f"No {what} run yet in {root}: run `{command}`.")
    st.stop()


def pick(label: str, options: Sequence[str], key: str, index: int = 0) -> str:
    """A selectbox that also works with one option (shown, so the user sees what is displayed)."""
    return st.selectbox(label, list(options), index=min(index, max(len(options) - 1, 0)), key=key)


def show_missing(e: MissingArtifact) -> None:
    """The file, what is wrong with it, and the command that makes it (a trailing '(note)' kept outside the code)."""
    cmd, sep, note = e.command.partition(" (")
    st.warning(f"`{e.path}` {e.why}. Make it with: `{cmd}`" + (f" ({note}" if sep else ""))


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
