"""Per-frame vs flow-guided diffusion on a clip, measured in one run (issue: temporal).

    python scripts/temporal_compare.py --clip-dir data/clip   # a `relight-video synth clip` folder
    python scripts/temporal_compare.py --input carphone.mp4 --matte person -b plate.png
    python scripts/temporal_compare.py --input carphone.mp4 --matte person --hdri city.exr

It runs the diffusion engine four ways: ``per_frame`` (a fresh noise draw every frame and no
guidance: an image relighter run frame by frame), ``none`` (``--temporal none``: one shared
noise, no guidance), ``flow_unstabilized`` (shared noise + flow-guided x0 fusion and gain
smoothing, ``temporal.stabilize=0``) and ``flow`` (that and the stabiliser of the subject's
pixels: the default), and prints
the warping error (Lai et al. 2018; flow on the input, fwd–bwd occlusion, foreground pixels),
flicker, fPSNR/PSNR against the target frames when the clip has them, and frames per second.
It also scores the input clip itself and, with a synth clip, the ground-truth target frames:
their warping error is what the footage's motion, noise and the flow's error put under any
output that keeps the footage's pixels as they are (the stabiliser does not). ``detail`` (the
foreground's mean squared Laplacian) and, against a target, ``detail_error`` show what a
temporal filter takes out of the fine detail. Outputs are written as PNG frames by default,
so the codec's own smoothing is not scored.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from relight_video import io
from relight_video.config import load_run_config, parse_override
from relight_video.evaluate import evaluate_video
from relight_video.harmonize import harmonize_video


def detail(clips: dict, source: Path, target: Path | None, **matte) -> dict:
    """Fine detail on the foreground of each clip in ``clips`` (name → path), in one pass with
    one matte: ``detail``, the mean squared Laplacian of the luma (grain and compression noise
    count too), and, with a target, ``detail_error``, the mean squared difference of the clip's
    and the target's Laplacians. Shows what a temporal filter takes out besides flicker."""
    import cv2
    import numpy as np

    from relight_video.matte import mattes

    def lap(frame):
        grey = cv2.cvtColor(frame[: info.height, : info.width], cv2.COLOR_RGB2GRAY)
        return cv2.Laplacian(grey.astype(np.float32), cv2.CV_32F)

    info = io.probe(source)
    names = list(clips)
    streams = [mattes(load_run_config(None, (), **matte), source, info)]
    streams += [io.read_frames(clips[n]) for n in names]
    if target is not None:
        streams.append(io.read_frames(target))
    energy = {n: [] for n in names}
    error = {n: [] for n in names}
    for items in zip(*streams):
        m = items[0].alpha > 0.5
        if not m.any():
            continue
        ref = lap(items[-1]) if target is not None else None
        for n, frame in zip(names, items[1:]):
            out = lap(frame)
            energy[n].append(float((out[m] ** 2).mean()))
            if ref is not None:
                error[n].append(float(((out - ref)[m] ** 2).mean()))
    return {
        n: {
            "detail": float(np.mean(energy[n])),
            "detail_error": float(np.mean(error[n])) if error[n] else None,
        }
        for n in names
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip-dir", type=Path, help="a `relight-video synth clip` folder")
    ap.add_argument("--input", type=Path)
    ap.add_argument("-b", "--background", type=Path)
    ap.add_argument("--hdri", type=Path, help="use a view of this HDR map as the background")
    ap.add_argument("--matte", default=None)
    ap.add_argument("--key", default=None)
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--keep", type=Path, default=None, help="folder to keep the outputs in")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--format",
        choices=("png", "mov", "mp4"),
        default="png",
        help="outputs as PNG frames (default: exact pixels), ProRes or H.264 (whose compression "
        "itself smooths the clip and moves the warping error)",
    )
    ap.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        help="run setting for all three runs, e.g. diffusion.steps=8 (repeatable)",
    )
    args = ap.parse_args()
    alpha = target = None
    if args.clip_dir:
        args.input = args.clip_dir / "greenscreen.mp4"
        args.background = args.background or args.clip_dir / "background.png"
        alpha, target = str(args.clip_dir / "alpha"), args.clip_dir / "target"
    options = {"checkpoint": args.checkpoint} if args.checkpoint else {}
    for text in args.overrides:
        path, value = parse_override(text)
        node = options
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    key = args.key if not (alpha or args.matte) else None  # a chroma key only without a matte
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.keep or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        if args.hdri:
            from relight_video import io
            from relight_video.envmap import load_env, perspective_view

            info = io.probe(args.input)
            args.background = out_dir / f"{args.hdri.stem}_view.png"
            io.write_image(
                args.background, perspective_view(load_env(args.hdri), info.width, info.height)
            )
        runs = {
            "per_frame": {"mode": "none", "noise": "per_frame"},
            "none": {"mode": "none"},
            "flow_unstabilized": {"mode": "flow", "stabilize": 0.0},
            "flow": {"mode": "flow"},
        }
        outputs = {}
        for mode, temporal in runs.items():
            name = f"temporal_{mode}" + ("" if args.format == "png" else f".{args.format}")
            out = out_dir / name  # PNG: a folder of frames
            stats = harmonize_video(
                args.input,
                args.background,
                out,
                engine="diffusion",
                alpha=alpha,
                matte=args.matte,
                key=key,
                progress=False,
                **{**options, "temporal": {**options.get("temporal", {}), **temporal}},
            )
            doc = evaluate_video(
                out,
                args.input,
                key=key,
                alpha=alpha,
                matte=args.matte,
                target=target,
                progress=False,
            )
            rows[mode] = {
                "fps": stats.fps,
                **{k: v for k, v in doc.items() if isinstance(v, (int, float)) or v is None},
            }
            outputs[mode] = out
        floors = {"input": args.input}  # the source clip's own warping error: a floor too
        if target is not None:  # the ground truth's own warping error: the floor
            floors["target"] = target
        for name, clip in floors.items():
            doc = evaluate_video(
                clip, args.input, key=key, alpha=alpha, matte=args.matte, progress=False
            )
            rows[name] = {
                k: v for k, v in doc.items() if k in ("warping_error", "flicker", "frames")
            }
        # one pass for all clips: the runs against the target, the input and target alone
        scores = detail(
            {**outputs, **floors}, args.input, target, key=key, alpha=alpha, matte=args.matte
        )
        for name, got in scores.items():
            rows[name]["detail"] = got["detail"]
            if name in outputs:
                rows[name]["detail_error"] = got["detail_error"]
    keys = sorted({k for r in rows.values() for k in r})
    print(f"{'metric':>16} " + " ".join(f"{m:>12}" for m in rows))
    for k in keys:
        vals = [rows[m].get(k) for m in rows]
        print(
            f"{k:>16} "
            + " ".join(f"{v:12.6g}" if isinstance(v, float) else f"{v!s:>12}" for v in vals)
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
