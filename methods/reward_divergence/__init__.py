"""Reward-model divergence (Marks, Abdullah, Neo, Arike, Torr, Barez 2023, "Beyond Training Objectives:
Interpreting Reward Model Divergence in LLMs"), rebuilt on interp's backbone.

RL-tune a policy against a known reward (VADER lexicon utility), find the layers that moved most
(parameter and activation divergence), train sparse autoencoders there on both models, call
features reward-related by their correlation with token valence (a permutation test, no paid API),
and check how much of the reward a ridge probe recovers from the tuned model's features.

    from methods.reward_divergence import PipelineConfig, run_pipeline
    run_pipeline("runs/divergence-smollm2", PipelineConfig())
"""
from methods.reward_divergence.config import (
    STEPS, CollectConfig, DivergenceConfig, FeatureConfig, PipelineConfig, ProbeConfig, RLHFConfig, SAEStepConfig,
)
from methods.reward_divergence.pipeline import run_pipeline, summary

__all__ = [
    "PipelineConfig", "RLHFConfig", "DivergenceConfig", "CollectConfig", "SAEStepConfig", "FeatureConfig",
    "ProbeConfig", "STEPS", "run_pipeline", "summary",
]
