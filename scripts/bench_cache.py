"""How long building the light-stage caches takes with 1, 2, … worker processes.

    python scripts/bench_cache.py [--subjects 96] [--envs 1536] [--workers 1,2] [--size 64]

Builds the training split's caches (OLAT stacks and environment bank, as a stage-1 run with
``data.n_subjects`` / ``data.n_envs`` would) into a fresh temporary folder for each worker
count, prints the wall time of each and its speed-up over the first, and checks that every
build wrote the same bytes. The folders are removed afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path


def digest(root: Path) -> str:
    """One hash of every file under ``root`` (names and contents)."""
    h = hashlib.sha1()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=96)
    ap.add_argument("--envs", type=int, default=1536)
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--size", type=int, default=64, help="render size (stage 1 uses 64)")
    args = ap.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    if not counts or min(counts) < 1 or args.subjects < 1 or args.envs < 1:
        ap.error("--subjects, --envs and every --workers count must be at least 1")

    from models.data.dataset import LightStageDataset

    times, digests = [], []
    for w in counts:
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            LightStageDataset(
                tmp,
                "train",
                size=32,
                render_size=args.size,
                n_subjects=args.subjects,
                n_envs=args.envs,
                progress=False,
                prepare_workers=w,
            )
            times.append(time.perf_counter() - t)
            digests.append(digest(Path(tmp)))
        print(
            f"{args.subjects} stacks + {args.envs} environments at {args.size} px, "
            f"{w} worker(s): {times[-1]:.1f} s ({times[0] / times[-1]:.2f}x)",
            flush=True,
        )
    print("same files in every build:", "yes" if len(set(digests)) == 1 else "NO")


if __name__ == "__main__":
    main()
