"""A collection job run in a subprocess by the store tests (kill/resume, peak memory, two ranks).

    python store_job.py OUT --n-texts 200 [--shard-rows 2048] [--report rss.json]
Under `accelerate launch` / torchrun each process collects its share into OUT.
"""
from __future__ import annotations

import argparse
import json
import random
import threading
import time

SITES = ["resid_post.0", "resid_post.1", "resid_post.2", "resid_post.3", "final"]
# every site of tiny-random-llama: 17 x 64 floats = 4.3 KB per token, so a few seconds of compute write
# hundreds of MB (the memory test needs data comparable to the process's own RSS)
ALL_SITES = [f"{k}.{l}" for k in ("resid_pre", "attn_out", "mlp_out", "resid_post") for l in range(4)] + ["final"]
_WORDS = ("the cat sat on a mat while rain fell over quiet hills and small birds sang of "
          "bright mornings lost ships old stories green rivers tired kings").split()


def make_texts(n: int, seed: int = 0) -> list[str]:
    """Deterministic texts of 10..40 words (~60..250 byte tokens each)."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(10, 40))) for _ in range(n)]


class PeakRSS:
    """This process's peak RSS over the `with` body.

    On Linux the kernel's own high-water mark: writing 5 to /proc/self/clear_refs resets VmHWM to
    the current RSS, and VmHWM at exit is the exact peak (a sampler misses short peaks and catches
    more of them the longer a job runs, which biases a comparison of a short and a long job).
    Elsewhere, psutil sampled every few ms.
    """

    def __init__(self, every_s: float = 0.002) -> None:
        import psutil

        self.proc, self.every, self.peak = psutil.Process(), every_s, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.exact = False

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.every)

    def __enter__(self) -> "PeakRSS":
        self.exact = _reset_high_water_mark()
        if not self.exact:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.exact:
            self.peak = _high_water_mark()
            return
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def _reset_high_water_mark() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _high_water_mark() > 0
    except OSError:
        return False


def _high_water_mark() -> int:
    """VmHWM of /proc/self/status in bytes (0 when absent)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--n-texts", type=int, default=200)
    p.add_argument("--shard-rows", type=int, default=2048)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--split", default="contiguous")
    p.add_argument("--per-token", type=int, default=1)
    p.add_argument("--all-sites", action="store_true", help="capture all 17 sites instead of SITES")
    p.add_argument("--report", default=None, help="write peak RSS and row counts here (JSON)")
    args = p.parse_args()

    import os

    import torch

    torch.set_num_threads(1)
    from interp.models import load_model
    from interp.store import collect
    from interp.store.manifest import read_manifests

    model = load_model("tiny-random-llama", device="cpu")
    texts = make_texts(args.n_texts)
    import psutil

    resumed_from = sum(m.items_done for m in read_manifests(args.out)) if os.path.isdir(args.out) else 0
    before = psutil.Process().memory_info().rss
    t0 = time.time()
    with PeakRSS() as rss:
        store = collect(model, texts, ALL_SITES if args.all_sites else SITES, args.out, batch_size=args.batch_size, shard_rows=args.shard_rows,
                        per_token=bool(args.per_token), split=args.split, progress=False)
    seconds = time.time() - t0
    if args.report and store.manifests and int(os.environ.get("RANK", "0")) == 0:
        with PeakRSS() as read_rss:
            n = sum(len(b["seq_id"]) for b in store.iter_batches(4096, shuffle=True, seed=0))
        assert n == store.n_rows
        with open(args.report, "w") as f:
            json.dump({"peak_rss": rss.peak, "rss_before_collect": before, "read_peak_rss": read_rss.peak,
                       "exact_peak": rss.exact,
                       "rows": store.n_rows, "shards": store.n_shards, "seconds": seconds,
                       "resumed_from": resumed_from,
                       "bytes": sum((store.path / s.file).stat().st_size for s in store.shard_files())}, f)


if __name__ == "__main__":
    main()
