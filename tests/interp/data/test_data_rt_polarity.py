import collections
import sys
import types

import pytest

from interp.data import DataError, LabelledText, prefix_prompts, rt_polarity, rt_polarity_prompts
from interp.models.tiny_random import byte_tokenizer


def test_real_counts_and_text(shared_data):
    sentences = rt_polarity()
    counts = collections.Counter(s.label for s in sentences)
    assert counts == {1: 5331, 0: 5331}
    assert sentences[0].id == "pos/0" and sentences[0].text.startswith("the rock is destined to be the 21st century's")
    assert all(s.text == s.text.strip() and s.text for s in sentences)
    # the shared copy is UTF-8: accents decode, nothing is mojibake
    joined = " ".join(s.text for s in sentences)
    assert "é" in joined and "Ã" not in joined


def test_word_prefixes_have_2_to_9_words(shared_data):
    sentences = {s.id: s.text for s in rt_polarity()}
    with pytest.warns(UserWarning, match="dropped 3"):
        prompts = rt_polarity_prompts(seed=0)
    assert len(prompts) == 10662 - 3
    assert sorted(d.split(":")[0] for d in prompts.dropped) == ["neg/1218", "neg/4469", "neg/587"]
    lengths = collections.Counter()
    for p in prompts:
        words = sentences[p.meta["sentence_id"]].split()
        n = p.meta["n_tokens"]
        assert 2 <= n <= 9 and p.text.split() == words[:n]
        lengths[n] += 1
    assert set(lengths) == set(range(2, 10))  # every length is drawn
    with pytest.warns(UserWarning):
        again = rt_polarity_prompts(seed=0)
        other = rt_polarity_prompts(seed=1)
    assert [p.text for p in again] == [p.text for p in prompts]
    assert [p.text for p in other] != [p.text for p in prompts]


def test_tokenizer_prefixes(shared_data):
    tok = byte_tokenizer()
    sentences = rt_polarity()[:300]
    for tokenizer in (tok, types.SimpleNamespace(tokenizer=tok)):  # a tokenizer or anything with .tokenizer (a Model)
        prompts = prefix_prompts(sentences, tokenizer=tokenizer, seed=3)
        assert len(prompts) == 300 and not prompts.dropped
        for s, p in zip(sentences, prompts):
            ids = p.meta["token_ids"]
            assert 2 <= len(ids) == p.meta["n_tokens"] <= 9
            assert ids == tok.encode(s.text, add_special_tokens=False)[: len(ids)]
            assert p.text == tok.decode(ids) and s.text.startswith(p.text)
    with pytest.raises(TypeError, match="expected a tokenizer"):
        prefix_prompts(sentences, tokenizer=object())


def test_short_text_kept_whole_and_bounds_checked():
    with pytest.warns(UserWarning, match="dropped 1 texts shorter than 9"):
        prompts = prefix_prompts([LabelledText("two words", 1, "x"), "a b c d e f g h i j k"], min_tokens=9, max_tokens=9)
    assert [p.text for p in prompts] == ["a b c d e f g h i"]
    assert prompts.dropped[0].startswith("x: 2 token(s)")
    kept = prefix_prompts(["one  two   three"], min_tokens=3, max_tokens=5)
    assert kept[0].text == "one  two   three" and kept[0].meta["n_tokens"] == 3  # own spacing kept
    with pytest.raises(ValueError, match="min_tokens <= max_tokens"):
        prefix_prompts(["a b"], min_tokens=5, max_tokens=2)


def test_encodings_and_missing_files(tmp_path, monkeypatch):
    (tmp_path / "rt-polarity.pos").write_bytes("caf\xe9 good\n".encode("latin-1"))
    (tmp_path / "rt-polarity.neg").write_bytes("caf\xe9 bad\n\n".encode("utf-8"))
    data = rt_polarity(tmp_path)
    assert [(s.text, s.label) for s in data] == [("caf\xe9 good", 1), ("caf\xe9 bad", 0)]
    with pytest.raises(DataError, match=r"rt-polarity.pos, line 1: not valid utf-8"):
        rt_polarity(tmp_path, encoding="utf-8")
    (tmp_path / "rt-polarity.neg").write_text("\n")
    with pytest.raises(DataError, match=r"rt-polarity.neg: file is empty"):
        rt_polarity(tmp_path)
    (tmp_path / "rt-polarity.neg").unlink()
    with pytest.raises(FileNotFoundError, match="rt-polarity.neg"):
        rt_polarity(tmp_path)
    monkeypatch.setenv("INTERP_DATA", str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match=r"no local file at .*empty/rt-polarity/rt-polarity.pos.*HF_HUB_OFFLINE"):
        rt_polarity()


def test_hub_fallback_reads_all_splits(tmp_path, monkeypatch):
    calls = []

    def load_dataset(name, **kwargs):
        calls.append((name, kwargs))
        return [{"text": "a fine film ", "label": 1}, {"text": "dull", "label": 0}]

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    monkeypatch.setenv("INTERP_DATA", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    with pytest.warns(UserWarning, match="from the hub"):
        data = rt_polarity()
    assert calls == [("cornell-movie-review-data/rotten_tomatoes", {"split": "train+validation+test"})]
    assert [(s.text, s.label) for s in data] == [("a fine film", 1), ("dull", 0)]
