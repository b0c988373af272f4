"""RE-Control collect, label and train-value through the `interp` CLI, in one process of a launch.

    accelerate launch --num_processes 2 tests/interp/multiprocess_job.py --run R --runs DIR [flags]
(the same as three `accelerate launch -m app.cli re-control STEP ...` commands, paying the start-up once).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project root, when run as a script


def main() -> int:
    import torch

    from app.cli import main as cli

    torch.set_num_threads(1)
    for step in ("collect", "label", "train-value"):
        rc = cli(["re-control", step, *sys.argv[1:]])
        if rc:
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main())
