"""Held-out cases as wide (e.g. 16:9) frames: does the model keep its score off the square?

    python scripts/wide_frames.py data/eval64 [--width 228] [--offsets 50,0,100] [--scales 1,0.5]

Real footage is 16:9; the light-stage cases, like the training pairs, are square. For each case
of a `relight-video synth pairs` folder this re-renders the plate from the case's own target
environment (``env_tgt.hdr``) at the case's focal length, pitch and exposure (``meta.json``),
once square and once ``--width`` pixels wide, places the subject (composite and target, taken
back off the case's plate through its matte) at each ``--offsets`` column of the wide frame, and
scores the composite and the diffusion engine with the whole frame (``diffusion.square=false``),
with the square window of the frame's short side (``diffusion.zoom=false``) and with the
default window, which also frames a small subject the way the training busts are framed. Each
``--scales`` factor below 1 shrinks the subject (area resampling, bottom edge kept, centre column
kept) as if it stood further away. Only the framing changes: the subject, its target and the
light are the case's. Mean fPSNR (dB) per framing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def render_plate(env: np.ndarray, width: int, size: int, view: dict, exposure: float) -> np.ndarray:
    """``(size, width, 3)`` uint8: the plate camera of a case (square pixels, the focal length
    of a ``size``-wide view of ``view["fov"]``), ``width`` pixels wide, tone-mapped as the light
    stage does."""
    from models.data.envmaps import sample_equirect
    from relight_video.envmap import tonemap

    half = np.tan(np.deg2rad(view["fov"]) / 2)
    cx = ((np.arange(width) + 0.5) / size * 2 - width / size) * half
    cy = ((np.arange(size) + 0.5) / size * 2 - 1) * half
    x, y = np.meshgrid(cx, -cy)
    d = np.stack([x, y, -np.ones_like(x)], -1)
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    p = np.deg2rad(view["pitch"])
    rot = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rad = sample_equirect(env, (d @ rot.T).astype(np.float32).reshape(-1, 3))
    return (np.clip(tonemap(rad.reshape(size, width, 3), exposure), 0, 1) * 255 + 0.5).astype(
        np.uint8
    )


def main() -> None:
    import cv2

    from relight_video.config import load_run_config
    from relight_video.detail import composite
    from relight_video.engines import make_engine
    from relight_video.envmap import load_env
    from relight_video.errors import InputError
    from relight_video.evaluate import find_cases, load_case
    from relight_video.harmonize import FrameHarmonizer
    from relight_video.metrics import fpsnr

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", type=Path)
    ap.add_argument("--width", type=int, default=228, help="wide frame width (128 px tall: 16:9)")
    ap.add_argument("--offsets", default="50,0,100", help="subject columns in the wide frame")
    ap.add_argument("--scales", default="1,0.5", help="subject sizes (1: the case's own)")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()

    def engine(*extra: str):
        cfg = load_run_config(None, [*args.overrides, *extra])
        return make_engine(cfg), cfg.working_px  # the product's working size (256: no resize)

    engines = {
        "window": engine(),
        "no zoom": engine("diffusion.zoom=false"),
        "whole frame": engine("diffusion.square=false"),
    }
    scales = [float(x) for x in args.scales.split(",") if x.strip()]
    offsets = [int(x) for x in args.offsets.split(",") if x.strip()]
    scores: dict[tuple[str, str], list[float]] = {}
    try:
        folders = find_cases(args.cases)
        for folder in folders:
            case = load_case(folder)
            size = case.composite.shape[0]
            if case.target is None or not (folder / "env_tgt.hdr").is_file():
                raise InputError(f"case {folder.name}: needs target.png and env_tgt.hdr")
            if case.composite.shape[1] != size or args.width < size:
                raise InputError(f"case {folder.name}: expected a square case under --width")
            meta = json.loads((folder / "meta.json").read_text())
            env = load_env(folder / "env_tgt.hdr")
            a3 = case.alpha[..., None]
            fg_comp = case.composite - case.background * (1 - a3)  # the subject, times alpha
            fg_tgt = case.target - case.background * (1 - a3)
            for scale, ox in ((sc, ox) for sc in scales for ox in [None, *offsets]):
                if not 0 < scale <= 1:
                    raise InputError(f"--scales: expected factors in (0, 1], got {scale:g}")
                width = size if ox is None else args.width
                col = 0 if ox is None else ox
                if not 0 <= col <= width - size:
                    raise InputError(f"--offsets: {col} is outside 0..{width - size}")
                n = max(2, round(size * scale))
                x = col + (size - n) // 2  # the shrunk subject: same centre column, same bottom

                def shrink(img: np.ndarray, n: int = n) -> np.ndarray:
                    return cv2.resize(img.astype(np.float32), (n, n), interpolation=cv2.INTER_AREA)

                plate = render_plate(env, width, size, meta["view"], meta["exposure_tgt"])
                alpha = np.zeros((size, width), np.float32)
                alpha[size - n :, x : x + n] = shrink(case.alpha)
                comp, tgt = (plate * (1 - alpha[..., None]) for _ in range(2))
                comp[size - n :, x : x + n] += shrink(fg_comp)
                tgt[size - n :, x : x + n] += shrink(fg_tgt)
                comp, tgt = (np.clip(np.rint(x), 0, 255).astype(np.uint8) for x in (comp, tgt))
                framing = "square" if ox is None else f"{width} wide, at {ox}"
                framing += "" if scale == 1 else f", subject x{scale:g}"
                scores.setdefault((framing, "composite"), []).append(fpsnr(comp, tgt, alpha))
                for name, (engine, working_px) in engines.items():
                    engine.reset()
                    harmonizer = FrameHarmonizer(engine, width, size, working_px)
                    _, fg = harmonizer(comp, alpha, plate)
                    pred = composite(fg, comp, alpha)
                    scores.setdefault((framing, name), []).append(fpsnr(pred, tgt, alpha))
    except InputError as e:
        raise SystemExit(f"error: {e}") from None
    print(f"{args.cases}: {len(folders)} cases, mean fPSNR (dB), plates re-rendered from env_tgt")
    for (framing, name), values in scores.items():
        print(f"  {framing:<34} {name:<12} {np.mean(values):6.2f}")


if __name__ == "__main__":
    main()
