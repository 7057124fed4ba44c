"""What limits held-out fPSNR: the data path's ceiling against what the model reaches (issue: model).

    python scripts/quality_ceiling.py data/eval64 [--outputs out/ablation_procedural/stage3]

For every case of a `relight-video synth pairs` folder it scores, with the metrics of
`relight-video eval`:

- ``composite``: the untouched composite;
- ``composite + global gain``: the composite times the best per-channel gain (least squares on
  the foreground against the target), i.e. a perfect global colour/intensity match;
- ``ceiling @ N px``: the target itself pushed through the product's data path, as if an engine
  returned it: downscaled to the working size, then to the model's N px (the change brought back
  the way :class:`relight_video.diffusion_engine.DiffusionEngine` does), then carried to full
  resolution by the detail transfer. No engine at N px can score above this;
- ``model``: the default engine from the background (what `eval` reports);
- ``model, another case's plate``: the same model reading its light from the plate of another
  case (half the list away), the composite unchanged: what the right plate is worth;
- ``model, true env map``: the same model lit from the case's own target environment
  (``env_tgt.hdr``, the env-map branch of stage 2) instead of from the background;
- ``model + global gain``: the model's output with the best per-channel gain on top, when
  ``--outputs`` names an `eval` output folder (``NNN/harmonized.png``).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np


def best_global_gain(pred: np.ndarray, target: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``pred`` with the per-channel gain that best matches ``target`` on the foreground."""
    m = alpha > 0.5
    p, t = pred[m].astype(np.float64), target[m].astype(np.float64)
    g = (p * t).sum(0) / np.maximum((p * p).sum(0), 1e-9)
    out = np.clip(pred.astype(np.float64) * g, 0, 255)
    a = alpha[..., None]
    return np.rint(out * a + pred * (1 - a)).astype(np.uint8)


class TargetEngine:
    """An engine that returns the case's target as it would look at ``model_px``: the target
    and the engine's input, both at the working size, area-resized to the model's short side,
    their difference brought back the way the diffusion engine brings its change back. Run
    through :func:`relight_video.evaluate.harmonize_case`, so every other step is the product's."""

    def __init__(self, model_px: int):
        self.model_px = model_px
        self.target: np.ndarray | None = None  # the case's target, full resolution, uint8

    def reset(self) -> None:
        pass

    def harmonize(self, fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray) -> np.ndarray:
        import cv2

        from relight_video.detail import downscale

        h, w = fg.shape[:2]
        target = downscale(self.target, (w, h)).astype(np.float32) / 255
        s = self.model_px / min(w, h)
        ms = (max(1, round(w * s)), max(1, round(h * s)))
        small = [cv2.resize(x, ms, interpolation=cv2.INTER_AREA) for x in (fg, target)]
        change = cv2.resize(small[1] - small[0], (w, h), interpolation=cv2.INTER_LINEAR)
        return np.clip(fg + change, 0, 1)


def main() -> None:
    from relight_video import io
    from relight_video.config import load_run_config
    from relight_video.engines import make_engine
    from relight_video.envmap import auto_exposure, load_env, resize_env
    from relight_video.evaluate import find_cases, harmonize_case, load_case
    from relight_video.harmonize import EnvLight
    from relight_video.metrics import fpsnr

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", type=Path)
    ap.add_argument("--outputs", type=Path, help="an `eval` output folder of the same cases")
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--model-px", default="32,64", help="model sizes for the ceiling rows")
    args = ap.parse_args()

    cfg = load_run_config(None, (), engine="diffusion", checkpoint=args.checkpoint)
    engine = make_engine(cfg)
    oracles = [TargetEngine(int(x)) for x in args.model_px.split(",")]
    rows: dict[str, list[float]] = {}

    def add(name: str, pred: np.ndarray, case) -> None:
        rows.setdefault(name, []).append(fpsnr(pred, case.target, case.alpha))

    folders = find_cases(args.cases)
    for i, folder in enumerate(folders):
        case = load_case(folder)
        if case.target is None:
            continue
        add("composite", case.composite, case)
        add(
            "composite + global gain",
            best_global_gain(case.composite, case.target, case.alpha),
            case,
        )
        for oracle in oracles:
            oracle.target = case.target
            pred = harmonize_case(oracle, case, cfg.working_px)
            add(f"ceiling @ {oracle.model_px} px", pred, case)
        add("model", harmonize_case(engine, case, cfg.working_px), case)
        # the light read from another case's plate (the composite, and so the visible
        # background, unchanged): how much the right plate is worth to the model
        other = load_case(folders[(i + len(folders) // 2) % len(folders)]).background
        wrong = dataclasses.replace(case, background=other)
        add("model, another case's plate", harmonize_case(engine, wrong, cfg.working_px), case)
        if (folder / "env_tgt.hdr").is_file() and engine.supports_env:
            env = resize_env(load_env(folder / "env_tgt.hdr"), 128)
            light = EnvLight(env, auto_exposure(env))
            add("model, true env map", harmonize_case(engine, case, cfg.working_px, light), case)
        if args.outputs is not None:
            pred = io._to_channels(io.read_image(args.outputs / folder.name / "harmonized.png"), 3)
            add("model + global gain", best_global_gain(pred, case.target, case.alpha), case)

    n = len(next(iter(rows.values()), []))
    print(f"{args.cases}: {n} cases, mean fPSNR (dB)")
    for name, values in rows.items():
        print(f"  {name:<26} {np.mean(values):6.2f}")


if __name__ == "__main__":
    main()
