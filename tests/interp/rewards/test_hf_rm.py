"""hf-rm:PATH on a tiny random LlamaForSequenceClassification, against a manual per-text computation."""
import pytest
import torch
from transformers import LlamaConfig, LlamaForSequenceClassification

from interp.models.tiny_random import byte_tokenizer
from interp.rewards import HFReward, get_reward


@pytest.fixture(scope="module")
def rm_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny-rm")
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=259, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=256, num_labels=1,
                      bos_token_id=256, eos_token_id=257, pad_token_id=258)
    model = LlamaForSequenceClassification(cfg).eval()
    with torch.no_grad():
        model.score.weight.normal_()  # a visible score scale
    model.save_pretrained(out, safe_serialization=True)
    byte_tokenizer().save_pretrained(out)
    return out


def manual_score(rm_dir, text):
    """Unpadded forward: backbone -> score head -> value at the last token."""
    model = LlamaForSequenceClassification.from_pretrained(rm_dir).eval()
    ids = torch.tensor([byte_tokenizer()(text)["input_ids"]])
    with torch.no_grad():
        hidden = model.model(input_ids=ids).last_hidden_state
        return model.score(hidden)[0, -1, 0].item()


PROMPTS = ["Hi", "What is the capital of France?", "x", "Tell me a story"]
RESPONSES = [" there", " Paris.", "", " Once upon a time<pad>"]  # the last text ends in the pad token itself


@pytest.mark.parametrize("side", ["left", "right"])
def test_scores_match_manual_computation(rm_dir, side):
    reward = HFReward(rm_dir, device="cpu", padding_side=side, batch_size=3)
    got = reward(PROMPTS, RESPONSES)
    want = [manual_score(rm_dir, p + r) for p, r in zip(PROMPTS, RESPONSES)]
    assert got.dtype == torch.float32 and got.shape == (4,)
    assert got.tolist() == pytest.approx(want, abs=1e-4)
    assert len(set(round(w, 4) for w in want)) == 4  # the texts really score differently


def test_registry_name_and_refusals(rm_dir, tmp_path):
    r = get_reward(f"hf-rm:{rm_dir}", device="cpu")
    assert r.name == f"hf-rm:{rm_dir}"
    assert r(["a"], ["b"]).shape == (1,)
    (tmp_path / "config.json").write_text((rm_dir / "config.json").read_text())
    with pytest.raises(ValueError, match="no \\*.safetensors"):
        get_reward(f"hf-rm:{tmp_path}")
    with pytest.raises(FileNotFoundError, match="no config.json"):
        get_reward(f"hf-rm:{tmp_path / 'missing'}")
