"""End to end in a real headless Chromium: `interp app` on the fixture runs, every page rendered, no exception box.

Screenshots land in test-artifacts/explorer/ (repo root, git-ignored). Uses the system Chromium
(/usr/bin/chromium, Debian's package; CI installs it) through the `playwright` package; never
downloads a browser.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "explorer"
PLOT = '[data-testid="stPlotlyChart"] .js-plotly-plot'
TABLE = '[data-testid="stDataFrame"]'
# (URL path, title, elements that must be there once the page has rendered: selector -> at least how many)
PAGES = [  # a fresh server's first visit is a deep link: it must still get main.py's navigation
    ("divergence", "Layer divergence", {PLOT: 2, TABLE: 1}),
    ("", "Runs", {TABLE: 2}),
    ("features", "Features", {PLOT: 3, TABLE: 1, ".ctx": 1}),
    ("playground", "Steering playground", {"textarea": 1, '[data-testid="stSlider"]': 5}),
    ("tradeoff", "Control trade-off", {PLOT: 1, TABLE: 1}),
    ("controller", "What the controller does", {'[data-testid="stRadio"]': 1}),
    ("preference", "Preference generalisation", {PLOT: 1, TABLE: 2}),
    ("reward_probe", "Reward probe", {PLOT: 1, TABLE: 2}),
]
ORDER = ["", "divergence", "features", "playground", "tradeoff", "controller", "preference", "reward_probe"]  # main.py's PAGES
TIMEOUT_MS = 180_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(explorer_runs, tmp_path_factory):
    """`interp app` (the command app_cmd builds) serving the fixture runs on a free loopback port."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package to run the browser test")
    pytest.importorskip("playwright.sync_api", reason="the playwright package drives the browser")
    from app.cli.app_cmd import command

    port = _free_port()
    cmd, env = command(str(explorer_runs), port)
    env = {**env, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    log = tmp_path_factory.mktemp("app") / "streamlit.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read().strip() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"streamlit did not start (exit {proc.poll()}):\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def browser(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def _settle(page) -> None:
    """Wait until the script run is over: no skeleton placeholders, no 'running' status widget."""
    page.wait_for_function(
        """() => document.querySelectorAll('[data-testid="stSkeleton"]').length === 0
             && !document.querySelector('[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]')""",
        timeout=TIMEOUT_MS)
    page.wait_for_timeout(1000)  # plotly draws after the element appears


def _expect(page, selector: str, n: int) -> None:
    page.wait_for_function("([s, n]) => document.querySelectorAll(s).length >= n", arg=[selector, n], timeout=TIMEOUT_MS)


@pytest.mark.parametrize("path,title,needs", PAGES, ids=[p[0] or "runs" for p in PAGES])
def test_page_renders_in_chromium(browser, app_url, path, title, needs):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1500, "height": 2000})
    try:
        page.goto(f"{app_url}/{path}", timeout=TIMEOUT_MS)
        page.locator("h1", has_text=title).first.wait_for(timeout=TIMEOUT_MS)
        for selector, n in needs.items():
            _expect(page, selector, n)
        if path == "playground":  # the one live page: generate with the fixture's value models
            page.get_by_role("button", name="Generate").click()
            _expect(page, '[data-testid="stMetric"]', 3)
        _settle(page)
        page.screenshot(path=str(ARTIFACTS / f"{path or 'runs'}.png"), full_page=True)
        nav = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
        assert [t.split("\n")[-1].strip() for t in nav] == [t for _, t, _ in sorted(PAGES, key=lambda p: ORDER.index(p[0]))]
        exceptions = page.locator('[data-testid="stException"]')
        assert exceptions.count() == 0, exceptions.first.inner_text()
        if "js-plotly-plot" in " ".join(needs):
            assert page.locator(".js-plotly-plot .main-svg").count() >= 1  # plotly actually drew
    finally:
        page.close()
