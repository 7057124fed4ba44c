"""Stage 2: lighting representation alignment (Relightful Harmonization §3.2).

Two phases on light-stage pairs, which carry the true HDR environment map of the target light:

1. **Env-map branch.** A second ControlNet reads the log-encoded equirectangular map of the
   target's light (``env_tgt``) instead of the background plate; it starts as a copy of the
   stage-1 background branch and is trained with the diffusion loss while the denoiser and the
   background branch stay frozen (their weights do not change by a single bit).
2. **Alignment.** :class:`~relight_video.networks.LightingAligner` learns to map the background
   branch's residuals onto the env-map branch's (feature loss, each level's MSE relative to the
   env features' mean square) plus the diffusion loss through the aligned residuals; everything
   else stays frozen. At inference the background alone is needed; an env map, when given,
   drives the light directly through the env-map branch.

    relight-video train stage2 --config configs/train/stage2.yaml

Each phase resumes from its own state (``OUTPUT/state-stage2-env``, ``…-align``); the pipeline
(``OUTPUT/pipeline``) then holds all branches.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from models.train.config import TrainConfig
from models.train.data import make_dataset
from models.train.stage1 import (
    build_models,
    diffusion_loss,
    export,
    fit,
    make_scheduler,
    noisy_batch,
    weighted_mse,
)
from relight_video.errors import InputError
from relight_video.networks import RelightNet, build_aligner


def feature_loss(aligned: list[torch.Tensor], target: list[torch.Tensor]) -> torch.Tensor:
    """Mean over levels of ``MSE(aligned, target) / mean(target²)``: every level counts alike
    whatever its scale."""
    terms = [((a - t) ** 2).mean() / (t.pow(2).mean() + 1e-6) for a, t in zip(aligned, target)]
    return torch.stack(terms).mean()


def alignment_loss(
    net: RelightNet,
    batch: dict,
    scheduler,
    bg_weight: float,
    feature_weight: float = 1.0,
    top_share: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Phase 2: ``(total, feature)`` losses for the aligner on one batch."""
    x_t, t, x0, cond, w = noisy_batch(batch, scheduler, env_key="env_tgt", top_share=top_share)
    sample = torch.cat([x_t, cond.concat], 1)
    with torch.no_grad():
        env_down, env_mid = net.env_residuals(sample, t, cond)
    down, mid = net.background_residuals(sample, t, cond, align=True)
    feat = feature_loss([*down, mid], [*env_down, env_mid])
    pred = net.denoise(x_t, t, cond, down, mid)
    return feature_weight * feat + weighted_mse(pred, x0, w, bg_weight), feat


def prepare_net(net: RelightNet) -> RelightNet:
    """Add the stage-2 parts a stage-1 network lacks: the env-map branch (a copy of the
    background branch) and the aligner (identity at start)."""
    if net.env_branch is None:
        net.env_branch = copy.deepcopy(net.background_branch)
    if net.aligner is None:
        net.aligner = build_aligner(net.unet)
    return net


def run(cfg: TrainConfig) -> Path:
    """Both phases; returns the exported pipeline folder."""
    if not cfg.init_checkpoint:
        raise InputError("init_checkpoint: give the stage-1 pipeline folder (runs/stage1/pipeline)")
    if cfg.data.source != "lightstage":
        raise InputError("data.source: stage 2 needs 'lightstage' pairs (they carry env maps)")
    torch.manual_seed(cfg.seed)
    net, vae, _ = build_models(cfg)
    if vae is not None:
        raise InputError("stage 2 is implemented for the pixel-space model only")
    net = prepare_net(net)
    dataset = make_dataset(cfg.data, cfg.model.sample_size, cfg.seed)
    scheduler = make_scheduler()
    out = Path(cfg.output_dir)
    bgw = cfg.background_loss_weight

    # 1. the env-map branch, denoiser and background branch frozen
    fit(
        cfg,
        net,
        list(net.env_branch.parameters()),
        lambda n, b: diffusion_loss(
            n, b, scheduler, bg_weight=bgw, use_env=True, top_share=cfg.top_timestep_share
        ),
        dataset,
        out,
        "stage2-env",
        cfg.steps,
    )
    # 2. the aligner, everything else frozen
    fit(
        cfg,
        net,
        list(net.aligner.parameters()),
        lambda n, b: alignment_loss(
            n, b, scheduler, bgw, cfg.feature_loss_weight, cfg.top_timestep_share
        )[0],
        dataset,
        out,
        "stage2-align",
        cfg.align_steps,
    )
    return export(net, vae, out / "pipeline")
