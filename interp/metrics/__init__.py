"""Metrics as pure functions with their formulas in the docstrings."""
from interp.metrics.bootstrap import Interval, bootstrap_mean, paired_bootstrap_diff
from interp.metrics.coherence import coherence, coherence_scores, cosine_rows
from interp.metrics.diversity import diversity, diversity_one, ngrams, rep_n
from interp.metrics.judge import ApiJudge, judge_from_env, parse_verdict
from interp.metrics.selection import choose_within_limits
from interp.metrics.preference import PreferenceAccuracy, accuracy_from_logprobs, accuracy_from_scores, preference_accuracy
from interp.metrics.win_rate import WinRate, outcomes_from_scores, win_rate, win_rate_from_outcomes

__all__ = [
    "diversity", "diversity_one", "rep_n", "ngrams",
    "coherence", "coherence_scores", "cosine_rows",
    "win_rate", "win_rate_from_outcomes", "outcomes_from_scores", "WinRate",
    "bootstrap_mean", "paired_bootstrap_diff", "Interval",
    "preference_accuracy", "accuracy_from_logprobs", "accuracy_from_scores", "PreferenceAccuracy",
    "ApiJudge", "judge_from_env", "parse_verdict",
    "choose_within_limits",
]
