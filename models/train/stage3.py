"""Stage 3: finetuning for photorealism on pairs simulated from natural photos (Relightful
Harmonization §3.3).

The light stage's subjects are renders; real footage is not. Stage 3 lets the stage-2 model make
its own training pairs from real photos of people:

1. each photo's subject (its mask: a ``NAME.mask.png`` beside it, the photo's alpha channel, or
   ``--matte person``) is relit by the stage-2 model under a random HDR environment, through the
   env-map branch, and composited back on the photo's own background: the *input*;
2. the untouched photo is the *target*; the background plate the model reads is the photo with
   the subject inpainted away (the plate must not show the answer);
3. the background branch (and the aligner) are finetuned on these pairs mixed with light-stage
   pairs (``stage3.sim_share`` of each batch), the denoiser and env-map branch frozen.

So the model learns to map "a subject whose light does not match" to a *real* photo, whose
skin, hair and camera look no renderer made.

    relight-video train stage3 --config configs/train/stage3.yaml --photos data/photos
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from models.train.config import TrainConfig
from models.train.data import FILES, PairFolder, make_dataset
from models.train.stage1 import build_models, diffusion_loss, export, fit, make_scheduler
from relight_video import io
from relight_video.errors import InputError
from relight_video.matte import alpha_from_image
from relight_video.networks import RelightNet

PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


# ------------------------------------------------------------------------------ photos


def load_photos(
    folder: str | Path, matte: str | None = None
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``[(name, photo (H, W, 3) uint8, alpha (H, W) float32)]`` from a folder of photos with
    masks (``NAME.mask.png``), RGBA images, or (with ``matte="person"``) plain photos."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"photos folder not found: {folder}")
    files = sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() in PHOTO_SUFFIXES and not p.stem.endswith(".mask")
    )
    if not files:
        raise InputError(f"no photos ({', '.join(PHOTO_SUFFIXES)}) in {folder}")
    if matte not in (None, "person"):
        raise InputError(f"matte: expected 'person', got {matte!r}")
    segmenter = None
    out = []
    for p in files:
        img = io.read_image(p)
        photo = io._to_channels(img, 3)
        mask_file = p.with_name(f"{p.stem}.mask.png")
        if mask_file.is_file():
            m = io.read_image(mask_file)
            if m.shape[:2] != photo.shape[:2]:
                raise InputError(f"{mask_file}: size {m.shape[1]}x{m.shape[0]} != photo's")
            alpha = alpha_from_image(m)
        elif img.ndim == 3 and img.shape[2] == 4:
            alpha = img[..., 3].astype(np.float32) / 255.0
        elif matte == "person":
            if segmenter is None:
                from relight_video.person_matte import PersonMatte

                segmenter = PersonMatte(smooth=0.0)
            segmenter.reset()
            alpha = segmenter(photo)
        else:
            raise InputError(
                f"{p}: no mask ({mask_file.name}), no alpha channel; give --matte person"
            )
        if alpha.mean() < 0.01:
            raise InputError(f"{p}: the mask is (nearly) empty")
        out.append((p.stem, photo, alpha.astype(np.float32)))
    return out


def square_crop(
    photo: np.ndarray, alpha: np.ndarray, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A random square crop holding the subject's bounding box (jittered in scale and place),
    resized to ``size`` → ``(photo (S, S, 3) uint8, alpha (S, S) float32)``."""
    import cv2

    h, w = alpha.shape
    ys, xs = np.nonzero(alpha > 0.5)
    y0, y1, x0, x1 = (ys.min(), ys.max(), xs.min(), xs.max()) if len(ys) else (0, h, 0, w)
    side = int(min(min(h, w), max(y1 - y0, x1 - x0) * rng.uniform(1.1, 1.6) + 8))
    cy = (y0 + y1) / 2 + rng.uniform(-0.1, 0.1) * side
    cx = (x0 + x1) / 2 + rng.uniform(-0.1, 0.1) * side
    top = int(np.clip(cy - side / 2, 0, h - side))
    left = int(np.clip(cx - side / 2, 0, w - side))
    crop = photo[top : top + side, left : left + side]
    a = alpha[top : top + side, left : left + side]
    if rng.random() < 0.5:
        crop, a = crop[:, ::-1], a[:, ::-1]
    crop = cv2.resize(np.ascontiguousarray(crop), (size, size), interpolation=cv2.INTER_AREA)
    a = cv2.resize(np.ascontiguousarray(a), (size, size), interpolation=cv2.INTER_AREA)
    return crop, np.clip(a, 0, 1).astype(np.float32)


def remove_subject(photo: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The photo with its subject inpainted away (Telea 2004, OpenCV) on a dilated mask: the
    plate the model reads must show the scene's light, not the answer."""
    import cv2

    hole = (alpha > 0.02).astype(np.uint8)
    r = max(1, round(0.03 * max(photo.shape[:2])))
    hole = cv2.dilate(hole, np.ones((2 * r + 1, 2 * r + 1), np.uint8))
    return cv2.inpaint(photo, hole * 255, max(3, 2 * r), cv2.INPAINT_TELEA)


# ------------------------------------------------------------------------------ simulation


def simulate_pair(
    pipe,
    photo: np.ndarray,
    alpha: np.ndarray,
    env: np.ndarray,
    steps: int = 8,
    generator: torch.Generator | None = None,
) -> dict[str, np.ndarray]:
    """One simulated pair: the photo's subject relit under ``env`` (a linear equirect map) by
    the env-map branch, composited back on the photo.

    Returns uint8 ``composite`` (the input: differs from the photo only where ``alpha > 0``),
    ``target`` (the photo itself), ``background`` (subject removed) and ``mask``.
    """
    # the pipeline composites over the background it is given (the photo): its output is
    # already photo + change·alpha
    relit = pipe(photo, alpha, photo, env_map=env, num_inference_steps=steps, generator=generator)
    comp = (np.clip(relit[0], 0, 1) * 255 + 0.5).astype(np.uint8)
    comp[alpha <= 0] = photo[alpha <= 0]  # exact outside the subject (no float round trip)
    return {
        "composite": comp,
        "target": photo.copy(),
        "background": remove_subject(photo, alpha),
        "mask": (np.clip(alpha, 0, 1) * 255 + 0.5).astype(np.uint8),
    }


def random_env(
    rng: np.random.Generator, hdris: list[Path], height: int = 64
) -> tuple[np.ndarray, dict]:
    """A random environment (procedural kinds, and ``hdris``: the training share of the captured
    HDRIs), ``(H, 2H, 3)`` float32 linear, and its description."""
    from models.data.envmaps import sample_environment, to_equirect

    env = sample_environment(rng, hdris=hdris)
    return to_equirect(env, height, supersample=2), env.describe()


def pipeline_from_net(net: RelightNet):
    from relight_video.pipeline import RelightPipeline

    pipe = RelightPipeline(
        unet=net.unet,
        background_branch=net.background_branch,
        scheduler=make_scheduler(),
        env_branch=net.env_branch,
        aligner=net.aligner,
        light_encoder=net.light_encoder,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def simulate_pairs(
    net: RelightNet,
    photos: list[tuple[str, np.ndarray, np.ndarray]],
    out: Path,
    size: int,
    per_photo: int,
    steps: int = 8,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Write ``per_photo`` simulated pairs per photo as ``out/NNNN/{composite,mask,background,
    target}.png`` + ``meta.json`` (the ``synth pairs`` layout); an existing complete folder for
    the same photos and settings is reused."""
    from tqdm import tqdm

    from models.data.dataset import split_hdris

    key = {
        "photos": [name for name, *_ in photos],
        "size": size,
        "per_photo": per_photo,
        "steps": steps,
        "seed": seed,
    }
    done = out / "done.json"
    if done.is_file() and json.loads(done.read_text()) == key:
        return out
    out.mkdir(parents=True, exist_ok=True)
    done.unlink(missing_ok=True)
    pipe = pipeline_from_net(net)
    net.eval()
    n = 0
    hdris = split_hdris("train")
    jobs = [(p, k) for p in range(len(photos)) for k in range(per_photo)]
    for p, k in tqdm(jobs, desc="stage3 simulate", unit="pair", disable=not progress):
        name, photo, alpha = photos[p]
        rng = np.random.default_rng([seed, 41, p, k])
        crop, a = square_crop(photo, alpha, size, rng)
        env, describe = random_env(rng, hdris)
        g = torch.Generator().manual_seed(int(rng.integers(2**31)))
        pair = simulate_pair(pipe, crop, a, env, steps, g)
        case = out / f"{n:04d}"
        case.mkdir(exist_ok=True)
        for f in FILES:
            io.write_image(case / f"{f}.png", pair[f])
        (case / "meta.json").write_text(json.dumps({"photo": name, "env": describe}, default=float))
        n += 1
    net.train()
    done.write_text(json.dumps(key))
    return out


class MixedPairs(torch.utils.data.Dataset):
    """Light-stage pairs with a ``share`` of simulated ones mixed in (drawn anew each epoch);
    items hold the keys both have: composite, mask, background, target."""

    def __init__(self, light_stage, simulated, share: float, seed: int = 0):
        if not 0.0 <= share <= 1.0:
            raise InputError(f"stage3.sim_share: expected 0..1, got {share}")
        self.light_stage, self.simulated, self.share, self.seed = (
            light_stage,
            simulated,
            share,
            seed,
        )
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        if hasattr(self.light_stage, "set_epoch"):
            self.light_stage.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.light_stage)

    def __getitem__(self, i: int) -> dict:
        rng = np.random.default_rng([self.seed, 43, self.epoch, i])
        if rng.random() < self.share:
            item = self.simulated[int(rng.integers(len(self.simulated)))]
        else:
            item = self.light_stage[i]
        return {k: item[k] for k in FILES}


def run(cfg: TrainConfig, photos: str | None = None, matte: str | None = None) -> Path:
    """Simulate pairs from ``photos`` with the stage-2 model, then finetune; returns the
    exported pipeline folder."""
    s3 = cfg.stage3
    photos = photos or s3.photos
    matte = matte or s3.matte
    if not photos:
        raise InputError("stage3: give --photos DIR (photos with masks, RGBA, or --matte person)")
    if not cfg.init_checkpoint:
        raise InputError("init_checkpoint: give the stage-2 pipeline folder (runs/stage2/pipeline)")
    torch.manual_seed(cfg.seed)
    net, vae, _ = build_models(cfg)
    if net.env_branch is None:
        raise InputError(f"init_checkpoint {cfg.init_checkpoint}: no env-map branch (run stage 2)")
    out = Path(cfg.output_dir)
    images = load_photos(photos, matte)
    size = cfg.model.sample_size
    sim = simulate_pairs(
        net, images, out / "simulated", size, s3.pairs_per_photo, s3.sim_steps, cfg.seed
    )
    dataset = MixedPairs(
        make_dataset(cfg.data, size, cfg.seed), PairFolder(sim, size, flip=True), s3.sim_share
    )
    scheduler = make_scheduler()
    params = list(net.background_branch.parameters())
    if s3.train_aligner and net.aligner is not None:
        params += list(net.aligner.parameters())
    if net.light_encoder is not None:  # it reads the plate too
        params += list(net.light_encoder.parameters())
    fit(
        cfg,
        net,
        params,
        lambda n, b: diffusion_loss(
            n, b, scheduler, None, cfg.background_loss_weight, top_share=cfg.top_timestep_share
        ),
        dataset,
        out,
        "stage3",
        cfg.steps,
    )
    return export(net, vae, out / "pipeline")
