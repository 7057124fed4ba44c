"""A torch dataset of light-stage pairs made on the fly from cached OLAT stacks.

Per split the dataset owns a set of subjects (OLAT stacks cached under ``root/stacks``) and an
environment bank (``root/envbank-*.npz``: equirectangular maps, their light-stage weights and a
linear background plate per entry, :func:`build_env_bank`). Drawing a pair costs a few
milliseconds: two light-stage sums (one matrix product), three tone mappings, crops.

Pair recipe (as :mod:`models.data.pairs`): target = subject lit by bank entry B over B's plate;
composite = subject lit by A over B's plate, where A is another entry turned by a random yaw
(``relight``), B with a colour cast (``tint``) or B itself (``identity``). Augmentations (train
split only): a mild tint of B (applied to its map and plate alike), the composite's exposure
jitter, a random crop (80–100 %) and horizontal flip applied to every image, with the env maps
mirrored to match (a mirrored subject under a mirrored environment is the mirrored image), and
colour jitter of the composite's foreground only (the target stays physically lit).

Splits: ``val`` uses a fixed seed (:data:`VAL_SEED`), whatever the training seed, for its
subjects, environment bank and pairs; subject ids are checked disjoint from the training ones,
environment streams are independent, and the captured HDRIs are split by name (every fourth
file, sorted, is validation-only).

Items: ``composite``, ``target``, ``background`` ``(3, S, S)`` float32 in [−1, 1]; ``mask``
``(1, S, S)`` in [0, 1]; ``env_src``, ``env_tgt`` ``(3, h, w)`` (default 32 × 64)
log-encoded (:func:`models.data.envmaps.log_encode`) after the exposure of the image each one
lights; ``kind`` (0 relight, 1 tint, 2 identity) and ``subject`` (index) as ints.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from models.data.backgrounds import render_background, sample_view
from models.data.colour import random_tint
from models.data.envmaps import (
    ENV_KINDS,
    find_hdris,
    light_weights,
    log_encode,
    rotate_env,
    sample_environment,
    to_equirect,
)
from models.data.pairs import PAIR_KINDS
from models.data.render import RENDER_VERSION, load_stack, render_olat, stack_path
from models.data.sphere import fibonacci_sphere
from models.data.subjects import Subject, sample_subject
from models.data.tonemap import auto_exposure, tonemap
from relight_video.errors import InputError

VAL_SEED = 914_207_311
BANK_VERSION = 1
# smaller caches render in-process: a spawned worker takes a few seconds to import torch
POOL_MIN_STACKS, POOL_MIN_ENVS = 16, 1024


def split_hdris(split: str, hdris: list[Path] | None = None) -> list[Path]:
    """The captured HDRIs a split may use: every fourth (sorted by name) is validation's."""
    files = sorted(find_hdris() if hdris is None else hdris, key=lambda p: p.name)
    val = files[::4]
    return val if split == "val" else [p for p in files if p not in val]


def split_seed(split: str, seed: int) -> int:
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    return VAL_SEED if split == "val" else int(seed)


def split_subjects(split: str, n: int, seed: int = 0) -> list[Subject]:
    """The ``n`` subjects of a split (deterministic)."""
    s = split_seed(split, seed)
    tag = 11 if split == "train" else 12
    return [sample_subject(np.random.default_rng([s, tag, j])) for j in range(n)]


# ------------------------------------------------------------------------------ env bank


def build_env_bank(
    n: int,
    size: int,
    light_dirs: np.ndarray,
    rng: np.random.Generator,
    *,
    env_height: int = 64,
    kinds: tuple[str, ...] = ENV_KINDS,
    hdris: list[Path] | None = None,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """``n`` environments: ``maps (n, H, 2H, 3)`` float32, ``weights (n, L, 3)`` float32,
    ``backgrounds (n, S, S, 3)`` float16 linear plates, ``describe`` (n,) JSON strings."""
    from tqdm import tqdm

    maps = np.zeros((n, env_height, 2 * env_height, 3), np.float32)
    bgs = np.zeros((n, size, size, 3), np.float16)
    desc = []
    for i in tqdm(range(n), desc="env bank", unit="env", disable=not progress):
        env = sample_environment(rng, kinds, hdris=hdris)
        view = sample_view(rng)
        maps[i] = to_equirect(env, env_height, supersample=2)
        bgs[i] = np.minimum(render_background(env, size, view), 6e4)
        desc.append(json.dumps({"env": env.describe(), "view": view.__dict__}, default=float))
    weights = np.stack([light_weights(m, light_dirs) for m in maps])
    return {"maps": maps, "weights": weights, "backgrounds": bgs, "describe": np.array(desc)}


# ------------------------------------------------------------------------------ dataset


class LightStageDataset(torch.utils.data.Dataset):
    """Pairs drawn on the fly (see the module docstring).

    ``root``: cache folder; ``size``: output size S; ``render_size``: size of the cached stacks
    and plates (default S); ``n_subjects`` / ``n_envs``: per split (defaults 64 / 256 for train,
    16 / 64 for val); ``pairs_per_epoch``: the length (default 16 per subject); ``seed``: the
    training seed (ignored by ``val``); ``augment``: default on for train, off for val;
    ``prepare_workers``: processes that build missing caches (:meth:`prepare`).
    Call :meth:`set_epoch` to draw new training pairs each epoch.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        size: int = 128,
        render_size: int | None = None,
        n_subjects: int | None = None,
        n_envs: int | None = None,
        pairs_per_epoch: int | None = None,
        n_lights: int = 64,
        seed: int = 0,
        env_size: tuple[int, int] = (32, 64),
        fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
        augment: bool | None = None,
        env_kinds: tuple[str, ...] = ENV_KINDS,
        progress: bool = True,
        max_cached_stacks: int = 8,
        prepare_workers: int = 1,
    ):
        # 1. check inputs
        self.split = split
        self.seed = split_seed(split, seed)
        if size < 8 or (render_size is not None and render_size < size):
            raise ValueError(f"size must be >= 8 and render_size >= size, got {size}/{render_size}")
        f = np.asarray(fractions, float)
        if f.shape != (3,) or (f < 0).any() or f.sum() <= 0:
            raise ValueError(f"fractions must be 3 non-negative numbers, got {fractions}")
        self.root = Path(root)
        self.size, self.render_size = size, render_size or size
        self.n_subjects = n_subjects or (64 if split == "train" else 16)
        self.n_envs = n_envs or (256 if split == "train" else 64)
        self.length = pairs_per_epoch or 16 * self.n_subjects
        self.n_lights = n_lights
        self.light_dirs = fibonacci_sphere(n_lights)
        self.env_size = env_size
        self.fractions = f / f.sum()
        self.augment = (split == "train") if augment is None else augment
        self.env_kinds = env_kinds
        self.epoch = 0
        self._stacks: OrderedDict[int, tuple[torch.Tensor, np.ndarray]] = OrderedDict()
        self._max_cached = max_cached_stacks
        # 2. subjects (disjoint from the other split) and caches
        self.subjects = split_subjects(split, self.n_subjects, seed)
        if split == "train":
            val_ids = {s.subject_id for s in split_subjects("val", 16)}
            clash = [s.subject_id for s in self.subjects if s.subject_id in val_ids]
            if clash:
                raise RuntimeError(f"training subjects collide with validation: {clash}")
        self.prepare(progress, prepare_workers)

    # -- caches ---------------------------------------------------------------------------
    def _bank_path(self) -> Path:
        key = json.dumps(
            [
                self.split,
                self.seed,
                self.n_envs,
                self.render_size,
                self.n_lights,
                list(self.env_kinds),
                [p.name for p in split_hdris(self.split)],
                BANK_VERSION,
                RENDER_VERSION,
            ]
        )
        h = hashlib.sha1(key.encode()).hexdigest()[:12]
        return self.root / f"envbank-{self.split}-{h}.npz"

    def _cm_path(self, j: int) -> Path:
        """Channel-major float16 OLAT ``(3, L, R·R)`` of subject ``j`` (memory-mapped)."""
        return self._npz_path(j).with_suffix(".cm.npy")

    def _mask_path(self, j: int) -> Path:
        return self._npz_path(j).with_suffix(".mask.npy")

    def _npz_path(self, j: int) -> Path:
        return stack_path(self.root / "stacks", self.subjects[j], self.render_size, self.n_lights)

    def prepare(self, progress: bool = True, workers: int = 1) -> None:
        """Render missing OLAT stacks and the environment bank (cached under ``root``).

        ``workers > 1`` renders them (from :data:`POOL_MIN_STACKS` stacks or
        :data:`POOL_MIN_ENVS` environments) in that many spawned processes: the bank (one sequential
        draw, so the same bank either way) in one, the stacks in chunks across all of them.
        Every file is written under a temporary name and renamed, so an interrupted run
        leaves only finished files and the next one renders what is missing."""
        from tqdm import tqdm

        self.root.mkdir(parents=True, exist_ok=True)
        missing = [j for j in range(self.n_subjects) if not self._cm_path(j).is_file()]
        stacks = [
            (self.subjects[j], self._npz_path(j), self._cm_path(j), self._mask_path(j))
            for j in missing
        ]
        path = self._bank_path()
        bank = None
        if not path.is_file():
            bank = dict(
                path=path,
                n=self.n_envs,
                size=self.render_size,
                light_dirs=self.light_dirs,
                seed=[self.seed, 21 if self.split == "train" else 22],
                kinds=self.env_kinds,
                hdris=split_hdris(self.split),
            )
        render = (self.render_size, self.light_dirs)
        if workers > 1 and (
            len(stacks) >= POOL_MIN_STACKS or (bank and bank["n"] >= POOL_MIN_ENVS)
        ):
            _prepare_in_pool(stacks, bank, render, workers, progress, self.split)
        else:
            for item in tqdm(stacks, desc=f"{self.split} OLAT stacks", disable=not progress):
                _write_stacks([item], *render)
            if bank is not None:
                _write_bank(**bank, progress=progress)
        with np.load(path) as z:
            self.maps, self.weights = z["maps"], z["weights"]
            self.backgrounds = z["backgrounds"]

    def _stack(self, j: int) -> tuple[torch.Tensor, np.ndarray]:
        """Subject ``j``: OLAT ``(3, L, P)`` float32 tensor and mask ``(R, R)``."""
        if j in self._stacks:
            self._stacks.move_to_end(j)
            return self._stacks[j]
        cm = np.load(self._cm_path(j), mmap_mode="r")
        olat = torch.from_numpy(np.array(cm)).float()
        mask = np.load(self._mask_path(j))
        self._stacks[j] = (olat, mask)
        if len(self._stacks) > self._max_cached:
            self._stacks.popitem(last=False)
        return olat, mask

    # -- items ----------------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Draw different training pairs for each epoch (validation stays fixed)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict:
        if not 0 <= i < self.length:
            raise IndexError(i)
        epoch = self.epoch if self.split == "train" else 0
        rng = np.random.default_rng([self.seed, 31, epoch, i])
        j = i % self.n_subjects
        olat, mask = self._stack(j)
        kind = int(rng.choice(len(PAIR_KINDS), p=self.fractions))  # index into PAIR_KINDS
        # 1. environments (B: target + plate; A: source)
        b = int(rng.integers(self.n_envs))
        map_b, w_b = self.maps[b], self.weights[b]
        bg_lin = self.backgrounds[b].astype(np.float32)
        if self.augment and rng.random() < 0.3:
            t = random_tint(rng, strength=0.3)
            map_b, w_b, bg_lin = map_b * t, w_b * t, bg_lin * t
        k_b = auto_exposure(w_b, self.light_dirs)
        if kind == 0:
            a = (b + 1 + int(rng.integers(self.n_envs - 1))) % self.n_envs if self.n_envs > 1 else b
            map_a = rotate_env(self.maps[a], float(rng.uniform(-180, 180)))
            if self.augment and rng.random() < 0.3:
                map_a = map_a * random_tint(rng, strength=0.5)
            w_a = light_weights(map_a, self.light_dirs)
            k_a = auto_exposure(w_a, self.light_dirs) * 2.0 ** rng.uniform(-0.5, 0.5)
        elif kind == 1:
            t = random_tint(rng, strength=float(rng.uniform(0.5, 1.0)))
            map_a, w_a, k_a = map_b * t, w_b * t, k_b
        else:
            map_a, w_a, k_a = map_b, w_b, k_b
        # 2. light-stage sums for A and B at once: (2, 3, 1, L) @ (3, L, P)
        w = torch.from_numpy(np.stack([w_a, w_b]).astype(np.float32)).permute(0, 2, 1)[:, :, None]
        lit = torch.matmul(w, olat[None]).squeeze(2).permute(0, 2, 1).numpy()  # (2, P, 3)
        r = self.render_size
        fg_a = tonemap(lit[0].reshape(r, r, 3), k_a)
        fg_b = tonemap(lit[1].reshape(r, r, 3), k_b)
        bg = tonemap(bg_lin, k_b)
        if self.augment and rng.random() < 0.5:
            fg_a = _colour_jitter(fg_a, rng)
        alpha = mask[..., None]
        comp = fg_a * alpha + bg * (1 - alpha)
        tgt = fg_b * alpha + bg * (1 - alpha)
        # 3. geometry augmentation and resizing
        imgs = np.concatenate([comp, tgt, bg, alpha], -1)  # (R, R, 10)
        flip = bool(self.augment and rng.random() < 0.5)
        imgs = self._crop_resize(imgs, rng, flip)
        env_a = self._env_tensor(map_a, k_a, flip)
        env_b = self._env_tensor(map_b, k_b, flip)
        x = torch.from_numpy(np.ascontiguousarray(imgs.transpose(2, 0, 1)))
        return {
            "composite": x[0:3] * 2 - 1,
            "target": x[3:6] * 2 - 1,
            "background": x[6:9] * 2 - 1,
            "mask": x[9:10].clamp(0, 1),
            "env_src": env_a,
            "env_tgt": env_b,
            "kind": kind,
            "subject": j,
        }

    def _crop_resize(self, imgs: np.ndarray, rng: np.random.Generator, flip: bool) -> np.ndarray:
        import cv2

        r, s = imgs.shape[0], self.size
        if self.augment:
            c = int(round(r * rng.uniform(0.8, 1.0)))
            y0, x0 = int(rng.integers(0, r - c + 1)), int(rng.integers(0, r - c + 1))
            imgs = imgs[y0 : y0 + c, x0 : x0 + c]
        if flip:
            imgs = imgs[:, ::-1]
        out = np.empty((s, s, imgs.shape[2]), np.float32)
        interp = cv2.INTER_AREA if imgs.shape[0] > s else cv2.INTER_LINEAR
        for k in range(0, imgs.shape[2], 4):  # OpenCV resizes at most 4 channels at a time
            part = np.ascontiguousarray(imgs[..., k : k + 4])
            res = cv2.resize(part, (s, s), interpolation=interp) if part.shape[0] != s else part
            out[..., k : k + 4] = res.reshape(s, s, -1)
        return out

    def _env_tensor(self, env: np.ndarray, exposure: float, flip: bool) -> torch.Tensor:
        import cv2

        h, w = self.env_size
        small = cv2.resize(np.ascontiguousarray(env), (w, h), interpolation=cv2.INTER_AREA)
        if flip:  # x → −x is a reversal of the columns (φ → −φ)
            small = small[:, ::-1]
        enc = log_encode(small, scale=exposure)
        return torch.from_numpy(np.ascontiguousarray(enc.transpose(2, 0, 1)))


def _colour_jitter(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Brightness, saturation and per-channel gain jitter on display values ``(H, W, 3)``."""
    grey = img.mean(-1, keepdims=True)
    sat = rng.uniform(0.75, 1.25)
    out = grey + (img - grey) * sat
    out = out * rng.uniform(0.8, 1.2) * rng.uniform(0.93, 1.07, 3).astype(np.float32)
    return np.clip(out, 0, 1).astype(np.float32)


def _write_stacks(items: list, size: int, light_dirs: np.ndarray) -> int:
    """Render and save the channel-major stack and mask of each ``(subject, npz, cm, mask)``
    (a stack already cached by ``write_pairs`` as ``npz`` is reused); returns the count."""
    for subject, npz, cm_path, mask_path in items:
        if not npz.is_file():
            st = render_olat(subject, size, light_dirs)
        else:
            try:
                st = load_stack(npz)
            except Exception as e:  # truncated or foreign file: say which, and what to do
                raise InputError(
                    f"cached stack {npz} is unreadable ({type(e).__name__}): delete it to render"
                    " it again"
                ) from None
        cm = st.olat.reshape(len(light_dirs), -1, 3).transpose(2, 0, 1).astype(np.float16)
        _save_npy(mask_path, st.mask)
        _save_npy(cm_path, np.ascontiguousarray(cm))  # written last: it marks the stack done
    return len(items)


def _write_bank(path: Path, n: int, size: int, light_dirs, seed, kinds, hdris, progress=False):
    """Build an environment bank and save it to ``path`` (temporary name, then renamed)."""
    bank = build_env_bank(
        n,
        size,
        light_dirs,
        np.random.default_rng(seed),
        kinds=kinds,
        hdris=hdris,
        progress=progress,
    )
    tmp = path.with_name(f".{path.name}.partial.npz")
    np.savez(tmp, **bank)
    tmp.replace(path)
    return 1


def _prepare_in_pool(stacks: list, bank: dict | None, render, workers: int, progress, split):
    """Render ``stacks`` (in chunks) and ``bank`` (one task, submitted first: the longest) in
    ``workers`` spawned processes, one compute thread each, with one progress bar."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm import tqdm

    chunk = max(1, min(32, len(stacks) // (4 * workers) or 1))
    threads = {k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    saved = {k: os.environ.get(k) for k in threads}
    os.environ.update({k: v for k, v in threads.items() if saved[k] is None})  # a user's stands
    try:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = [pool.submit(_write_bank, **bank)] if bank is not None else []
            futures += [
                pool.submit(_write_stacks, stacks[i : i + chunk], *render)
                for i in range(0, len(stacks), chunk)
            ]
            desc = f"{split} OLAT stacks" + (" + env bank" if bank is not None else "")
            total = len(stacks) + (bank is not None)
            with tqdm(total=total, desc=desc, disable=not progress) as bar:
                try:
                    for future in as_completed(futures):
                        bar.update(future.result())  # a worker's error is raised here
                except BaseException:
                    for future in futures:
                        future.cancel()
                    raise
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)


def _save_npy(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial.npy")
    np.save(tmp, arr)
    tmp.replace(path)
