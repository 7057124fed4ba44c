"""Make a README figure PNG small enough for the repository, in place.

Rounds every 8-bit channel to the nearest multiple of ``--step`` (default 5: 52 levels per
channel, at most 2 levels off, no palette, no dithering) and re-saves the PNG with maximum
compression. Prints the sizes before and after and the largest change of any pixel.

    python scripts/shrink_png.py docs/synth/sheet.png [--step 5]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("png", type=Path)
    parser.add_argument("--step", type=int, default=5, help="round channels to multiples of this")
    opts = parser.parse_args()
    if not 1 <= opts.step <= 64:
        raise SystemExit("--step must be in 1..64")

    before = opts.png.stat().st_size
    with Image.open(opts.png) as im:
        mode = "RGBA" if "A" in im.getbands() else "RGB"
        a = np.asarray(im.convert(mode))
    q = np.clip(np.round(a / opts.step) * opts.step, 0, 255).astype(np.uint8)
    Image.fromarray(q).save(opts.png, "PNG", optimize=True)
    err = int(np.abs(a.astype(np.int16) - q).max())
    print(f"{opts.png}: {before} -> {opts.png.stat().st_size} bytes, max change {err} levels")


if __name__ == "__main__":
    main()
