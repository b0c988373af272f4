"""Every fingerprint a run records keeps its value through interp.fingerprint (issue 17): runs written before
the helpers were folded into one still match their recorded hashes, so they are still skipped.

The expected values were computed with each helper's own code before it moved onto interp.fingerprint."""
import hashlib
import json
from types import SimpleNamespace as NS

from interp.fingerprint import digest, json_digest, length_prefixed

PAIRS = [NS(prompt="Say hi", chosen="Hi! \u263a", rejected="no"), NS(prompt="2+2?", chosen="4", rejected="5")]


def test_digest_is_sha256_of_the_concatenated_chunks():
    assert digest("") == hashlib.sha256(b"").hexdigest()
    assert digest(["ab", b"c", "\u00fc"]) == hashlib.sha256("abc\u00fc".encode()).hexdigest()
    assert digest("abc", 16) == hashlib.sha256(b"abc").hexdigest()[:16]
    assert json_digest({"b": 1, "a": 2}, sort_keys=True) == hashlib.sha256(b'{"a": 2, "b": 1}').hexdigest()
    # the length prefix separates lists that would concatenate alike
    assert digest(length_prefixed(["ab", "c"])) != digest(length_prefixed(["a", "bc"]))


def test_reward_embedding_cache_digest_is_unchanged():
    from interp.rewards.train import texts_digest

    assert texts_digest(PAIRS) == "685c94a5af9040075ece6fb41ef9997f2bb58b8daacd3c9e5c6367cc35b6576c"


def test_activation_store_texts_fingerprint_is_unchanged():
    from interp.store.collect import texts_fingerprint

    assert texts_fingerprint(["Once upon a time", "\u00e9\x00", ""]) == (
        "c8349488339a69e77fb136270343bd726ad851bc370e110c07f2ce093ef85a14")


def test_re_control_step_fingerprint_is_unchanged(tmp_path):
    from methods.re_control.config import fingerprint

    (tmp_path / "config.json").write_text(json.dumps({
        "model": "stories260k", "n": 3, "pipeline": "re-control", "interp_version": "0.1", "versions": {"torch": "x"},
        "b": [1, "\u00fc"]}))
    (tmp_path / "metrics.json").write_text("{}")
    assert fingerprint(tmp_path) == "f1649c570f0aa2f4"


def test_reprpo_result_pairs_hash_is_unchanged():
    from methods.reprpo.results import _sha

    assert _sha(PAIRS) == "5ca3c9883736624e"


def test_vas_vocab_and_prompt_fingerprints_are_unchanged():
    from methods.vas.pipeline import prompts_digest
    from methods.vas.value_model import vocab_fingerprint

    class Tok:
        def get_vocab(self):
            return {"b": 1, "a": 0, "\u00fc": 2}

    assert vocab_fingerprint(Tok()) == "13279303eb74deec8a631353ebf081bea444be714d5d713a8057f5bfd86de779"
    assert prompts_digest(["Once upon a time", "\u00fc"]) == "5b03861283909fbc"
