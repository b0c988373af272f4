"""The README's CPU benchmark table says what the committed result file holds: each cell is the run's
median ratio [quartiles] at two decimals, and an empty cell is a ratio that run did not time."""
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TABLE = re.compile(r"<!-- cpu-table:(?P<file>[^ ]+) -->\n(?P<body>.*?)<!-- /cpu-table -->", re.S)


def cell(run: dict, key: str) -> str:
    if key not in run:
        return ""
    s = run["spread"][key]
    return f"{run[key]:.2f} [{s['q1']:.2f}, {s['q3']:.2f}]"


def tables() -> list[tuple[Path, list[list[str]]]]:
    out = []
    for m in TABLE.finditer((ROOT / "README.md").read_text()):
        rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in m["body"].strip().splitlines()[2:]]
        out.append((ROOT / "benchmarks" / "results" / m["file"], rows))
    return out


def test_readme_cpu_table_matches_its_result_file():
    found = tables()
    assert found, "README.md has no cpu-table block"
    for path, rows in found:
        runs = json.loads(path.read_text())
        assert rows
        for key, _target, *cells in rows:
            assert len(cells) == len(runs), key
            for run, got in zip(runs, cells):
                assert got == cell(run, key), (path.name, key, run["run"], got, cell(run, key))


def test_a_changed_number_is_caught(tmp_path):
    path, rows = tables()[0]
    runs = json.loads(path.read_text())
    runs[0]["c_generate_noop_intervention_over_hf_generate"] += 0.01
    assert cell(runs[0], "c_generate_noop_intervention_over_hf_generate") != rows[0][2]
