"""Animate a sunset over the bundled clip with keyframed lighting, and plot how the light moves.

    python examples/keyframed_sunset.py [--engine diffusion] [--env-map sunset.exr] [--out out/]

Over the clip the sun swings from the left of the frame to its right (yaw 0° → 90°), warms
from daylight (6500 K) to sunset (2200 K) and dims. Writes ``OUT/keyframed_sunset.mp4`` and
``OUT/keyframed_sunset_lr.png``: the left/right brightness ratio of the subject per frame, which
should move smoothly, without jumps. With ``--env-map`` the light comes from that HDR map
(turned exactly) through the model's env-map branch instead of being read from the plate.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from relight_video import io
from relight_video.harmonize import harmonize_video
from relight_video.keyframes import Keyframes

HERE = Path(__file__).resolve().parent


def left_right_ratio(frame: np.ndarray, alpha: np.ndarray) -> float:
    """Mean luma of the subject's left half over its right half (image left/right)."""
    luma = frame.astype(np.float32) @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    mask = alpha > 0.5
    xs = np.nonzero(mask.any(axis=0))[0]
    mid = (xs.min() + xs.max()) // 2
    left, right = mask.copy(), mask.copy()
    left[:, mid:] = False
    right[:, :mid] = False
    return float(luma[left].mean() / max(luma[right].mean(), 1e-3))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engine", default="diffusion")
    ap.add_argument("--env-map", default=None, help="light from this HDR map (diffusion)")
    ap.add_argument("--yaw", type=float, default=90.0, help="how far the light turns, degrees")
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--out", type=Path, default=Path("out"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    clip, plate = HERE / "greenscreen.mp4", HERE / "background.png"
    n = io.probe(clip).num_frames
    keys = Keyframes.from_list(
        [
            {"frame": 0, "yaw_deg": 0, "temperature_k": 6500, "intensity": 1.0}
            | ({"env_map": args.env_map} if args.env_map else {}),
            {
                "frame": n - 1,
                "yaw_deg": args.yaw,
                "temperature_k": 2200,
                "intensity": 0.7,
                "interpolation": "smooth",
            },
        ],
        float(io.probe(clip).fps),
        n,
    )
    out = args.out / "keyframed_sunset.mp4"
    options = {"checkpoint": args.checkpoint} if args.checkpoint else {}
    harmonize_video(clip, plate, out, key="green", engine=args.engine, keyframes=keys, **options)

    from relight_video.keying import ChromaKeyer

    keyer = ChromaKeyer("green")
    ratios = [
        left_right_ratio(o, keyer(f)[0]) for f, o in zip(io.read_frames(clip), io.read_frames(out))
    ]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(ratios, marker=".")
    ax.set_xlabel("frame")
    ax.set_ylabel("left / right brightness")
    source = f"env map {Path(args.env_map).name}" if args.env_map else "plate"
    ax.set_title(f"yaw 0° → {args.yaw:g}°, 6500 K → 2200 K ({args.engine}, {source})")
    fig.tight_layout()
    fig.savefig(args.out / "keyframed_sunset_lr.png", dpi=100)
    jumps = np.abs(np.diff(ratios))
    print(
        f"wrote {out}; left/right ratio {ratios[0]:.3f} -> {ratios[-1]:.3f}, "
        f"largest frame-to-frame change {jumps.max():.4f} (mean {jumps.mean():.4f})"
    )


if __name__ == "__main__":
    main()
