"""The README's GPU table is what `benchmarks.gpu_table` makes of the committed result files."""
import re
from pathlib import Path

from benchmarks.gpu_table import markdown, rows

ROOT = Path(__file__).resolve().parents[2]


def test_readme_gpu_tables_match_their_files():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"<!-- gpu-table:(\S+) -->\n(.*?)\n<!-- /gpu-table -->", readme, re.S)
    assert blocks, "README has no marked GPU table"
    for run, table in blocks:
        folder = ROOT / "benchmarks" / "results" / run
        assert folder.is_dir(), f"README cites {folder}, which is not committed"
        assert table.strip() == markdown(rows(folder)).strip(), f"README table for {run} differs from its files"
