"""Re-frame a `relight-video synth clip` folder wide, with the subject smaller: video for the window.

    python scripts/reframe_clip.py data/clip out/clip_wide --width 228 --scale 0.5
    python scripts/temporal_compare.py --clip-dir out/clip_wide [--set diffusion.zoom=false]

Every frame of the clip (``greenscreen.mp4``), its matte (``alpha/``) and its ground truth
(``target/``) is shrunk by ``--scale`` (area resampling) and pasted bottom-centred on a canvas
``--width`` pixels wide and as tall as the clip, so the subject moves as before, smaller, in a
wider frame; the canvas around it is the clip's own corner colour (the screen) in the input and
black elsewhere, which the metrics never read (they score the matte's foreground). The plate
(``background.png``) and the clip's frame rate are kept. This is how the README measures the
square window and its zoom on a moving subject.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np


def reframe(img: np.ndarray, width: int, scale: float, fill) -> np.ndarray:
    """``img`` shrunk by ``scale`` and pasted bottom-centred on a ``width``-wide canvas."""
    import cv2

    h, w = img.shape[:2]
    n_w, n_h = max(2, round(w * scale)), max(2, round(h * scale))
    small = cv2.resize(img, (n_w, n_h), interpolation=cv2.INTER_AREA)
    canvas = np.empty((h, width, *img.shape[2:]), img.dtype)
    canvas[:] = fill
    x = (width - n_w) // 2
    canvas[h - n_h :, x : x + n_w] = small
    return canvas


def main() -> None:
    from relight_video import io
    from relight_video.errors import InputError

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("clip", type=Path, help="a `relight-video synth clip` folder")
    ap.add_argument("out", type=Path, help="the new folder (must not exist)")
    ap.add_argument("--width", type=int, default=228)
    ap.add_argument("--scale", type=float, default=0.5)
    args = ap.parse_args()
    try:
        video = args.clip / "greenscreen.mp4"
        for need in (
            video,
            args.clip / "alpha",
            args.clip / "target",
            args.clip / "background.png",
        ):
            if not need.exists():
                raise InputError(f"not a synth clip folder: {need} is missing")
        if args.out.exists():
            raise InputError(f"output exists: {args.out}")
        if not 0 < args.scale <= 1:
            raise InputError(f"--scale: expected (0, 1], got {args.scale:g}")
        info = io.probe(video)
        if args.width < info.width:
            raise InputError(f"--width {args.width} is narrower than the clip ({info.width})")
        tmp = args.out.with_name(args.out.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "alpha").mkdir(parents=True)
        (tmp / "target").mkdir()
        frames = [reframe(f, args.width, args.scale, f[0, 0].copy()) for f in io.read_frames(video)]
        with io.VideoWriter(tmp / "greenscreen.mp4", info.fps, args.width, info.height) as w:
            for f in frames:
                w.write(f)
        for sub in ("alpha", "target"):
            for p in sorted((args.clip / sub).glob("*.png")):
                io.write_image(
                    tmp / sub / p.name, reframe(io.read_image(p), args.width, args.scale, 0)
                )
        shutil.copy(args.clip / "background.png", tmp / "background.png")
        tmp.rename(args.out)
    except InputError as e:
        raise SystemExit(f"error: {e}") from None
    print(
        f"wrote {args.out}: {len(frames)} frames {args.width}x{info.height}, subject x{args.scale:g}"
    )


if __name__ == "__main__":
    main()
