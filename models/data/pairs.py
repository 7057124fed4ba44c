"""Paired training/evaluation data from the virtual light stage.

A pair is one subject under two lightings over one background:

- input ``composite``: the subject lit by environment A (tone-mapped with A's own exposure, as
  if filmed elsewhere) pasted over background B;
- ``target``: the same subject lit by environment B over background B (B's exposure, shared
  with the background);
- kinds: ``relight`` (A and B independent), ``tint`` (A = B with a colour cast, same exposure:
  only the colour differs) and ``identity`` (A = B: nothing to change).

Everything is a function of ``(seed, index)``: pair ``i`` uses subject ``i // pairs_per_subject``
(so one OLAT stack serves several pairs) drawn from ``default_rng([seed, 1, subject])``, and its
environments and camera from ``default_rng([seed, 2, i])``.

:func:`write_pairs` writes ``OUT/NNN/{composite,mask,background,target}.png``,
``env_src.hdr``, ``env_tgt.hdr`` and ``meta.json``; :func:`write_clip` (from
:mod:`models.data.clips`) writes a moving subject on a green screen.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.data.backgrounds import render_background, sample_view
from models.data.clips import write_clip
from models.data.colour import random_tint
from models.data.compose import composite, jsonable, light_summary, lit_display
from models.data.envmaps import (
    ENV_KINDS,
    Environment,
    light_weights,
    sample_environment,
    save_env,
    to_equirect,
)
from models.data.render import cached_olat
from models.data.subjects import Subject, sample_subject
from models.data.tonemap import auto_exposure, to_uint8, tonemap
from relight_video.errors import InputError
from relight_video.io import write_image

PAIR_KINDS = ("relight", "tint", "identity")

__all__ = ["Pair", "PairConfig", "make_pair", "write_clip", "write_pairs", "PAIR_KINDS"]


@dataclass(frozen=True)
class PairConfig:
    """How pairs are made. ``fractions`` are the shares of relight / tint / identity pairs."""

    size: int = 128
    n_lights: int = 64
    env_height: int = 64
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    pairs_per_subject: int = 4
    env_kinds: tuple[str, ...] = ENV_KINDS
    hdri_split: str | None = None  # captured HDRIs: all (None), or a split's share (train/val)
    exposure_jitter: float = 0.5  # stops, on the composite's foreground only

    def check(self) -> None:
        """Raise :class:`InputError` naming the first bad field."""
        if not 16 <= self.size <= 1024:
            raise InputError(f"size must be in [16, 1024], got {self.size}")
        if not 4 <= self.n_lights <= 4096:
            raise InputError(f"n_lights must be in [4, 4096], got {self.n_lights}")
        if not 4 <= self.env_height <= 1024:
            raise InputError(f"env_height must be in [4, 1024], got {self.env_height}")
        f = np.asarray(self.fractions, float)
        if f.shape != (3,) or (f < 0).any() or f.sum() <= 0:
            raise InputError(f"fractions must be 3 non-negative numbers, got {self.fractions}")
        if self.pairs_per_subject < 1:
            raise InputError(f"pairs_per_subject must be >= 1, got {self.pairs_per_subject}")
        if self.hdri_split not in (None, "train", "val"):
            raise InputError(f"hdri_split must be train or val, got {self.hdri_split!r}")
        bad = [k for k in self.env_kinds if k not in ENV_KINDS]
        if bad or not self.env_kinds:
            raise InputError(f"env_kinds must be among {ENV_KINDS}, got {self.env_kinds}")


@dataclass
class Pair:
    """``composite``, ``background``, ``target``: ``(S, S, 3)`` uint8 sRGB; ``mask``: ``(S, S)``
    uint8; ``env_src``, ``env_tgt``: ``(H, 2H, 3)`` float32 linear (with the environment's
    exposure; multiply by ``meta["exposure_*"]`` for the camera's); ``meta``: JSON-ready dict."""

    composite: np.ndarray
    mask: np.ndarray
    background: np.ndarray
    target: np.ndarray
    env_src: np.ndarray
    env_tgt: np.ndarray
    meta: dict = field(default_factory=dict)


def pair_subject(seed: int, index: int, config: PairConfig) -> Subject:
    """The subject of pair ``index``."""
    j = index // config.pairs_per_subject
    return sample_subject(np.random.default_rng([seed, 1, j]))


def make_pair(
    seed: int, index: int, config: PairConfig = PairConfig(), cache_dir: str | Path | None = None
) -> Pair:
    """Pair ``index`` of the set drawn from ``seed`` (deterministic)."""
    config.check()
    # 1. subject and its light-stage capture
    subject = pair_subject(seed, index, config)
    stack = cached_olat(subject, config.size, config.n_lights, cache_dir)
    dirs = stack.light_dirs
    # 2. environments, plate camera, kind
    rng = np.random.default_rng([seed, 2, index])
    f = np.asarray(config.fractions, float)
    kind = str(rng.choice(PAIR_KINDS, p=f / f.sum()))
    hdris = None
    if config.hdri_split:
        from models.data.dataset import split_hdris  # the dataset imports this module

        hdris = split_hdris(config.hdri_split)
    env_b = sample_environment(rng, config.env_kinds, hdris=hdris)
    view = sample_view(rng)
    map_b = to_equirect(env_b, config.env_height)
    w_b = light_weights(map_b, dirs)
    k_b = auto_exposure(w_b, dirs)
    if kind == "relight":
        env_a = sample_environment(rng, config.env_kinds, hdris=hdris)
        map_a = to_equirect(env_a, config.env_height)
        w_a = light_weights(map_a, dirs)
        jitter = 2.0 ** rng.uniform(-config.exposure_jitter, config.exposure_jitter)
        k_a = auto_exposure(w_a, dirs) * jitter
    elif kind == "tint":
        tint = random_tint(rng, strength=float(rng.uniform(0.5, 1.0)))
        env_a = env_b.tinted(tint)
        map_a = (map_b * tint[None, None]).astype(np.float32)
        w_a = (w_b * tint[None]).astype(np.float32)
        k_a = k_b
    else:
        env_a, map_a, w_a, k_a = env_b, map_b, w_b, k_b
    # 3. relight, tone map, composite
    bg_lin = render_background(env_b, config.size, view)
    bg = tonemap(bg_lin, k_b)
    fg_a = lit_display(stack.olat, w_a, k_a)
    fg_b = fg_a if kind == "identity" else lit_display(stack.olat, w_b, k_b)
    meta = {
        "index": index,
        "seed": seed,
        "kind": kind,
        "size": config.size,
        "n_lights": config.n_lights,
        "subject": subject.to_dict(),
        "env_src": _describe(env_a),
        "env_tgt": _describe(env_b),
        "exposure_src": k_a,
        "exposure_tgt": k_b,
        "view": {"fov": view.fov, "pitch": view.pitch, "defocus": view.defocus},
        "light_src": light_summary(w_a, dirs),
        "light_tgt": light_summary(w_b, dirs),
        "conventions": "see models.data: x right, y up, z to camera; env centre column = -z",
    }
    return Pair(
        composite=to_uint8(composite(fg_a, stack.mask, bg)),
        mask=to_uint8(stack.mask),
        background=to_uint8(bg),
        target=to_uint8(composite(fg_b, stack.mask, bg)),
        env_src=map_a,
        env_tgt=map_b,
        meta=jsonable(meta),
    )


def write_pairs(
    out_dir: str | Path,
    n: int,
    size: int = 128,
    seed: int = 0,
    *,
    cache_dir: str | Path | None = None,
    config: PairConfig | None = None,
    progress: bool = True,
) -> list[Path]:
    """Write ``n`` pairs as ``out_dir/NNN/…`` (see the module docstring); returns the folders.

    Each pair folder is written under a temporary name and renamed when complete.
    """
    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    config = PairConfig(size=size) if config is None else _with_size(config, size)
    config.check()
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"output is not a folder: {out_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    width = max(3, len(str(n - 1)))
    folders = []
    from tqdm import tqdm

    for i in tqdm(range(n), desc="pairs", unit="pair", disable=not progress):
        pair = make_pair(seed, i, config, cache_dir)
        folders.append(save_pair(out_dir / f"{i:0{width}d}", pair))
    return folders


def save_pair(folder: Path, pair: Pair) -> Path:
    """Write one pair's files into ``folder`` atomically (temporary folder, then rename)."""
    tmp = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        write_image(tmp / "composite.png", pair.composite)
        write_image(tmp / "mask.png", pair.mask)
        write_image(tmp / "background.png", pair.background)
        write_image(tmp / "target.png", pair.target)
        save_env(tmp / "env_src.hdr", pair.env_src)
        save_env(tmp / "env_tgt.hdr", pair.env_tgt)
        (tmp / "meta.json").write_text(json.dumps(pair.meta, indent=1, sort_keys=True) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _with_size(config: PairConfig, size: int) -> PairConfig:
    import dataclasses

    return dataclasses.replace(config, size=int(size))


def _describe(env: Environment) -> dict:
    return env.describe()
