"""stories260k: the llama2.c conversion reproduces the original model, tokenizer and text."""
from __future__ import annotations


import pytest
import torch

from interp.models import load_model
from interp.models.paths import data_dir
from interp.models.stories260k import build_stories260k, permute_rotary, read_vocab, source_files

LILY = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park."


@pytest.fixture(scope="module")
def stories():
    return load_model("stories260k", device="cpu")


def test_greedy_from_bos_tells_the_known_story(stories, checks):
    _, text = checks.greedy(stories, "", max_new_tokens=40)
    assert text.startswith(LILY), text


def test_bridge_logits_equal_hf(stories, checks):
    diffs = checks.logits_diffs(stories, checks.hf_reference(stories.path), texts=[LILY, "Tom had a red ball.", "Hi"])
    assert max(diffs.values()) < 1e-4, diffs


def test_sites_capture(stories, checks):
    checks.check_sites(stories, texts=[LILY, "Tom had a red ball."])


def test_encode_decode_round_trip(stories):
    tok = stories.tokenizer
    for text in (LILY, " two  spaces, a tab\tand\nnewline", "unicode: é ☃ 🙂", "trailing ", ""):
        ids = tok(text)["input_ids"]
        assert ids[0] == tok.bos_token_id == 1
        assert ids.count(tok.unk_token_id) == 0
        assert tok.decode(ids, skip_special_tokens=True) == text
    assert tok.eos_token == "</s>" and tok.eos_token_id == 2
    assert not getattr(tok, "chat_template", None)


def _llama2c_encode(text: str, pieces: list[tuple[str, float]]) -> list[int]:
    """llama2.c's encoder, written out: dummy prefix, per-character lookup with byte fallback, best-score merges."""
    lookup = {p: i for i, (p, _) in enumerate(pieces) if i > 2}
    text = " " + text if text else text
    ids: list[int] = []
    for ch in text:
        ids += [lookup[ch]] if ch in lookup else [b + 3 for b in ch.encode("utf-8")]
    while True:
        best = None
        for i in range(len(ids) - 1):
            j = lookup.get(pieces[ids[i]][0] + pieces[ids[i + 1]][0])
            if j is not None and (best is None or pieces[j][1] > best[0]):
                best = (pieces[j][1], i, j)
        if best is None:
            return [1] + ids
        _, i, j = best
        ids[i:i + 2] = [j]


def test_tokenizer_merges_like_llama2c(stories):
    pieces = read_vocab(source_files()[1])
    lines = (data_dir() / "rt-polarity" / "rt-polarity.pos").read_text(encoding="latin-1").splitlines()[:300]
    for text in [LILY, "Tom and Sue's dog ran to the store!", *lines]:
        assert stories.tokenizer(text)["input_ids"] == _llama2c_encode(text, pieces), text


def test_permute_rotary_pairs_to_halves():
    # one head of size 4: rows (re0, im0, re1, im1) become (re0, re1, im0, im1)
    w = torch.arange(8.0).view(4, 2)
    assert permute_rotary(w, n_heads=1)[:, 0].tolist() == [0.0, 4.0, 2.0, 6.0]


def test_local_folder_spec(tmp_path, checks):
    folder = build_stories260k(tmp_path / "stories")
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in folder.iterdir()}
    model = load_model(str(folder), device="cpu")
    assert model.path == folder and model.n_layers == 5 and model.d_model == 64 and model.vocab_size == 512
    assert model.hf.config.tie_word_embeddings
    _, text = checks.greedy(model, "", max_new_tokens=20)
    assert text.startswith("Once upon a time, there was a little girl named Lily")


def test_missing_source_files_name_path_and_env(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"stories260K\.bin.*INTERP_DATA"):
        build_stories260k(tmp_path / "out", source=tmp_path / "nowhere")
    monkeypatch.setenv("INTERP_DATA", str(tmp_path / "empty-data"))
    with pytest.raises(FileNotFoundError) as err:
        source_files()
    assert str(tmp_path / "empty-data") in str(err.value) and "INTERP_DATA" in str(err.value)


def test_truncated_checkpoint_is_refused(tmp_path):
    ckpt, tok = source_files()
    (tmp_path / "stories260K.bin").write_bytes(ckpt.read_bytes()[:100_000])
    (tmp_path / "tok512.bin").write_bytes(tok.read_bytes())
    with pytest.raises(ValueError, match="ends early"):
        build_stories260k(tmp_path / "out", source=tmp_path)
