import json
import types

import pytest

from interp.data import (
    DATASET_NAMES, PreferencePair, Prompt, as_prompts, load_dataset_by_name, parse_pair, render, render_pairs, render_prompts,
)
from interp.models.tiny_random import byte_tokenizer

TEMPLATE = (
    "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}</{{ m['role'] }}>{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}"
)
DIALOGUE_C = "\n\nHuman: Hi\n\nAssistant: Hello.\n\nHuman: Tell me a joke\n\nAssistant: Why did the chicken..."
DIALOGUE_R = "\n\nHuman: Hi\n\nAssistant: Hello.\n\nHuman: Tell me a joke\n\nAssistant: No."


@pytest.fixture(scope="module")
def chat_tok():
    tok = byte_tokenizer()
    tok.chat_template = TEMPLATE
    return tok


def test_chat_template_uses_multi_turn_history(chat_tok):
    pair = parse_pair(DIALOGUE_C, DIALOGUE_R)
    expected = "<user>Hi</user><assistant>Hello.</assistant><user>Tell me a joke</user><assistant>"
    assert render(chat_tok, pair) == expected
    assert render(types.SimpleNamespace(tokenizer=chat_tok), pair, chat=True) == expected  # a Model works too
    assert render(chat_tok, pair, system="Be kind.") == "<system>Be kind.</system>" + expected
    assert render(chat_tok, pair, chat=False) == pair.prompt  # raw Human/Assistant format
    assert render(chat_tok, Prompt("plain")) == "<user>plain</user><assistant>"
    assert render(chat_tok, "s") == "<user>s</user><assistant>"

    [chat_pair] = render_pairs(chat_tok, [pair])
    assert (chat_pair.prompt, chat_pair.chosen, chat_pair.rejected) == (expected, "Why did the chicken...", "No.")
    assert chat_pair.meta["raw_prompt"] == pair.prompt
    [raw_pair] = render_pairs(chat_tok, [pair], chat=False)
    assert raw_pair.prompt + raw_pair.chosen == DIALOGUE_C
    [p] = render_prompts(chat_tok, as_prompts([pair, pair]))
    assert p.text == expected and p.messages == pair.messages


def test_no_template(chat_tok):
    tok = byte_tokenizer()
    pair = parse_pair(DIALOGUE_C, DIALOGUE_R)
    assert render(tok, pair) == pair.prompt  # chat=None: no template, raw text
    with pytest.raises(ValueError, match="no chat template; pass chat=False"):
        render(tok, pair, chat=True)
    with pytest.raises(TypeError, match="expected a Model or a Hugging Face tokenizer"):
        render(object(), pair)


def test_names_for_the_cli(shared_data, tmp_path):
    with pytest.warns(UserWarning, match="dropped 5"):
        assert len(load_dataset_by_name("hh-rlhf")) == 2307
    with pytest.warns(UserWarning):
        prompts = load_dataset_by_name("hh-rlhf-prompts")
    assert isinstance(prompts[0], Prompt) and len({p.text for p in prompts}) == len(prompts) <= 2307
    assert len(load_dataset_by_name("genies:math", "train")) == 1800
    assert len(load_dataset_by_name("genies:math")) == 750  # default split: test (every GENIES set has one)
    assert len(load_dataset_by_name("genies-shift:math->change_my_view", "train")) == 1800
    assert load_dataset_by_name("genies-shift:math->change_my_view", "test")[0].id.startswith("genies/change_my_view/test/")
    assert len(load_dataset_by_name("rt-polarity")) == 10662
    test = load_dataset_by_name("rt-polarity", "test")
    assert len(test) == 1066 and [s.id for s in test] == [s.id for s in load_dataset_by_name("rt-polarity", "test")]
    with pytest.warns(UserWarning):
        assert 2 <= load_dataset_by_name("rt-polarity-prompts", "train")[0].meta["n_tokens"] <= 9

    f = tmp_path / "own.jsonl"
    f.write_text("".join(json.dumps({"prompt": f"p{i}", "chosen": "c", "rejected": "r"}) + "\n" for i in range(10)))
    own = load_dataset_by_name(f"jsonl:{f}")
    assert len(own) == 10 and isinstance(own[0], PreferencePair)
    parts = [load_dataset_by_name(f"jsonl:{f}", s, seed=4) for s in ("train", "validation", "test")]
    assert sorted(p.prompt for part in parts for p in part) == sorted(p.prompt for p in own)

    with pytest.raises(ValueError) as e:
        load_dataset_by_name("imdb")
    assert all(n in str(e.value) for n in DATASET_NAMES)
    with pytest.raises(ValueError, match="split must be 'all', 'train', 'validation' or 'test'"):
        load_dataset_by_name("rt-polarity", "dev")
    with pytest.raises(ValueError, match="'genies:NAME'"):
        load_dataset_by_name("genies")
    with pytest.raises(ValueError, match="splits 'train' \\(source\\) and 'test'"):
        load_dataset_by_name("genies-shift:math->change_my_view")
