"""Throughput of the virtual light stage: OLAT stacks per minute, pairs per second.

``python -m models.data.bench`` (or ``relight-video synth bench``) prints the figures.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np


def measure_throughput(
    root: str | Path | None = None,
    size: int = 128,
    n_lights: int = 64,
    n_stacks: int = 3,
    n_pairs: int = 200,
    n_subjects: int = 12,
    workers: int = 0,
    progress: bool = False,
) -> dict[str, float]:
    """Time OLAT rendering and on-the-fly pair generation.

    - ``seconds_per_stack`` / ``stacks_per_minute``: fresh renders of ``n_stacks`` subjects;
    - ``pairs_per_second``: :class:`~models.data.dataset.LightStageDataset` items in shuffled
      order from ``n_subjects`` cached stacks (more than its in-memory stack cache holds), in
      this process (``workers = 0``) or through a DataLoader with ``workers`` processes;
    - ``prepare_seconds``: building that dataset's caches (stacks + environment bank).
    """
    import torch

    from models.data.dataset import LightStageDataset
    from models.data.render import render_olat
    from models.data.subjects import sample_subject

    torch.set_num_threads(1)
    rng = np.random.default_rng(12345)
    t = time.perf_counter()
    for _ in range(n_stacks):
        render_olat(sample_subject(rng), size, n_lights)
    per_stack = (time.perf_counter() - t) / n_stacks

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(root) if root is not None else Path(tmp)
        t = time.perf_counter()
        ds = LightStageDataset(
            root,
            "train",
            size=size,
            n_subjects=n_subjects,
            n_envs=32,
            n_lights=n_lights,
            progress=progress,
        )
        prepare = time.perf_counter() - t
        order = np.random.default_rng(0).permutation(len(ds))[:n_pairs]
        ds[int(order[0])]  # warm up
        t = time.perf_counter()
        if workers > 0:
            loader = torch.utils.data.DataLoader(
                torch.utils.data.Subset(ds, order.tolist()), batch_size=16, num_workers=workers
            )
            count = sum(b["composite"].shape[0] for b in loader)
        else:
            count = sum(1 for i in order if ds[int(i)] is not None)
        pairs_s = count / (time.perf_counter() - t)
    return {
        "size": size,
        "n_lights": n_lights,
        "seconds_per_stack": per_stack,
        "stacks_per_minute": 60.0 / per_stack,
        "pairs_per_second": pairs_s,
        "prepare_seconds": prepare,
        "workers": workers,
    }


def format_throughput(r: dict[str, float]) -> str:
    where = "in process" if not r["workers"] else f"{r['workers']} workers"
    return (
        f"OLAT stack {r['size']} px x {r['n_lights']} lights: {r['seconds_per_stack']:.2f} s "
        f"({r['stacks_per_minute']:.1f} stacks/min)\n"
        f"pairs from cached stacks: {r['pairs_per_second']:.1f} pairs/s "
        f"({where})\n"
        f"cache build (stacks + env bank): {r['prepare_seconds']:.1f} s"
    )


if __name__ == "__main__":
    print(format_throughput(measure_throughput(progress=True)))
