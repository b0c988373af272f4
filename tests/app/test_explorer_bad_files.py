"""No run file can take the explorer down, and no run file can put a link on a page (issue 20, items 2 and 3).

Item 2: every page calls `discover()`, which read each step's config.json and metrics.json trusting
them: one file nested 200,000 levels deep, a FIFO, a directory, a symlink to /dev/zero or a
metrics.json holding a JSON string took down every page. Now each such file costs its run one row
("broken", with a message saying what is wrong and what to do), and the other runs show as before.

Item 3: strings read from run files (`rank_by`, an SAE's `architecture`, a feature's `llm_label`
written by an external LLM, the trade-off's `reason`) reached Markdown unescaped, so a run file
could make the browser fetch images and show links. Now they are literal text.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from tests.app.explorer_util import copy_run, open_page

BAD_FILES = {
    "config.json nested 200,000 levels deep": ("config.json", lambda p: p.write_text("[" * 200_000 + "]" * 200_000),
                                               "nests JSON values"),
    "config.json that is a FIFO": ("config.json", lambda p: os.mkfifo(p), "FIFO"),
    "config.json that is a directory": ("config.json", lambda p: p.mkdir(), "directory"),
    "config.json that links to /dev/zero": ("config.json", lambda p: p.symlink_to("/dev/zero"), "device"),
    "metrics.json holding a JSON string": ("metrics.json", lambda p: p.write_text('"finished"'), "holds a string"),
}


def _runs_with_one_bad_file(root: Path, name: str, make) -> None:
    """Two good runs and one whose step holds the bad file."""
    for run in ("good-a", "bad", "good-b"):
        step = root / run / "train"
        step.mkdir(parents=True)
        (step / "config.json").write_text(json.dumps({"pipeline": "toy", "lr": 0.1}))
        (step / "metrics.json").write_text(json.dumps({"loss": 0.5}))
    target = root / "bad" / "train" / name
    target.unlink()
    make(target)


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_one_bad_file_costs_one_row(case, tmp_path, monkeypatch):
    name, make, says = BAD_FILES[case]
    _runs_with_one_bad_file(tmp_path, name, make)
    monkeypatch.setenv("INTERP_RUNS", str(tmp_path))
    at = open_page("runs", timeout=60)  # a FIFO used to hang the page for ever
    assert not at.exception, at.exception
    runs = at.dataframe[0].value.set_index("run")
    assert runs.loc["bad", "status"] == "broken"
    assert (runs.loc[["good-a", "good-b"], "status"] == "finished").all() and runs.loc["good-a", "pipeline"] == "toy"
    (warning,) = at.warning
    plain = warning.value.replace("\\", "")
    assert f"bad/train/{name}" in plain and says in plain and "--force" in plain, plain
    at.selectbox(key="inspect").select("good-b / train").run()  # the rest of the page works
    assert not at.exception and at.dataframe[2] is not None
    for page in ("divergence",):  # every page walks the runs directory
        assert not open_page(page, timeout=60).exception


# ---- item 3: run-file strings are text, never Markdown ---------------------------------------------------
EVIL = ("[click](http://evil.example/a) ![img](http://evil.example/b.png) <img src=http://evil.example/c.png> "
        "http://evil.example/d www.evil.example *bold* :red[red]")


def live_content(text: str) -> list[str]:
    """What Markdown would make live in `text`: links, images and raw HTML (CommonMark, as Streamlit's renderer
    reads it), and bare URLs that GitHub-flavoured Markdown autolinks (outside code spans)."""
    html = MarkdownIt("commonmark").render(text)
    found = re.findall(r"<(?:a|img)\b[^>]*>", html) + re.findall(r"<img src=http", html)
    source = re.sub(r"(`+)(.+?)\1", "", text)  # code spans are literal
    found += re.findall(r"(?<!\\)://\S*|www\.\S+", source)
    return found


def shown_markdown(at) -> list[str]:
    """Every string the page hands to an element that renders Markdown."""
    out = []
    for kind in ("markdown", "caption", "success", "info", "warning", "error", "subheader", "title", "header"):
        out += [e.value for e in getattr(at, kind)]
    out += [m.proto.help for m in at.metric]
    return [t for t in out if 'class="ctx"' not in t]  # the token contexts are HTML built with html.escape


def test_escaping_helpers():
    from app.explorer.ui import code, md

    assert live_content(EVIL), "the checker sees the links in the raw string"
    assert live_content(md(EVIL)) == [] and live_content(code(EVIL)) == []
    assert MarkdownIt("commonmark").render(md("a_b *c* 1.5")).strip() == "<p>a_b *c* 1.5</p>"  # read as typed
    assert live_content(code("x` [a](http://e.example) `y")) == []


@pytest.mark.slow
def test_run_file_strings_are_shown_as_text(explorer_runs, tmp_path, monkeypatch):
    from tests.app.fixture_runs import DIVERGENCE, RE_CONTROL

    rd = copy_run(explorer_runs, DIVERGENCE, tmp_path)
    div = json.loads((rd / "divergence" / "divergence.json").read_text())
    div["rank_by"], div["n_tokens"] = EVIL, EVIL
    (rd / "divergence" / "divergence.json").write_text(json.dumps(div))
    for f in (rd / "saes").rglob("x*.metrics.json"):
        (f.write_text(json.dumps({**json.loads(f.read_text()), "architecture": EVIL})))
    for f in (rd / "features").rglob("x*.jsonl"):
        rows = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
        f.write_text("".join(json.dumps({**r, "llm_label": EVIL}) + "\n" for r in rows))
    rc = copy_run(explorer_runs, RE_CONTROL, tmp_path)
    curve = json.loads((rc / "evaluate" / "tradeoff.json").read_text())
    curve["selection"] = {**(curve.get("selection") or {"step_size": 0.5, "n_steps": 5}), "reason": EVIL}
    (rc / "evaluate" / "tradeoff.json").write_text(json.dumps(curve))
    monkeypatch.setenv("INTERP_RUNS", str(tmp_path))

    for page, field in (("divergence", "rank_by"), ("features", "llm_label"), ("tradeoff", "reason")):
        at = open_page(page)
        assert not at.exception, at.exception
        texts = shown_markdown(at)
        assert any("evil" in t for t in texts), f"{page}: the {field} is not shown at all"
        live = [x for t in texts for x in live_content(t)]
        assert not live, f"{page}: run-file text became live Markdown: {live}"
        if page == "features":
            assert any("architecture" not in t and "SAE (" in t and "evil" in t for t in texts), "architecture shown"
