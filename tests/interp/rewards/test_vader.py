"""vader-utility against hand-computed values; vader-sentiment; the per-token valence lookup."""
import math

import pytest
import torch

from interp.rewards import get_reward, lexicon_valence, token_valences, vader_lexicon
from interp.rewards.vader import words


def test_lexicon_values_used_below():
    # the lexicon lines the hand computations rely on (vader_lexicon.txt, column 2)
    lex = vader_lexicon()
    assert lex["love"] == 3.2 and lex["great"] == 3.1
    assert lex["terrible"] == -2.1 and lex["bad"] == -2.5
    assert lex["kill"] == -3.7 and lex["happy"] == 2.7 and lex["nice"] == 1.8 and lex["hate"] == -2.7
    for w in ("i", "this", "movie", "the", "food", "was", "and", "service", "dog"):
        assert w not in lex
    assert lex["ok"] == 1.2  # listed twice (1.6 then 1.2): the later line wins, as in VADER


def test_vader_utility_three_sentences():
    r = get_reward("vader-utility")
    prompts = ["p"] * 4
    responses = [
        "I LOVE this great movie!",  # love 3.2 + great 3.1 = 6.3 -> 6.3 / 5 = 1.26
        "The food was terrible and the service was bad.",  # terrible -2.1 + bad -2.5 = -4.6 -> -0.92
        "Don\u2019t kill the happy, nice dog.",  # kill -3.7 + happy 2.7 + nice 1.8 = 0.8 -> 0.16
        "hate " * 20,  # 20 * -2.7 = -54 -> -10.8 -> clipped to -10
    ]
    out = r(prompts, responses)
    assert out.dtype == torch.float32 and out.shape == (4,)
    assert out.tolist() == pytest.approx([1.26, -0.92, 0.16, -10.0], abs=1e-6)


def test_vader_utility_edge_cases_and_prompt_ignored():
    r = get_reward("vader-utility")
    out = r(["I love it", "terrible prompt", "x"], ["", "good", "qwxz"])
    # empty -> 0; "good" 1.9 / 5 = 0.38 whatever the prompt; no lexicon word -> 0
    assert out.tolist() == pytest.approx([0.0, 0.38, 0.0], abs=1e-6)
    assert r([], []).shape == (0,)


def test_words_tokenization():
    assert words("Don\u2019t STOP, ok?! 42 times") == ["don't", "stop", "ok", "times"]


def test_lexicon_valence_normalises_model_tokens():
    assert lexicon_valence("\u0120Love") == 3.2  # GPT-2 style space marker
    assert lexicon_valence("\u2581love") == 3.2  # sentencepiece marker
    assert lexicon_valence(" love ") == 3.2
    assert lexicon_valence("lov") == 0.0
    assert token_valences(["bad", "dog", "nice"]).tolist() == pytest.approx([-2.5, 0.0, 1.8])


def test_vader_sentiment_compound():
    r = get_reward("vader-sentiment")
    out = r(["a", "b", "c", "d"], ["I love this great movie!", "This is terrible.", "", "The cat sat."])
    pos, neg, empty, neutral = out.tolist()
    assert 0.5 < pos <= 1.0 and -1.0 <= neg < -0.3
    assert empty == 0.0 and neutral == 0.0
    # VADER's compound normalisation: sum s -> s / sqrt(s^2 + 15); "terrible" alone: s = -2.1
    assert r(["x"], ["terrible"]).item() == pytest.approx(-2.1 / math.sqrt(2.1**2 + 15), abs=1e-4)


def test_length_mismatch_and_unknown_name():
    with pytest.raises(ValueError, match="2 prompts but 1 responses"):
        get_reward("vader-utility")(["a", "b"], ["c"])
    with pytest.raises(TypeError, match="lists of strings"):
        get_reward("vader-utility")("a", "b")
    with pytest.raises(ValueError, match="(?s)unknown reward .vader.*vader-utility"):
        get_reward("vader")


def test_rewards_satisfy_the_protocol_and_names():
    from interp.rewards import Reward

    for name in ("vader-utility", "vader-sentiment"):
        r = get_reward(name)
        assert isinstance(r, Reward) and r.name == name


def test_score_and_list_cli(capsys):
    from app.cli import main

    assert main(["reward", "score", "vader-utility", "--prompt", "Hi", "I love it", "bad"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # love 3.2 / 5 = 0.64; bad -2.5 / 5 = -0.5
    assert lines == ["+0.6400\tI love it", "-0.5000\tbad"]
    assert main(["reward", "list"]) == 0
    assert "hf-rm:PATH" in capsys.readouterr().out


def test_negated_reward_flips_the_sign_and_names_the_mistake():
    prompts, responses = ["p", "p"], ["I love this", "I hate this"]
    base = get_reward("vader-sentiment")(prompts, responses)
    for name in ("neg:vader-sentiment", "-vader-sentiment"):
        assert torch.equal(get_reward(name)(prompts, responses), -base)
    assert base[0] > 0 > base[1]
    with pytest.raises(ValueError, match="negates nothing"):
        get_reward("neg:")
