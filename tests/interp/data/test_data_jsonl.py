import gzip
import json

import pytest

from interp.data import DataError, LabelledText, PreferencePair, Prompt, jsonl_auto, jsonl_labelled, jsonl_pairs, jsonl_prompts


def _write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_pairs_with_user_named_fields(tmp_path):
    f = _write(tmp_path / "mine.jsonl", [
        {"q": "Say hi", "good": "Hi!", "bad": "No.", "key": 7, "topic": "greeting"},
        "",
        {"q": "Count", "good": "1 2 3", "bad": "3 2 1", "key": "b"},
    ])
    pairs = jsonl_pairs(f, prompt_field="q", chosen_field="good", rejected_field="bad", id_field="key")
    assert pairs == [PreferencePair("Say hi", "Hi!", "No.", id="7"), PreferencePair("Count", "1 2 3", "3 2 1", id="b")]
    assert pairs[0].meta == {"topic": "greeting", "line": 1} and pairs[1].meta == {"line": 3}
    assert pairs.source == str(f)


def test_prompts_with_messages_and_gzip(tmp_path):
    rows = [{"text": "Hello", "history": [{"role": "user", "content": "Hello"}]}]
    f = tmp_path / "p.jsonl.gz"
    f.write_bytes(gzip.compress((json.dumps(rows[0]) + "\n").encode()))
    prompts = jsonl_prompts(f, text_field="text", messages_field="history")
    assert prompts == [Prompt("Hello", id="p.jsonl.gz/1", messages=({"role": "user", "content": "Hello"},))]
    bad = _write(tmp_path / "m.jsonl", [{"text": "x", "history": [{"role": "user"}]}])
    with pytest.raises(DataError, match=r"m.jsonl, line 1: field 'history', message 0: needs string 'role' and 'content'"):
        jsonl_prompts(bad, text_field="text", messages_field="history")


def test_malformed_lines_name_file_line_and_field(tmp_path):
    f = _write(tmp_path / "data.jsonl", [
        {"prompt": "a", "chosen": "b", "rejected": "c"},
        {"prompt": "a", "chosen": "b", "rejected": "c"},
        {"prompt": "a", "rejected": "c"},
    ])
    with pytest.raises(DataError) as e:
        jsonl_pairs(f)
    assert str(e.value).startswith(f"{f}, line 3: missing field 'chosen'")
    assert (e.value.field, e.value.where) == ("chosen", "line 3")

    _write(f, [{"prompt": "a", "chosen": 5, "rejected": "c"}])
    with pytest.raises(DataError, match=r"data.jsonl, line 1: field 'chosen' must be a string, got int"):
        jsonl_pairs(f)
    _write(f, [{"prompt": "a"}, "{not json"])
    with pytest.raises(DataError, match=r"data.jsonl, line 2: not valid JSON"):
        jsonl_prompts(f)
    _write(f, ["[1, 2]"])
    with pytest.raises(DataError, match=r"data.jsonl, line 1: expected a JSON object, got list"):
        jsonl_prompts(f)
    _write(f, [{"text": "a", "label": "pos"}])
    with pytest.raises(DataError, match=r"line 1: field 'label' must be an integer, got str"):
        jsonl_labelled(f)
    _write(f, [{"prompt": "a", "id": [1]}])
    with pytest.raises(DataError, match=r"line 1: field 'id' must be a string or integer"):
        jsonl_prompts(f, id_field="id")


@pytest.mark.parametrize("content", ["", "\n\n   \n"])
def test_empty_file_is_an_error(tmp_path, content):
    f = tmp_path / "empty.jsonl"
    f.write_text(content)
    for load in (jsonl_prompts, jsonl_pairs, jsonl_auto):
        with pytest.raises(DataError, match=r"empty.jsonl: file is empty"):
            load(f)
    with pytest.raises(FileNotFoundError, match="no file at"):
        jsonl_pairs(tmp_path / "absent.jsonl")


def test_auto_detects_kind(tmp_path):
    pairs = jsonl_auto(_write(tmp_path / "a.jsonl", [{"prompt": "p", "chosen": "c", "rejected": "r"}]))
    assert isinstance(pairs[0], PreferencePair)
    hh = jsonl_auto(_write(tmp_path / "b.jsonl", [{"chosen": "\n\nHuman: q\n\nAssistant: yes", "rejected": "\n\nHuman: q\n\nAssistant: no"}]))
    assert (hh[0].prompt, hh[0].chosen, hh[0].rejected) == ("\n\nHuman: q\n\nAssistant:", " yes", " no")
    assert isinstance(jsonl_auto(_write(tmp_path / "c.jsonl", [{"prompt": "p"}]))[0], Prompt)
    assert jsonl_auto(_write(tmp_path / "d.jsonl", [{"text": "t", "label": 1}])) == [LabelledText("t", 1, "d.jsonl/1")]
    assert jsonl_auto(_write(tmp_path / "e.jsonl", [{"text": "t"}]))[0].text == "t"
    with pytest.raises(DataError, match=r"f.jsonl, line 1: cannot tell what this file holds from its fields \['x'\]"):
        jsonl_auto(_write(tmp_path / "f.jsonl", [{"x": 1}]))
