import gzip
import json
import sys
import types

import pytest

from interp.data import DataError, PromptMismatch, hh_rlhf, parse_pair, parse_turns, split_dialogue

ONE_TURN_C = "\n\nHuman: Hi there\n\nAssistant: Hello! How can I help?"
ONE_TURN_R = "\n\nHuman: Hi there\n\nAssistant: Go away."

# three human turns; an assistant answer with paragraph breaks and an inline "Human:" mention
MULTI_C = (
    "\n\nHuman: How do I boil an egg?"
    "\n\nAssistant: Put it in boiling water.\n\nWait about nine minutes."
    "\n\nHuman: What if I want it soft?"
    "\n\nAssistant: Six minutes. A Human: label inside a turn is just text."
    "\n\nHuman: Thanks!"
    "\n\nAssistant: You're welcome, enjoy your egg."
)
MULTI_R = MULTI_C.rsplit("\n\nAssistant:", 1)[0] + "\n\nAssistant: Eggs are overrated."


def test_single_turn_split_by_hand():
    prompt, response = split_dialogue(ONE_TURN_C)
    assert prompt == "\n\nHuman: Hi there\n\nAssistant:"
    assert response == " Hello! How can I help?"
    pair = parse_pair(ONE_TURN_C, ONE_TURN_R)
    assert (pair.prompt, pair.chosen, pair.rejected) == (prompt, " Hello! How can I help?", " Go away.")
    assert pair.messages == ({"role": "user", "content": "Hi there"},)


def test_multi_turn_split_keeps_history_by_hand():
    pair = parse_pair(MULTI_C, MULTI_R)
    assert pair.prompt == MULTI_C[: MULTI_C.rindex("\n\nAssistant:")] + "\n\nAssistant:"
    assert pair.chosen == " You're welcome, enjoy your egg."
    assert pair.rejected == " Eggs are overrated."
    assert pair.messages == (
        {"role": "user", "content": "How do I boil an egg?"},
        {"role": "assistant", "content": "Put it in boiling water.\n\nWait about nine minutes."},
        {"role": "user", "content": "What if I want it soft?"},
        {"role": "assistant", "content": "Six minutes. A Human: label inside a turn is just text."},
        {"role": "user", "content": "Thanks!"},
    )
    assert pair.prompt + pair.chosen == MULTI_C


def test_dialogue_without_leading_blank_line_is_accepted():
    assert parse_turns("Human: a\n\nAssistant: b") == ({"role": "user", "content": "a"}, {"role": "assistant", "content": "b"})


def test_mismatched_prompts_error_drop_or_common(tmp_path):
    runaway = "\n\nHuman: Hi there\n\nAssistant: Hello. Human: more?\n\nAssistant: yes"
    with pytest.raises(PromptMismatch):
        parse_pair(runaway, ONE_TURN_R)
    common = parse_pair(runaway, ONE_TURN_R, on_mismatch="common")
    assert common.prompt == "\n\nHuman: Hi there\n\nAssistant:"
    assert common.chosen == " Hello. Human: more?\n\nAssistant: yes" and common.rejected == " Go away."

    f = tmp_path / "hh.jsonl"
    rows = [{"chosen": ONE_TURN_C, "rejected": ONE_TURN_R}, {"chosen": runaway, "rejected": ONE_TURN_R}]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.warns(UserWarning, match="dropped 1 of 2"):
        kept = hh_rlhf(f)
    assert len(kept) == 1 and len(kept.dropped) == 1 and kept.dropped[0].startswith("line 2:")
    with pytest.raises(DataError, match=r"hh.jsonl, line 2: chosen and rejected prompts differ"):
        hh_rlhf(f, on_mismatch="error")
    assert len(hh_rlhf(f, on_mismatch="common")) == 2


def test_malformed_file_names_file_line_field(tmp_path):
    f = tmp_path / "hh.jsonl"
    f.write_text(json.dumps({"chosen": ONE_TURN_C, "rejected": ONE_TURN_R}) + "\n" + json.dumps({"chosen": ONE_TURN_C}) + "\n")
    with pytest.raises(DataError) as e:
        hh_rlhf(f)
    assert str(e.value).startswith(f"{f}, line 2: missing field 'rejected'")
    f.write_text(json.dumps({"chosen": "\n\nHuman: no answer marker", "rejected": ONE_TURN_R}) + "\n")
    with pytest.raises(DataError, match=r"line 1: field 'chosen': dialogue has no"):
        hh_rlhf(f)
    f.write_text("\n  \n")
    with pytest.raises(DataError, match="file is empty"):
        hh_rlhf(f)


def test_gzip_and_folder_paths(tmp_path):
    row = json.dumps({"chosen": MULTI_C, "rejected": MULTI_R}) + "\n"
    (tmp_path / "helpful-base-train.jsonl.gz").write_bytes(gzip.compress(row.encode()))
    pairs = hh_rlhf(tmp_path, subset="helpful-base", split="train")
    assert len(pairs) == 1 and pairs[0].chosen == " You're welcome, enjoy your egg."
    assert pairs[0].id == "hh-rlhf/helpful-base-train/1"


def test_real_harmless_base_test(shared_data):
    raw = [json.loads(l) for l in gzip.open(shared_data / "hh-rlhf" / "harmless-base-test.jsonl.gz", "rt", encoding="utf-8")]
    assert len(raw) == 2312
    # independent count: rows whose text before the last assistant marker agrees
    consistent = [i for i, r in enumerate(raw, 1) if r["chosen"].rsplit("\n\nAssistant:", 1)[0] == r["rejected"].rsplit("\n\nAssistant:", 1)[0]]
    with pytest.warns(UserWarning, match="dropped 5 of 2312"):
        pairs = hh_rlhf()
    assert len(pairs) == len(consistent) == 2307
    assert [d.split(":")[0] for d in pairs.dropped] == ["line 1255", "line 1689", "line 1951", "line 1953", "line 2037"]
    assert [int(p.id.rsplit("/", 1)[1]) for p in pairs] == consistent
    for p in pairs:
        r = raw[int(p.id.rsplit("/", 1)[1]) - 1]
        assert p.prompt + p.chosen == r["chosen"] and p.prompt + p.rejected == r["rejected"]
        assert p.prompt.endswith("\n\nAssistant:") and "\n\nAssistant:" not in p.chosen
        assert p.messages[0]["role"] == "user"
    first = pairs[0]  # checked by hand against line 1
    assert [m["role"] for m in first.messages] == ["user", "assistant", "user", "assistant", "user"]
    assert first.messages[-1]["content"] == "okay some of these do not have anything to do with pens"
    assert first.chosen.startswith(" No, sorry!  All of these involve a pen")
    assert len(hh_rlhf(on_mismatch="common")) == 2312


def _fake_datasets(monkeypatch, rows=None, error=None):
    calls = []

    def load_dataset(name, **kwargs):
        calls.append((name, kwargs))
        if error:
            raise error
        return rows

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    return calls


def test_missing_default_file_offline_names_expected_path(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_DATA", str(tmp_path))
    calls = _fake_datasets(monkeypatch, rows=[])
    with pytest.raises(FileNotFoundError) as e:
        hh_rlhf()
    assert str(tmp_path / "hh-rlhf" / "harmless-base-test.jsonl.gz") in str(e.value) and "HF_HUB_OFFLINE" in str(e.value)
    assert calls == []


def test_hub_fallback_only_for_default_path(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_DATA", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    calls = _fake_datasets(monkeypatch, rows=[{"chosen": ONE_TURN_C, "rejected": ONE_TURN_R}])
    with pytest.warns(UserWarning, match="from the hub"):
        pairs = hh_rlhf()
    assert calls == [("Anthropic/hh-rlhf", {"data_dir": "harmless-base", "split": "test"})]
    assert pairs[0].chosen == " Hello! How can I help?" and pairs.source.startswith("hub:")
    with pytest.raises(FileNotFoundError, match="no file at"):
        hh_rlhf(tmp_path / "mine.jsonl")  # a path the user named is never replaced by the hub
    assert len(calls) == 1
    _fake_datasets(monkeypatch, error=ConnectionError("no route"))
    with pytest.raises(FileNotFoundError, match=r"loading 'Anthropic/hh-rlhf' from the hub failed \(ConnectionError"):
        hh_rlhf()
