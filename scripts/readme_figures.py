"""Regenerate the README's before/after picture from the bundled example.

python scripts/readme_figures.py     # composite, classical, diffusion: docs/before_after.png
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from relight_video import io
from relight_video.harmonize import harmonize_video

ROOT = Path(__file__).resolve().parents[1]


def nth_frame(path: Path, n: int) -> np.ndarray:
    for i, frame in enumerate(io.read_frames(path)):
        if i == n:
            return frame
    raise ValueError(f"{path} has fewer than {n + 1} frames")


def main() -> None:
    import tempfile

    clip, bg = ROOT / "examples/greenscreen.mp4", ROOT / "examples/background.png"
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for engine in ("composite", "classical", "diffusion"):
            out = Path(tmp) / f"{engine}.mp4"
            harmonize_video(clip, bg, out, engine=engine, key="green", progress=False)
            rows.append(nth_frame(out, 30))
    before = nth_frame(clip, 30)
    sheet = np.hstack([before, *rows])
    io.write_image(ROOT / "docs/before_after.png", sheet)
    print("wrote docs/before_after.png (green screen | composite | classical | diffusion)")


if __name__ == "__main__":
    main()
