"""Rewards: one protocol, `reward(prompts, responses) -> Float[Tensor, "batch"]`, named by `get_reward(name)`."""
from interp.rewards.base import Reward, join_text
from interp.rewards.bradley_terry import BradleyTerryReward, BTConfig, BTHead, bt_loss, pairwise_accuracy, train_head
from interp.rewards.encoders import load_encoder, minilm_path, sentence_embeddings
from interp.rewards.hf_rm import HFReward
from interp.rewards.registry import REWARD_NAMES, get_reward
from interp.rewards.vader import (
    VaderSentiment,
    VaderUtility,
    lexicon_valence,
    token_valences,
    vader_compound,
    vader_lexicon,
    vader_utility_text,
)

__all__ = [
    "Reward", "get_reward", "REWARD_NAMES", "join_text",
    "VaderUtility", "VaderSentiment", "vader_lexicon", "lexicon_valence", "token_valences",
    "vader_utility_text", "vader_compound",
    "BradleyTerryReward", "BTConfig", "BTHead", "bt_loss", "pairwise_accuracy", "train_head",
    "HFReward", "load_encoder", "minilm_path", "sentence_embeddings",
]
