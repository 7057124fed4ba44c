"""Real photos on very different backgrounds, per engine: docs/astronaut.png.

    python scripts/astronaut_figure.py [--checkpoint DIR] [--out docs/astronaut.png]

The subject is scikit-image's ``astronaut()`` (a real portrait), matted with ``--matte person``'s
segmenter (install it with ``relight-video fetch-matte-model``); the backgrounds are
scikit-image's ``rocket()`` (outdoor daylight) and ``coffee()`` (warm indoor). Columns: the
subject | plain composite | classical | diffusion; one row per background.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from relight_video import io
from relight_video.harmonize import harmonize_image
from relight_video.person_matte import PersonMatte


def main() -> None:
    import skimage.data

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--engines", default="composite,classical,diffusion")
    ap.add_argument("--out", type=Path, default=Path("docs/astronaut.png"))
    args = ap.parse_args()
    photo = skimage.data.astronaut()
    alpha = PersonMatte(smooth=0.0)(photo)
    plates = {"rocket": skimage.data.rocket(), "coffee": skimage.data.coffee()}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        io.write_image(tmp / "fg.png", photo)
        io.write_image(tmp / "mask.png", (alpha * 255 + 0.5).astype(np.uint8))
        for name, plate in plates.items():
            io.write_image(tmp / f"{name}.png", plate)
            row = [photo]
            for engine in args.engines.split(","):
                options = {"checkpoint": args.checkpoint} if args.checkpoint else {}
                row.append(
                    harmonize_image(
                        tmp / "fg.png",
                        tmp / f"{name}.png",
                        tmp / "o.png",
                        alpha=tmp / "mask.png",
                        engine=engine,
                        **options,
                    )
                )
            rows.append(np.hstack(row))
    sheet = np.vstack(rows)
    import cv2

    sheet = cv2.resize(sheet, (sheet.shape[1] // 2, sheet.shape[0] // 2), cv2.INTER_AREA)
    io.write_image(args.out, sheet)
    print(f"wrote {args.out}: rows {', '.join(plates)}; columns photo, {args.engines}")


if __name__ == "__main__":
    main()
