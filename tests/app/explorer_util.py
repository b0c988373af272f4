"""Helpers for the explorer's AppTest tests: open a page, read back its plotly figures, copy a run to break it."""
from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parents[2] / "app" / "explorer" / "views"


def open_page(name: str, timeout: float = 180) -> AppTest:
    """Run app/explorer/views/<name>.py once (INTERP_RUNS must be set by the test)."""
    return AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=timeout).run()


def figures(at: AppTest) -> list[dict]:
    """The plotly figures on the page, as their JSON specs."""
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def values(trace: dict, key: str) -> np.ndarray:
    """A trace's data array (plotly 6 writes numeric arrays as base64 'bdata')."""
    v = trace[key]
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        return a.reshape(v["shape"]) if "shape" in v and isinstance(v["shape"], list) else a
    return np.asarray(v)


def copy_run(src_root: Path, run: str, dst_root: Path) -> Path:
    """A private copy of one run (tests that break files must not touch the shared fixture)."""
    dst = dst_root / run
    shutil.copytree(src_root / run, dst, ignore=shutil.ignore_patterns("trl"))
    return dst


def messages(at: AppTest) -> list[str]:
    return [w.value for w in at.warning] + [i.value for i in at.info] + [e.value for e in at.error]


def open_with_half_written(src_root: Path, run: str, rel: str, keep: int, page: str, dst_root: Path, monkeypatch) -> AppTest:
    """Open `page` over a private copy of `run` whose file `rel` is cut to its first `keep` characters."""
    path = copy_run(src_root, run, dst_root) / rel
    path.write_text(path.read_text()[:keep])
    monkeypatch.setenv("INTERP_RUNS", str(dst_root))
    return open_page(page)
