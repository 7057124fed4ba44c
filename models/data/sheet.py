"""Contact sheets of synthetic pairs, for looking at the data.

One row per pair: composite | target | background | mask | environments (source above target,
each tone-mapped with the exposure of the image it lights). Rows are laid out in ``columns``
columns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.data.pairs import Pair, PairConfig, make_pair
from models.data.tonemap import to_uint8, tonemap
from relight_video.io import write_image


def pair_row(pair: Pair) -> np.ndarray:
    """One pair as a ``(S, 5S, 3)`` uint8 strip."""
    import cv2

    s = pair.composite.shape[0]
    envs = []
    for env, k in (
        (pair.env_src, pair.meta["exposure_src"]),
        (pair.env_tgt, pair.meta["exposure_tgt"]),
    ):
        img = to_uint8(tonemap(env, k))
        envs.append(cv2.resize(img, (s, s // 2), interpolation=cv2.INTER_AREA))
    env_cell = np.concatenate(envs, 0)
    if env_cell.shape[0] < s:
        env_cell = np.pad(env_cell, ((0, s - env_cell.shape[0]), (0, 0), (0, 0)))
    mask = np.repeat(pair.mask[..., None], 3, -1)
    return np.concatenate([pair.composite, pair.target, pair.background, mask, env_cell], 1)


def contact_sheet(pairs: list[Pair], columns: int = 2, gap: int = 4) -> np.ndarray:
    """Rows of :func:`pair_row` arranged in ``columns`` → ``(H, W, 3)`` uint8."""
    rows = [pair_row(p) for p in pairs]
    per_col = -(-len(rows) // columns)
    h, w = rows[0].shape[:2]
    out = np.full((per_col * (h + gap) - gap, columns * (w + gap) - gap, 3), 255, np.uint8)
    for i, r in enumerate(rows):
        c, k = divmod(i, per_col)
        out[k * (h + gap) : k * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = r
    return out


def write_sheet(
    path: str | Path,
    n: int = 16,
    size: int = 128,
    seed: int = 0,
    *,
    cache_dir: str | Path | None = None,
    config: PairConfig | None = None,
    progress: bool = True,
) -> Path:
    """Make ``n`` pairs and write their contact sheet PNG to ``path``."""
    import dataclasses

    from tqdm import tqdm

    config = dataclasses.replace(config or PairConfig(), size=size)
    config.check()
    pairs = [
        make_pair(seed, i, config, cache_dir)
        for i in tqdm(range(n), desc="sheet", unit="pair", disable=not progress)
    ]
    path = Path(path)
    write_image(path, contact_sheet(pairs, columns=2 if n > 4 else 1))
    return path
