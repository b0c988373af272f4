"""Commands built from registered pipelines follow one convention: `--run NAME [--runs DIR] [--config FILE]
[--force]`, a flag per config field, lists comma-separated, optional booleans as auto|yes|no."""
import argparse
import dataclasses
import json

import pytest

from app.cli import build_parser
from app.cli.pipelines import _kind, _nested, config_from_args
from interp.pipeline import registered


def commands():
    parser = build_parser()
    top = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for pipeline in registered().values():
        group = top.choices[pipeline.cli_name]
        sub = next(a for a in group._actions if isinstance(a, argparse._SubParsersAction))
        for name in ["run", *pipeline.step_names()]:
            yield pipeline, name, sub.choices[name]


def leaf_fields(cls, prefix=""):
    for f in dataclasses.fields(cls):
        sub = _nested(cls, f)
        if sub is not None:
            yield from leaf_fields(sub, f"{prefix}{f.name}.")
        else:
            yield cls, f, prefix + f.name


def test_the_methods_register_their_pipelines():
    assert {"reprpo", "reward-divergence", "vas", "re-control"} <= set(registered())


# earlier spellings that keep their meaning for one release (they print the new one)
EARLIER = {("reprpo", "train"), ("reward-divergence", "run"), ("vas", "train"), ("vas", "evaluate")}


def test_every_pipeline_command_follows_the_convention():
    seen = 0
    for pipeline, name, parser in commands():
        if parser.get_default("built_from_pipeline") is None:
            assert (pipeline.name, name) in EARLIER, f"`interp {pipeline.cli_name} {name}` is hand-written"
            continue
        options = {s: a for a in parser._actions for s in a.option_strings}
        for flag in ("--run", "--runs", "--runs-dir", "--config", "--force", "--device"):
            assert flag in options, (pipeline.name, name, flag)
        for cls, f, dest in leaf_fields(pipeline.config):
            kind = _kind(cls, f)
            action = next((a for a in parser._actions if a.dest == dest), None)
            if kind == "skip" or (action is None and f.name == "device"):
                continue
            assert action is not None, (pipeline.name, name, dest)
            if kind == "list":
                assert "comma-separated" in action.help, (pipeline.name, dest)
            if kind == "optional_bool":
                assert list(action.choices) == ["auto", "yes", "no"], (pipeline.name, dest)
        seen += 1
    assert seen >= 2 + 6  # reprpo run and eval, divergence's six steps


def _args(argv):
    return build_parser().parse_args(argv)


def test_flags_override_the_config_file_which_overrides_defaults(tmp_path):
    from methods.reprpo.config import ReprPOConfig

    cfg_file = tmp_path / "c.json"
    cfg_file.write_text(json.dumps({"lr": 0.5, "seed": 3, "lora_targets": ["q_proj"], "chat": True}))
    cfg = config_from_args(ReprPOConfig, _args(["reprpo", "run", "--config", str(cfg_file), "--seed", "7",
                                                "--chat", "no", "--lora-targets", "q_proj,v_proj"]))
    assert (cfg.lr, cfg.seed, cfg.chat, cfg.lora_targets) == (0.5, 7, False, ("q_proj", "v_proj"))
    assert cfg.batch_size == ReprPOConfig().batch_size


def test_nested_sections_become_prefixed_flags(tmp_path):
    from methods.reward_divergence.config import PipelineConfig

    cfg_file = tmp_path / "c.json"
    cfg_file.write_text(json.dumps({"saes": {"k": 16, "expansions": [1, 2]}, "rlhf": {"policy": "stories260k"}}))
    cfg = config_from_args(PipelineConfig, _args(["divergence", "saes", "--config", str(cfg_file), "--saes-k", "4",
                                                  "--device", "cpu"]))
    assert cfg.saes.k == 4 and cfg.saes.expansions == (1.0, 2.0) and cfg.rlhf.policy == "stories260k"
    assert cfg.device == "cpu" and cfg.probe == PipelineConfig().probe


@pytest.mark.parametrize("content, message", [
    ({"colour": 1}, "unknown setting"), ({"saes": {"kk": 1}}, "unknown setting.*saes.kk"), ([1, 2], "JSON object"),
])
def test_bad_config_files_are_refused_clearly(tmp_path, content, message):
    from methods.reward_divergence.config import PipelineConfig

    cfg_file = tmp_path / "c.json"
    cfg_file.write_text(json.dumps(content))
    with pytest.raises(ValueError, match=message):
        config_from_args(PipelineConfig, _args(["divergence", "saes", "--config", str(cfg_file)]))


def every_command():
    """(name, parser) of every leaf command of `interp`, hand-written or built from a pipeline."""
    def walk(parser, path):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield " ".join(path), parser
        for sub in subs:
            for name, child in sub.choices.items():
                yield from walk(child, [*path, name])

    yield from walk(build_parser(), [])


def test_every_command_spells_chat_sampling_and_runs_one_way():
    checked = 0
    for name, parser in every_command():
        options = {s: a for a in parser._actions for s in a.option_strings}
        if "--chat" in options:
            assert list(options["--chat"].choices) == ["auto", "yes", "no"], name
        for action in {id(a): a for a in options.values()}.values():
            names = [s for s in action.option_strings if "sample" in s and "samples" not in s]
            if names:  # sampling is spelled --[no-]do-sample (a section's as --<section>-do-sample)
                assert any(s.endswith("do-sample") for s in action.option_strings), (name, action.option_strings)
        if "--runs" in options:
            assert "--runs-dir" in options and options["--runs"].dest == options["--runs-dir"].dest, name
            if name not in ("app", "demo"):  # those two read or write the whole runs directory
                assert "--run" in options, name
        checked += 1
    assert checked > 20
