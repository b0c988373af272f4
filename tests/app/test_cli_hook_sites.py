"""The CLI's site options take the finer sites (`interp.sites`): capture stores head_out and d_model-wide
hooks, refuses a pattern naming its shape, and a misspelt site names the valid forms."""
from app.cli import main


def test_capture_takes_head_out_and_hook_sites(tmp_path, capsys):
    prompts = tmp_path / "p.txt"
    prompts.write_text("hello there\nsecond prompt\n")
    out = tmp_path / "store"
    assert main(["capture", "--model", "tiny-random-llama", "--prompts", str(prompts), "--site", "head_out:1:0",
                 "--site", "hook:blocks.-1.hook_resid_mid", "--out", str(out)]) == 0
    from interp.store import ActivationStore

    store = ActivationStore.open(out)
    assert {s.key for s in store.sites} == {"head_out.1.0", "hook.blocks.3.hook_resid_mid"}, store.sites
    assert store.n_rows > 0 and store.d == 64


def test_capture_refuses_sites_the_store_cannot_hold(tmp_path, capsys):
    prompts = tmp_path / "p.txt"
    prompts.write_text("hello\n")
    args = ["capture", "--model", "tiny-random-llama", "--prompts", str(prompts), "--out", str(tmp_path / "s")]
    assert main([*args, "--site", "pattern:1"]) == 2
    assert "pattern(1) gives (1, 4, 2, 2)" in capsys.readouterr().err
    assert main([*args, "--site", "patern:1"]) == 2
    err = capsys.readouterr().err
    assert "did you mean pattern?" in err and "hook:NAME" in err
