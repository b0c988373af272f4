"""Collection: per-step states in the ActivationStore follow RE-Control's convention (n tokens, n + 1 states)."""
import json

import torch

import interp
from interp.activations import capture
from interp.store import ActivationStore
from methods.re_control.collect import collect_trajectories, load_trajectories

PROMPTS = ["Once upon a time", "The cat", "Tom and Sue went to the", "A bird"]


def test_states_and_responses_are_stored_with_the_state_after_the_last_token(stories, tmp_path):
    metrics = collect_trajectories(stories, PROMPTS, PROMPTS, tmp_path, site="final", batch_size=3,
                                   max_new_tokens=9, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "trajectories.jsonl").read_text().splitlines()]
    assert [r["traj_id"] for r in rows] == [0, 1, 2, 3]
    assert all(r["n_states"] == len(r["tokens"]) + 1 for r in rows)
    store = ActivationStore.open(tmp_path / "states")
    assert store.complete and store.n_rows == metrics["n_states"] == sum(r["n_states"] for r in rows)
    states, lengths, _, key = load_trajectories(tmp_path)
    assert key == "final" and lengths.tolist() == [r["n_states"] for r in rows]
    w_u = stories.unembed_matrix().detach()
    for i, r in enumerate(rows):
        s = states[i, : lengths[i]]
        # state t predicts response token t+1 (greedy: the argmax of its logits)
        assert (s[:-1] @ w_u.T).argmax(-1).tolist() == r["tokens"]
        # the last state is the one after the last response token: the same as a fresh forward's last position
        ids, mask = stories.pad([stories.tokenizer(r["prompt"])["input_ids"] + r["tokens"]])
        fresh = capture(stories, ids, mask, ["final"])[interp.final()][0, -1]
        assert torch.allclose(s[-1], fresh, atol=1e-4)


def test_collect_resumes_from_the_committed_prompts(stories, tmp_path):
    from methods.re_control.collect import COLUMNS, STATES

    collect_trajectories(stories, PROMPTS[:2], PROMPTS[:2], tmp_path / "a", batch_size=2, max_new_tokens=5, progress=False)
    full, _, _, _ = load_trajectories(tmp_path / "a")
    # a crashed run: the store holds the first chunk only, its manifest not marked complete
    with ActivationStore.create(tmp_path / "b" / STATES, ["final"], 64, columns=COLUMNS, model=stories.spec,
                                metadata={"n_prompts": 2}, shard_rows=32768) as w:
        gen = interp.generate(stories, PROMPTS[:1], max_new_tokens=5, capture_sites=["final"], progress=False, chat=False)
        s = gen.states[interp.final()][0]
        w.append({"final": s}, {"traj_id": torch.zeros(len(s), dtype=torch.long), "t": torch.arange(len(s)),
                                       "n_states": torch.full((len(s),), len(s))}, items=1)
    (tmp_path / "b" / "responses.parts").mkdir()
    (tmp_path / "b" / "responses.parts" / "00000000.jsonl").write_text(json.dumps({
        "traj_id": 0, "prompt": PROMPTS[0], "rendered_prompt": PROMPTS[0], "response": gen.texts[0],
        "tokens": gen.tokens[0], "n_states": len(s)}) + "\n")
    m = collect_trajectories(stories, PROMPTS[:2], PROMPTS[:2], tmp_path / "b", batch_size=2, max_new_tokens=5, progress=False)
    assert m["n_trajectories"] == 2
    resumed, _, _, _ = load_trajectories(tmp_path / "b")
    assert torch.allclose(resumed, full, atol=1e-5)
