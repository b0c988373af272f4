"""RLHF resumes from the newest TRL checkpoint whose trainer state is whole (a save cut short is passed over)."""
import json

from methods.reward_divergence.rlhf import latest_checkpoint


def test_a_checkpoint_with_a_cut_trainer_state_is_passed_over(tmp_path):
    for step in (2, 4, 6):
        (tmp_path / f"checkpoint-{step}").mkdir()
    (tmp_path / "checkpoint-2" / "trainer_state.json").write_text(json.dumps({"global_step": 2}))
    (tmp_path / "checkpoint-4" / "trainer_state.json").write_text(json.dumps({"global_step": 4})[:9])  # killed mid-write
    # checkpoint-6: killed before its trainer state was written at all
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoint-2"
    (tmp_path / "checkpoint-6" / "trainer_state.json").write_text(json.dumps({"global_step": 6}))
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoint-6"
    assert latest_checkpoint(tmp_path / "none") is None
