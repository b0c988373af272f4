"""The `interp` command line for the backbone: help, model info, generate."""
import json
import subprocess

from app.cli import main


def test_help_lists_commands(capsys):
    try:
        main(["--help"])
    except SystemExit as e:
        assert e.code == 0
    out = capsys.readouterr().out
    for cmd in ("model", "generate", "demo"):
        assert cmd in out


def test_model_info(capsys):
    assert main(["model", "info", "tiny-random-gpt2"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["architecture"] == "GPT2LMHeadModel" and info["n_layers"] == 4 and info["d_model"] == 64


def test_unknown_model_is_a_clear_error(capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["model", "info", "no-such-org/no-such-model"]) == 2
    err = capsys.readouterr().err
    assert "Offline alternatives" in err and "stories260k" in err


def test_generate_with_steering(tmp_path, capsys):
    out = tmp_path / "gen.jsonl"
    code = main(["generate", "--model", "tiny-random-llama", "--prompt", "hello", "--prompt", "a longer prompt here",
                 "--max-new-tokens", "5", "--steer-site", "resid_post:1", "--steer-positive", "good",
                 "--steer-negative", "bad", "--out", str(out)])
    assert code == 0
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert len(rows) == 2 and all(r["n_tokens"] == 5 for r in rows)


def test_console_script_installed():
    import shutil

    exe = shutil.which("interp")
    assert exe, "the interp console script is not on PATH: pip install -e ."
    r = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "interp" in r.stdout


def test_capture_writes_a_store(tmp_path, capsys):
    prompts = tmp_path / "p.txt"
    prompts.write_text("hello there\nsecond prompt\n\nthird\n")
    out = tmp_path / "store"
    assert main(["capture", "--model", "tiny-random-llama", "--prompts", str(prompts), "--site", "resid_post:-1",
                 "--site", "final", "--out", str(out)]) == 0
    from interp.models import load_model
    from interp.store import ActivationStore

    store = ActivationStore.open(out)
    tok = load_model("tiny-random-llama").tokenizer
    assert store.n_rows == sum(len(tok(t)["input_ids"]) for t in ["hello there", "second prompt", "third"])


def test_capture_missing_prompt_file(capsys, tmp_path):
    assert main(["capture", "--model", "tiny-random-llama", "--prompts", str(tmp_path / "none.txt"),
                 "--site", "final", "--out", str(tmp_path / "s")]) == 2
    assert "does not exist" in capsys.readouterr().err
