"""How much of the quality gap is the light the plate cannot show? (issue: model)

    python scripts/light_oracle.py [--steps 1500] [--variants plate,env_tgt,env_both,none]

Trains the stage-1 model from scratch several times with identical settings (seed, steps,
batch, data) and one difference: what its lighting branch (the ControlNet) reads.

- ``plate``: the background plate, as the product does;
- ``none``: a constant grey image (what the composite alone tells the model);
- ``env_tgt``: the true HDR environment map of the target's light (log-encoded, resized to the
  plate's size), i.e. a perfect reader of the light from the plate;
- ``env_both``: the target's and the composite's own light (6 channels): the light A the
  subject was filmed under is known too, so albedo and light A no longer trade off.

Each model is scored like ``scripts/fit_gap.py``: one DDIM step, one noise draw, at the model's
32 px, on held-out ``relight`` pairs (the ``val`` split: subjects and environments training never
drew), mean foreground PSNR against the target. The gap between ``plate`` and ``env_tgt`` is
what reading light from a plate costs; ``env_tgt``'s gain over the composite is about what this
model family and budget can reach given the light.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

VARIANTS = ("plate", "none", "env_tgt", "env_both")


def branch_input(batch: dict, variant: str) -> torch.Tensor:
    """What the lighting branch reads for ``variant``, at the images' size."""
    size = batch["background"].shape[-2:]

    def env(key):
        return torch.nn.functional.interpolate(
            batch[key], size=size, mode="bilinear", align_corners=False
        )

    if variant == "plate":
        return batch["background"]
    if variant == "none":
        return torch.zeros_like(batch["background"])
    if variant == "env_tgt":
        return env("env_tgt")
    return torch.cat([env("env_tgt"), env("env_src")], 1)


def build(variant: str, size: int):
    from relight_video.networks import (
        DenoiserConfig,
        RelightNet,
        build_background_branch,
        build_denoiser,
    )

    dcfg = DenoiserConfig(sample_size=size)
    unet = build_denoiser(dcfg)
    channels = 6 if variant == "env_both" else 3
    return RelightNet(unet, build_background_branch(unet, dcfg, conditioning_channels=channels))


@torch.no_grad()
def score(net, dataset, variant: str, n: int, seed: int = 0) -> tuple[float, float]:
    """(model, composite) mean fPSNR on ``n`` held-out pairs, one step from one noise draw."""
    from fit_gap import mean_fpsnr

    from models.train.stage1 import make_scheduler
    from relight_video.networks import condition, decode_sample

    idx = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:n]
    items = [dataset[i] for i in idx.tolist()]
    b = {k: torch.stack([it[k] for it in items]) for k in items[0] if k not in ("kind", "subject")}
    sched = make_scheduler()
    sched.set_timesteps(1)
    t = sched.timesteps[0]
    cond = condition(b["composite"], b["mask"], branch_input(b, variant))
    x = torch.randn(b["composite"].shape, generator=torch.Generator().manual_seed(seed + 1))
    x0 = net(x, t, cond)
    out = decode_sample(sched.step(x0, t, x).prev_sample, b["composite"], b["mask"])
    return mean_fpsnr(out, b["target"], b["mask"]), mean_fpsnr(
        b["composite"], b["target"], b["mask"]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--subjects", type=int, default=192)
    ap.add_argument("--envs", type=int, default=512)
    ap.add_argument("--n", type=int, default=128, help="held-out pairs scored")
    ap.add_argument("--root", default="data/lightstage")
    ap.add_argument("--out", default="runs/light_oracle")
    args = ap.parse_args()
    variants = args.variants.split(",")
    if unknown := set(variants) - set(VARIANTS):
        ap.error(f"unknown variants {sorted(unknown)}; choose from {', '.join(VARIANTS)}")

    from models.data.dataset import LightStageDataset
    from models.train.config import load_train_config
    from models.train.stage1 import diffusion_loss, fit, make_scheduler

    cfg = load_train_config(
        None,
        [
            f"steps={args.steps}",
            f"batch_size={args.batch_size}",
            "lr=5e-4",
            "warmup_steps=100",
            "top_timestep_share=0.5",
            f"save_every={args.steps}",
            f"data.n_subjects={args.subjects}",
            f"data.n_envs={args.envs}",
            f"data.root={args.root}",
        ],
    )
    size = cfg.model.sample_size = 32
    common = dict(size=size, render_size=cfg.data.render_size, progress=True)
    train = LightStageDataset(
        args.root, "train", n_subjects=args.subjects, n_envs=args.envs, seed=cfg.seed, **common
    )
    val = LightStageDataset(args.root, "val", fractions=(1, 0, 0), **common)
    scheduler = make_scheduler()
    rows = []
    for variant in variants:
        torch.manual_seed(cfg.seed)
        net = build(variant, size)

        def loss_fn(n, batch, variant=variant):
            batch = dict(batch, background=branch_input(batch, variant))
            return diffusion_loss(n, batch, scheduler, top_share=cfg.top_timestep_share)

        out = Path(args.out) / variant
        start = time.perf_counter()
        fit(cfg, net, list(net.parameters()), loss_fn, train, out, "oracle", cfg.steps)
        seconds = time.perf_counter() - start
        net.eval()
        model, comp = score(net, val, variant, args.n)
        rows.append((variant, model, comp, seconds))
        (out / "score.json").write_text(
            json.dumps({"variant": variant, "fpsnr": model, "composite": comp, "s": seconds})
        )
        print(f"{variant}: {model:.2f} dB (composite {comp:.2f}), trained in {seconds:.0f} s")
    print(
        f"\n| lighting branch reads ({args.steps} steps, {args.n} held-out pairs, {size} px) "
        "| fPSNR | over composite |"
    )
    print("|---|---:|---:|")
    for variant, model, comp, _ in rows:
        print(f"| {variant} | {model:.2f} | {model - comp:+.2f} |")


if __name__ == "__main__":
    main()
