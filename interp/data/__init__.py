"""Data loaders returning plain dataclasses (Prompt, PreferencePair, LabelledText).

Each loader reads a local path (default: the shared data folder, `interp.models.paths.data_dir()`);
where a public hub copy exists it is used only when the default file is missing and the hub is
allowed (HF_HUB_OFFLINE != "1"). Loaders return `Loaded`, a list that also records its source
and the records it dropped.
"""
from interp.data._files import DataError
from interp.data.by_name import DATASET_NAMES, load_dataset_by_name
from interp.data.genies import Shift, ShiftData, genies, genies_names, genies_shift, genies_shifts
from interp.data.hh_rlhf import PromptMismatch, hh_rlhf, parse_pair, parse_turns, split_dialogue
from interp.data.jsonl import jsonl_auto, jsonl_labelled, jsonl_pairs, jsonl_prompts
from interp.data.render import as_prompts, render, render_pairs, render_prompts
from interp.data.rt_polarity import prefix_prompts, rt_polarity, rt_polarity_prompts
from interp.data.splits import Splits, split
from interp.data.types import LabelledText, Loaded, PreferencePair, Prompt

__all__ = [
    "Prompt", "PreferencePair", "LabelledText", "Loaded", "DataError",
    "hh_rlhf", "split_dialogue", "parse_turns", "parse_pair", "PromptMismatch",
    "genies", "genies_names", "genies_shifts", "genies_shift", "Shift", "ShiftData",
    "rt_polarity", "rt_polarity_prompts", "prefix_prompts",
    "jsonl_prompts", "jsonl_pairs", "jsonl_labelled", "jsonl_auto",
    "split", "Splits",
    "render", "render_pairs", "render_prompts", "as_prompts",
    "load_dataset_by_name", "DATASET_NAMES",
]
