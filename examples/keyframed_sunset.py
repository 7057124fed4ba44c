"""Animate a sunset over the bundled clip with keyframed lighting, and plot how the light moves.

    python examples/keyframed_sunset.py [--engine diffusion] [--env-map sunset.exr] [--out out/]

Over the clip the light turns about the subject (yaw 0° → 90°: what is behind the subject moves
to the right, and the plate is rolled that way), warms from daylight (6500 K) to sunset
(2200 K) and dims. Writes ``OUT/keyframed_sunset.mp4`` and
``OUT/keyframed_sunset_lr.png``: per frame, the left/right brightness ratio of the subject, of
the output over the input (the relight's own change, free of the subject's texture and motion),
which should move smoothly, without jumps. Beside it, a Lambertian reference: the same ratio for
the subject's silhouette normals (:func:`relight_video.lighting.silhouette_normals`) under the
keyed light in spherical harmonics, i.e. how a matte white subject of that outline would be lit;
the printed correlation says how well the relight follows it. With ``--env-map`` the light comes
from that HDR map (turned exactly) through the model's env-map branch instead of being read from
the plate; the reference then uses the map, else the plate as the classical engine reads it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from relight_video import io
from relight_video.harmonize import harmonize_video
from relight_video.keyframes import Keyframes

HERE = Path(__file__).resolve().parent


LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


def left_right_ratio(frame: np.ndarray, alpha: np.ndarray) -> float:
    """Mean luma of the subject's left half over its right half (image left/right)."""
    luma = frame.astype(np.float32) @ LUMA
    mask = alpha > 0.5
    xs = np.nonzero(mask.any(axis=0))[0]
    mid = (xs.min() + xs.max()) // 2
    left, right = mask.copy(), mask.copy()
    left[:, mid:] = False
    right[:, :mid] = False
    return float(luma[left].mean() / max(luma[right].mean(), 1e-3))


def env_sh(env: np.ndarray) -> np.ndarray:
    """Spherical-harmonics lighting ``(9, 3)`` of an equirectangular linear map ``(H, 2H, 3)``."""
    from relight_video.envmap import directions, solid_angles
    from relight_video.lighting import sh_basis

    h = env.shape[0]
    basis = sh_basis(directions(h))  # (H, 2H, 9)
    d_omega = np.repeat(solid_angles(h)[:, None], 2 * h, axis=1)
    return np.einsum("hwk,hwc,hw->kc", basis, env, d_omega).astype(np.float32)


def reference_ratio(alpha: np.ndarray, coeffs: np.ndarray) -> float:
    """Left/right ratio of a white Lambertian subject with ``alpha``'s silhouette normals under
    ``coeffs``, on display values (irradiance^(1/2.2))."""
    from relight_video.lighting import sh_irradiance, silhouette_normals

    shade = np.clip(sh_irradiance(silhouette_normals(alpha), coeffs), 0, None) ** (1 / 2.2)
    return left_right_ratio(shade, alpha)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engine", default="diffusion")
    ap.add_argument("--env-map", default=None, help="light from this HDR map (diffusion)")
    ap.add_argument("--yaw", type=float, default=90.0, help="how far the light turns, degrees")
    ap.add_argument("--kelvin", type=float, default=2200.0, help="colour of the light at the end")
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
                "temperature_k": args.kelvin,
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

    from relight_video.background import Background
    from relight_video.detail import downscale
    from relight_video.envmap import load_env, resize_env
    from relight_video.keying import ChromaKeyer
    from relight_video.lighting import background_sh, srgb_to_linear

    info = io.probe(clip)
    size = (128, round(128 * info.height / info.width))  # the classical engine's working size
    plate_s = downscale(next(Background(plate, info.width, info.height).frames()), size) / 255.0
    keyer = ChromaKeyer("green")
    env = resize_env(load_env(args.env_map), 64) if args.env_map else None
    ratios, reference = [], []
    for i, (f, o) in enumerate(zip(io.read_frames(clip), io.read_frames(out))):
        alpha = keyer(f)[0]
        ratios.append(left_right_ratio(o, alpha) / left_right_ratio(f, alpha))
        light = keys.at(i)
        if env is not None:
            coeffs = env_sh(light.apply_to_env(env))
        else:  # the plate as the engine reads it (fitted to the frame), read as light
            coeffs = background_sh(srgb_to_linear(light.apply_to_plate(plate_s)))
        reference.append(reference_ratio(downscale(alpha, size), coeffs))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(ratios, marker=".", label=f"{args.engine}: output ÷ input")
    ax.plot(reference, color="0.5", linestyle="--", label="Lambertian reference")
    ax.legend(fontsize=7)
    ax.set_xlabel("frame")
    ax.set_ylabel("left / right brightness")
    source = f"env map {Path(args.env_map).name}" if args.env_map else "plate"
    ax.set_title(f"yaw 0° → {args.yaw:g}°, 6500 K → {args.kelvin:g} K ({args.engine}, {source})")
    fig.tight_layout()
    fig.savefig(args.out / "keyframed_sunset_lr.png", dpi=100)
    jumps = np.abs(np.diff(ratios))
    lr, lref = np.log(ratios), np.log(reference)
    corr = float(np.corrcoef(lr, lref)[0, 1])
    slope = float(np.polyfit(lref, lr, 1)[0])
    print(
        f"wrote {out}; left/right ratio (output / input) {ratios[0]:.3f} -> {ratios[-1]:.3f}, "
        f"largest frame-to-frame change {jumps.max():.4f} (mean {jumps.mean():.4f}); Lambertian "
        f"reference {reference[0]:.3f} -> {reference[-1]:.3f}; over the frames the log ratios "
        f"correlate {corr:.2f}, slope {slope:.2f}"
    )


if __name__ == "__main__":
    main()
