"""Entry point of the explorer (`interp app`): one navigation over the pages in views/.

The page files live in views/, not pages/: Streamlit treats a `pages/` folder beside the entry
script as an old-style (v1) multipage app for the first run after the server starts, which would
run a page directly, without this navigation and page config.
"""
from pathlib import Path

import streamlit as st

HERE = Path(__file__).parent / "views"
PAGES = [
    ("runs.py", "Runs", ":material/folder_open:"),
    ("divergence.py", "Layer divergence", ":material/stacked_line_chart:"),
    ("features.py", "Features", ":material/scatter_plot:"),
    ("playground.py", "Steering playground", ":material/tune:"),
    ("tradeoff.py", "Control trade-off", ":material/show_chart:"),
    ("controller.py", "What the controller does", ":material/psychology:"),
    ("preference.py", "Preference generalisation", ":material/bar_chart:"),
    ("reward_probe.py", "Reward probe", ":material/query_stats:"),
]

st.set_page_config(page_title="interp explorer", layout="wide")
# URL of each page: /<file stem> (the first page is also the root URL)
pages = [st.Page(str(HERE / f), title=t, icon=i, url_path=Path(f).stem, default=(n == 0))
         for n, (f, t, i) in enumerate(PAGES) if (HERE / f).exists()]
st.navigation(pages).run()
