"""Every number in a method README's results tables matches the committed result file it names.

A results table (one with a numeric cell) must follow a visible `Result file:` line in its section:
either `results/NAME.json`, whose rows (by label) hold every number of the table at the README's
rounding, or `none (exploratory ...)` / `none (... unrecoverable ...)` for numbers whose run is gone.
The rest of this file breaks that on purpose and checks that the checker notices.
"""
from pathlib import Path

import pytest

from interp.results import (ResultFileError, check_readme, number_matches, numbers_in, read_result, readme_tables,
                            write_result)

ROOT = Path(__file__).resolve().parents[1]
READMES = sorted((ROOT / "methods").glob("*/README.md"))


def test_there_are_method_readmes():
    assert {p.parent.name for p in READMES} >= {"re_control", "vas", "reprpo", "reward_divergence"}


@pytest.mark.parametrize("readme", READMES, ids=lambda p: p.parent.name)
def test_every_readme_number_matches_its_result_file(readme):
    problems = check_readme(readme)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("readme", READMES, ids=lambda p: p.parent.name)
def test_every_committed_result_file_is_whole(readme):
    for f in sorted((readme.parent / "results").glob("*.json")):
        record = read_result(f)
        assert record["versions"] and record["config"] and record["data"], f


# --- the checker itself: each break below must be caught ---------------------------------------
def _record(rows, **kw):
    return {"kind": "interp-result", "method": "m", "run": "r", "source": "runs/r", "config": {"a": {"seed": 0}},
            "versions": {"torch": "x"}, "data": {"ids": [1, 2]}, "table": rows, "notes": {}, **kw}


def _readme(tmp_path, table, marker="Result file: [`results/r.json`](results/r.json)"):
    (tmp_path / "README.md").write_text(f"# M\n\n## Results\n\n{marker}\n\n{table}\n")
    return tmp_path / "README.md"


TABLE = """| method | reward [95% CI] | diversity |
|---|---|---|
| base | -0.002 [-0.144, +0.145] | 0.689 (-4.4%) |
| Best-of-4 | +0.242 [+0.124, +0.373] | 0.834 |"""


def _rows():
    return [{"label": "base", "reward": -0.0021, "low": -0.1443, "high": 0.14549, "diversity": 0.6891,
             "diversity_change": -0.0441},
            {"label": "Best-of-4", "reward": 0.24249, "low": 0.124, "high": 0.3731, "diversity": 0.834, "n": 4}]


def test_matching_table_passes(tmp_path):
    write_result(tmp_path / "results" / "r.json", _record(_rows()))
    assert check_readme(_readme(tmp_path, TABLE)) == []


def test_a_changed_number_is_caught(tmp_path):
    write_result(tmp_path / "results" / "r.json", _record(_rows()))
    problems = check_readme(_readme(tmp_path, TABLE.replace("0.834", "0.835")))
    assert len(problems) == 1 and "0.835" in problems[0] and "Best-of-4" in problems[0]


def test_a_rounding_off_by_one_digit_is_caught(tmp_path):
    rows = _rows()
    rows[1]["reward"] = 0.2435  # rounds to +0.243 or +0.244, never +0.242
    write_result(tmp_path / "results" / "r.json", _record(rows))
    assert any("+0.242" in p for p in check_readme(_readme(tmp_path, TABLE)))


def test_a_row_missing_from_the_file_is_caught(tmp_path):
    write_result(tmp_path / "results" / "r.json", _record(_rows()[:1]))
    assert any("no row 'Best-of-4'" in p for p in check_readme(_readme(tmp_path, TABLE)))


def test_a_table_without_its_file_line_is_caught(tmp_path):
    assert any("no 'Result file:' line" in p for p in check_readme(_readme(tmp_path, TABLE, marker="")))


def test_a_named_file_that_does_not_exist_is_caught(tmp_path):
    assert any("no result file" in p for p in check_readme(_readme(tmp_path, TABLE)))


def test_the_file_line_covers_only_its_own_section(tmp_path):
    write_result(tmp_path / "results" / "r.json", _record(_rows()))
    text = f"# M\n\n## A\n\nResult file: [`results/r.json`](results/r.json)\n\n{TABLE}\n\n## B\n\n{TABLE}\n"
    (tmp_path / "README.md").write_text(text)
    problems = check_readme(tmp_path / "README.md")
    assert len(problems) == 1 and "README.md:14" in problems[0], problems


def test_exploratory_tables_must_say_so(tmp_path):
    assert check_readme(_readme(tmp_path, TABLE, "Result file: none (exploratory: the run was not kept)")) == []
    assert check_readme(_readme(tmp_path, TABLE, "Result file: none (unrecoverable: no config)")) == []
    assert any("does not say" in p for p in check_readme(_readme(tmp_path, TABLE, "Result file: none")))


def test_tables_without_numeric_cells_are_not_results_tables(tmp_path):
    table = "| file | what |\n|---|---|\n| `td.py` | lambda-returns, lam 0.95 |"
    assert check_readme(_readme(tmp_path, table, marker="")) == []


def test_number_tokens_and_rounding():
    assert numbers_in("+0.030 [-0.107, +0.177]") == ["+0.030", "-0.107", "+0.177"]
    assert numbers_in("0.851 ± 0.027 (0.769)") == ["0.851", "0.027", "0.769"]
    assert numbers_in("p 3e-8, 7 / 8, -11.5%") == ["3e-8", "7", "8", "-11.5%"]
    assert number_matches("0.607", [0.6068]) and not number_matches("0.607", [0.6076])
    assert number_matches("-11.5%", [-0.1149]) and not number_matches("-11.5%", [-0.1162])
    assert number_matches("3e-8", [2.7e-8]) and not number_matches("3e-8", [4e-8])
    assert number_matches("7", [7]) and not number_matches("7", [8])


def test_result_files_refuse_weights_and_unlabelled_rows(tmp_path):
    with pytest.raises(ResultFileError, match="label"):
        write_result(tmp_path / "x.json", _record([{"reward": 1.0}]))
    with pytest.raises(ResultFileError, match="weights"):
        write_result(tmp_path / "x.json", _record(_rows(), config={"value": "runs/r/value.safetensors"}))
    with pytest.raises(ResultFileError, match="lacks"):
        write_result(tmp_path / "x.json", {k: v for k, v in _record(_rows()).items() if k != "versions"})
    assert not (tmp_path / "x.json").exists()  # nothing half-written is left behind


def test_readme_tables_reads_markers_and_rows():
    text = "## A\n\nResult file: none (exploratory)\n\n| a | b |\n|---|---|\n| x | 1.5 |\n"
    (t,) = readme_tables(text)
    assert t["marker"][1] == "none (exploratory)" and t["rows"] == [["x", "1.5"]] and t["line"] == 5
