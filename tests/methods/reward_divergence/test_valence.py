"""Token valence aligned with the model's tokenization: whole words, sub-word pieces, truncation."""
import pytest

from interp.rewards import vader_lexicon
from methods.reward_divergence.valence import label_tokens


def test_word_valence_lands_on_the_last_piece(stories):
    tok = stories.tokenizer
    text = "I love this movie, it is great but sad."
    lab = label_tokens(tok, text, mode="word")
    ids, _ = stories.tokenize([text])
    assert lab.ids == ids[0].tolist()  # the same tokens Model.tokenize makes
    lex = vader_lexicon()
    got = {w: v for w, v in zip(lab.word, lab.valence) if v}
    assert got == {"love": lex["love"], "great": lex["great"], "sad": lex["sad"]}
    # each valenced word appears exactly once, on the token that ends it
    assert sum(1 for v in lab.valence if v) == 3
    pieces = tok.convert_ids_to_tokens(lab.ids)
    i = lab.word.index("love")
    assert pieces[i].endswith("ve") and lab.word[i - 1] == ""  # "love" is split; the first piece ends no word


def test_token_mode_scores_only_whole_word_tokens(stories):
    lab = label_tokens(stories.tokenizer, "I love it, good and bad", mode="token")
    pieces = stories.tokenizer.convert_ids_to_tokens(lab.ids)
    lex = vader_lexicon()
    for p, v in zip(pieces, lab.valence):
        assert v == lex.get(p.replace("\u2581", "").lower(), 0.0)


def test_truncation_matches_model_tokenize(stories):
    text = "What a wonderful, lovely, happy day it was for everyone at the beach"
    full = label_tokens(stories.tokenizer, text)
    cut = label_tokens(stories.tokenizer, text, max_length=10)
    ids, _ = stories.tokenize([text], max_length=10)
    assert cut.ids == ids[0].tolist() == full.ids[-10:]
    assert cut.valence == full.valence[-10:]


def test_unknown_mode():
    with pytest.raises(ValueError, match="valence mode"):
        label_tokens(None, "x", mode="char")
