import json

import pytest

from interp.data import DataError, Shift, genies, genies_names, genies_shift, genies_shifts


def _expected_pairs(path):
    """Independent count from the raw JSON: (#preferred) x (#non-preferred) per item; one preferred each here."""
    items = json.loads(path.read_text())
    return sum(sum(s == 1.0 for s in it["responses"].values()) * sum(s != 1.0 for s in it["responses"].values()) for it in items), items


@pytest.mark.parametrize("split", ["train", "test"])
def test_math_pair_counts_match_raw_json(shared_data, split):
    expected, items = _expected_pairs(shared_data / "genies" / "math" / f"{split}.json")
    assert all(sum(s == 1.0 for s in it["responses"].values()) == 1 for it in items)
    assert expected == sum(sum(s != 1.0 for s in it["responses"].values()) for it in items)
    pairs = genies("math", split)
    assert len(pairs) == expected == {"train": 1800, "test": 750}[split]
    for p in pairs:
        responses = items[p.meta["item"]]["responses"]
        assert p.prompt == items[p.meta["item"]]["prompt"] and p.prompt.endswith("### Response:\n")
        assert responses[p.chosen] == 1.0 and responses[p.rejected] != 1.0
    assert len({(p.prompt, p.chosen, p.rejected) for p in pairs}) == len(pairs)
    assert len({p.id for p in pairs}) == len(pairs)


def test_missing_name_or_split_lists_what_exists(shared_data):
    with pytest.raises(FileNotFoundError) as e:
        genies("maths")
    assert "'maths'" in str(e.value) and "math" in str(e.value) and "change_my_view" in str(e.value)
    with pytest.raises(FileNotFoundError) as e:
        genies("cooking", "train")  # cooking ships a test split only
    msg = str(e.value)
    assert "no 'train' split" in msg and "its splits: test" in msg and "math" in msg.split("Datasets with")[1]
    assert "cooking" not in msg.split("Datasets with")[1]
    with pytest.raises(ValueError, match="split must be one of train, test"):
        genies("math", "validation")
    assert len(genies_names(split="test")) == 66 and len(genies_names(split="train")) == 12


def test_benchmark_shifts_load(shared_data):
    raw = json.loads((shared_data / "genies" / "distribution_shifts" / "GENIES.json").read_text())
    shifts = genies_shifts()
    assert [(s.source, s.target) for s in shifts] == [(r["source"], r["target"]) for r in raw]
    assert len(shifts) == 15
    assert Shift("math", "change_my_view", "extreme", "skill") in shifts
    assert shifts[9].target_reference == "alpaca_mmlu"
    for s in shifts:
        data = genies_shift(s)
        assert len(data.train) > 0 and len(data.test) > 0
        assert data.train[0].id.startswith(f"genies/{s.source}/train/") and data.test[0].id.startswith(f"genies/{s.target}/test/")
    data = genies_shift("math->change_my_view")
    assert len(data.train) == 1800 and data.shift.name == "math->change_my_view"
    assert len(genies_shifts("all")) == len(json.loads((shared_data / "genies" / "distribution_shifts" / "all.json").read_text()))
    with pytest.raises(ValueError, match="source->target"):
        genies_shift("math")


def _write(root, name, split, payload):
    (root / name).mkdir(parents=True, exist_ok=True)
    f = root / name / f"{split}.json"
    f.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return f


def test_ties_and_malformed_items(tmp_path):
    _write(tmp_path, "toy", "train", [{"prompt": "Q", "responses": {"a": 1.0, "b": 1.0, "c": 0.0, "d": 0.5}}])
    pairs = genies("toy", "train", root=tmp_path)
    assert sorted((p.chosen, p.rejected) for p in pairs) == [("a", "c"), ("a", "d"), ("b", "c"), ("b", "d")]

    f = _write(tmp_path, "bad", "test", [{"prompt": "Q", "responses": {"a": 1.0, "b": 0.0}}, {"prompt": "R"}])
    with pytest.raises(DataError) as e:
        genies("bad", "test", root=tmp_path)
    assert str(e.value).startswith(f"{f}, item 1: field 'responses'") and e.value.field == "responses"
    f = _write(tmp_path, "bad", "test", [{"prompt": "Q", "responses": {"a": 0.0, "b": 0.0}}])
    with pytest.raises(DataError, match=r"item 0: field 'responses' needs a response scored 1.0"):
        genies("bad", "test", root=tmp_path)
    f = _write(tmp_path, "bad", "test", [{"responses": {"a": 1.0, "b": 0.0}}])
    with pytest.raises(DataError, match=r"item 0: missing field 'prompt'"):
        genies("bad", "test", root=tmp_path)
    _write(tmp_path, "bad", "test", "")
    with pytest.raises(DataError, match="file is empty"):
        genies("bad", "test", root=tmp_path)
    _write(tmp_path, "bad", "test", "[\n{\"prompt\": }\n]")
    with pytest.raises(DataError, match=r"test.json, line 2: not valid JSON"):
        genies("bad", "test", root=tmp_path)


def test_missing_root_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="GENIES: no folder at .*nowhere"):
        genies("math", root=tmp_path / "nowhere")
