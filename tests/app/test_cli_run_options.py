"""Every command that writes or reads run directories takes the same spellings: `--runs` and
`--runs-dir` for the runs directory, `--run` for the run name (divergence also keeps `--name`)."""
import pytest

from app.cli import build_parser

CASES = [
    (["app"], "runs", None),
    (["demo"], "runs", None),
    (["re-control", "collect", "--run", "r"], "runs", None),
    (["reprpo", "train", "--run", "r"], "runs_dir", None),
    (["divergence", "run"], "runs_dir", "name"),
    (["divergence", "show"], "runs_dir", "name"),
]


@pytest.mark.parametrize("argv, runs_dest, name_dest", CASES, ids=[" ".join(c[0][:2]) for c in CASES])
@pytest.mark.parametrize("runs_flag", ["--runs", "--runs-dir"])
def test_runs_directory_and_run_name_spellings(argv, runs_dest, name_dest, runs_flag, tmp_path):
    extra = ["--run", "my-run"] if name_dest else []
    args = build_parser().parse_args([*argv, *extra, runs_flag, str(tmp_path)])
    assert getattr(args, runs_dest) == str(tmp_path)
    if name_dest:
        assert getattr(args, name_dest) == "my-run"


@pytest.mark.parametrize("action", ["train", "evaluate", "grid"])
def test_vas_takes_a_run_name_or_a_path(action, tmp_path):
    from app.cli.vas import resolve_out

    need = {"train": [], "evaluate": ["--value", "v"], "grid": ["--value", "a", "--value", "b", "--rewards", "x,y"]}[action]
    args = build_parser().parse_args(["vas", action, *need, "--run", "my-run", "--runs-dir", str(tmp_path)])
    resolve_out(args)
    assert args.out == str(tmp_path / "my-run")
    args = build_parser().parse_args(["vas", action, *need, "--out", str(tmp_path / "x")])
    resolve_out(args)
    assert args.out == str(tmp_path / "x")
    with pytest.raises(SystemExit):  # one of the two, not both, not neither
        build_parser().parse_args(["vas", action, *need, "--run", "a", "--out", "b"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["vas", action, *need])
    args = build_parser().parse_args(["vas", action, *need, "--run", "../escape"])
    with pytest.raises(ValueError, match="run name"):
        resolve_out(args)
