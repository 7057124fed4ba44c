"""Does a checkpoint overfit or underfit? Its fPSNR on training pairs against held-out pairs.

    python scripts/fit_gap.py runs/stage1-top/pipeline [--n 128] [--subjects 192 --envs 512]

Draws ``--n`` ``relight`` pairs at the model's size from the light-stage dataset twice: from
the *training* split (the subjects and environments a stage-1 config with ``--subjects`` /
``--envs`` trains on, without augmentation) and from the held-out ``val`` split, runs the model
once on each (one DDIM step, one noise draw), and prints the mean foreground PSNR of the model
and of the untouched composite on both. A large train-over-val margin is overfitting; a small
one with both far from the target is underfitting. Needs the cached stacks (``data/lightstage``,
made by the first stage-1 run).
"""

from __future__ import annotations

import argparse

import torch


def mean_fpsnr(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean over the batch of :func:`relight_video.metrics.fpsnr` (what ``eval`` reports) for
    ``[-1, 1]`` image tensors and ``[0, 1]`` masks."""
    from relight_video.metrics import fpsnr

    def images(x):
        return ((x.float().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).numpy()

    cases = zip(images(pred), images(target), mask[:, 0].float().numpy())
    return sum(fpsnr(p, t, m) for p, t, m in cases) / len(pred)


def score(pipe, dataset, n: int, seed: int = 0) -> tuple[float, float]:
    """(model, composite) mean fPSNR on ``n`` pairs drawn from ``dataset``."""
    idx = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:n]
    items = [dataset[i] for i in idx.tolist()]
    b = {k: torch.stack([it[k] for it in items]) for k in ("composite", "mask", "background")}
    target = torch.stack([it["target"] for it in items])
    with torch.no_grad():
        out = pipe(
            b["composite"],
            b["mask"],
            b["background"],
            num_inference_steps=1,
            generator=torch.Generator().manual_seed(seed + 1),
            output_type="pt",
        )
    return mean_fpsnr(out, target, b["mask"]), mean_fpsnr(b["composite"], target, b["mask"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", help="a RelightPipeline folder")
    ap.add_argument("--root", default="data/lightstage", help="the light-stage cache")
    ap.add_argument("--n", type=int, default=128, help="pairs per split")
    ap.add_argument("--subjects", type=int, default=192, help="training subjects")
    ap.add_argument("--envs", type=int, default=512, help="training environments")
    ap.add_argument("--render-size", type=int, default=64)
    args = ap.parse_args()

    from models.data.dataset import LightStageDataset
    from relight_video.pipeline import RelightPipeline

    pipe = RelightPipeline.from_pretrained(args.checkpoint, dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    size = pipe.unet.config.sample_size
    common = dict(size=size, render_size=args.render_size, fractions=(1, 0, 0), progress=False)
    splits = {
        "train": LightStageDataset(
            args.root, "train", n_subjects=args.subjects, n_envs=args.envs, augment=False, **common
        ),
        "held-out": LightStageDataset(args.root, "val", **common),
    }
    print(f"| pairs ({args.n} each, {size} px, 1 draw) | model fPSNR | composite fPSNR | gain |")
    print("|---|---:|---:|---:|")
    for name, ds in splits.items():
        model, comp = score(pipe, ds, args.n)
        print(f"| {name} | {model:.2f} | {comp:.2f} | {model - comp:+.2f} |")


if __name__ == "__main__":
    main()
