"""Training pairs read from a folder in the ``synth pairs`` / ``eval`` layout:
``ROOT/NNN/{composite,mask,background,target}.png``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from relight_video import io
from relight_video.errors import InputError
from relight_video.matte import alpha_from_image

FILES = ("composite", "mask", "background", "target")


class PairFolder(torch.utils.data.Dataset):
    """Yields dicts of tensors: ``composite, background, target (3, S, S)`` in [-1, 1] and
    ``mask (1, S, S)`` in [0, 1], resized to ``size``; random horizontal flips when ``flip``."""

    def __init__(self, root: str | Path, size: int, flip: bool = False, cache: bool = True):
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"pairs folder not found: {self.root}")
        self.cases = sorted(
            p for p in self.root.iterdir() if all((p / f"{f}.png").is_file() for f in FILES)
        )
        if not self.cases:
            raise InputError(f"no complete cases ({', '.join(FILES)}.png) under {self.root}")
        self.size, self.flip = size, flip
        self._cache: dict[int, dict] = {} if cache else None

    def __len__(self) -> int:
        return len(self.cases)

    def _load(self, i: int) -> dict[str, torch.Tensor]:
        import cv2

        if self._cache is not None and i in self._cache:
            return self._cache[i]
        out = {}
        for name in FILES:
            img = io.read_image(self.cases[i] / f"{name}.png")
            if name == "mask":
                a = cv2.resize(alpha_from_image(img), (self.size, self.size), cv2.INTER_AREA)
                out[name] = torch.from_numpy(a)[None]
            else:
                x = io._to_channels(img, 3)
                x = cv2.resize(x, (self.size, self.size), interpolation=cv2.INTER_AREA)
                x = torch.from_numpy(x.astype(np.float32) / 127.5 - 1).permute(2, 0, 1)
                out[name] = x.contiguous()
        if self._cache is not None:
            self._cache[i] = out
        return out

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = self._load(i)
        if self.flip and torch.rand(()) < 0.5:
            item = {k: v.flip(-1) for k, v in item.items()}
        return item


def make_dataset(data, size: int, seed: int = 0, progress: bool = True):
    """The training dataset a :class:`~models.train.config.DataConfig` names, at ``size`` px."""
    if data.source == "folder":
        if not data.pairs:
            raise InputError("data.pairs: give a training pairs folder (relight-video synth pairs)")
        return PairFolder(data.pairs, size, flip=data.flip)
    if data.source != "lightstage":
        raise InputError(f"data.source: expected lightstage or folder, got {data.source!r}")
    from models.data.dataset import LightStageDataset

    return LightStageDataset(
        data.root,
        "train",
        size=size,
        render_size=max(size, data.render_size),
        n_subjects=data.n_subjects,
        n_envs=data.n_envs,
        pairs_per_epoch=data.pairs_per_epoch,
        n_lights=data.n_lights,
        seed=seed,
        augment=data.flip,
        progress=progress,
        prepare_workers=data.cache_workers or os.cpu_count() or 1,
    )
