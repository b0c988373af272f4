"""The demo table says in words whether each effect shows, and what sample would show it."""
from app.demo.summary import Row, needed_size, render, verdict


def test_interval_clear_of_zero():
    assert verdict(Row("m", "gain", 0.2, "f:k", 0.05, 0.35, n=48)) == "clear of 0"
    assert verdict(Row("m", "loss", -0.2, "f:k", -0.35, -0.01, n=48)) == "clear of 0"


def test_interval_including_zero_names_the_size_needed():
    # half-width 0.0795 -> se 0.04056, z = 0.055 / 0.04056 = 1.356; 48 * (1.96 / 1.356)^2 = 100.3
    text = verdict(Row("RE-Control", "gain", 0.055, "f:k", -0.021, 0.138, n=48))
    assert text == "interval includes 0: ~101 pairs would show it at this effect (n = 48)"


def test_sign_test_row():
    # p = 0.25 -> z = 1.150; 24 * (1.96 / 1.150)^2 = 69.7
    assert verdict(Row("ReprPO", "ratio", 1.10, "f:k", n=24, p=0.25)) == "p = 0.25: ~70 pairs would show it at this effect (n = 24)"
    assert verdict(Row("ReprPO", "ratio", 1.30, "f:k", n=24, p=0.01)) == "p < 0.05"
    assert verdict(Row("ReprPO", "ratio", 1.0, "f:k", n=24, p=1.0)) == "p = 1: no effect at this size"
    # an estimate on the wrong side says so: more pairs would show a drop, not the method working
    assert verdict(Row("VAS", "gain", -0.080, "f:k", -0.187, 0.032, n=64)).endswith("at this effect, a drop (n = 64)")
    assert verdict(Row("ReprPO", "ratio", 0.90, "f:k", n=48, p=0.2)).endswith("at this effect, a drop (n = 48)")


def test_needed_size_scales_with_the_square_of_z():
    assert needed_size(100, 1.959964) == 100
    assert needed_size(100, 1.959964 / 2) == 400
    assert needed_size(100, 0.0) is None


def test_rendered_table_has_the_column():
    assert "shows an effect?" in render([Row("m", "gain", 0.2, "f:k", 0.05, 0.35, n=48)])


def test_readme_demo_table_is_the_committed_demo_run():
    """README.md's demo table is `markdown()` of the committed summary it names: a changed number fails here."""
    import json
    import re
    from pathlib import Path

    from app.demo.summary import markdown

    root = Path(__file__).resolve().parents[2]
    blocks = re.findall(r"<!-- demo-table:(\S+) -->\n(.*?)<!-- /demo-table -->", (root / "README.md").read_text(), re.S)
    assert blocks, "README.md has no demo-table block"
    for name, body in blocks:
        summary = json.loads((root / "benchmarks" / "results" / name).read_text())
        assert body == markdown(summary), name
        assert all(s["ok"] for s in summary["pipelines"].values())
