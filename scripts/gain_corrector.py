"""Can a global colour correction learned on training pairs lift the model's held-out score?

    python scripts/gain_corrector.py fit TRAIN_CASES TRAIN_OUTPUTS -o corrector.json
    python scripts/gain_corrector.py score CASES OUTPUTS corrector.json

The README's quality ceiling shows that the bundled model's output times the *best* per-channel
gain (an oracle that reads the target) scores about 1 dB higher. This asks how much of that a
predictor can recover without the target: ridge regression from global statistics of the case
(the composite's and the model output's foreground means, the plate's mean and its halves, its
brightest pixels; log linear RGB) to the log of the best per-channel gain, fitted on `eval`
outputs of *training-distribution* pairs (`relight-video synth pairs` with a seed the eval sets
do not use and `--hdri-split train`) and scored on the held-out eval sets. The ridge penalty is
chosen by 5-fold cross-validation on the training pairs only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

LAMBDAS = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)


def _lin(img: np.ndarray) -> np.ndarray:
    from relight_video.lighting import srgb_to_linear

    return srgb_to_linear(img.astype(np.float32) / 255.0)


def _logmean(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.log((x * w[..., None]).sum((0, 1)) / max(float(w.sum()), 1e-6) + 1e-4)


def features(case, pred: np.ndarray) -> np.ndarray:
    """Global statistics of one case and the model's output (no target): ``(F,)``."""
    a = np.clip(case.alpha, 0, 1)
    comp, out, bg = _lin(case.composite), _lin(pred), _lin(case.background)
    h, w = bg.shape[:2]
    ones = np.ones((h, w), np.float32)
    top, left = ones.copy(), ones.copy()
    top[h // 2 :], left[:, w // 2 :] = 0, 0
    luma = bg @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    bright = (luma >= np.quantile(luma, 0.95)).astype(np.float32)
    f_comp, f_out = _logmean(comp, a), _logmean(out, a)
    parts = [
        f_comp,
        f_out,
        f_out - f_comp,
        _logmean(bg, ones),
        _logmean(bg, top) - _logmean(bg, 1 - top),
        _logmean(bg, left) - _logmean(bg, 1 - left),
        _logmean(bg, bright),
    ]
    return np.concatenate(parts).astype(np.float64)


def best_log_gain(pred: np.ndarray, target: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Log of the per-channel gain that best matches ``target`` on the foreground (sRGB)."""
    m = alpha > 0.5
    p, t = pred[m].astype(np.float64), target[m].astype(np.float64)
    g = (p * t).sum(0) / np.maximum((p * p).sum(0), 1e-9)
    return np.log(np.clip(g, 0.25, 4.0))


def apply_gain(pred: np.ndarray, log_gain: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    out = np.clip(pred.astype(np.float64) * np.exp(log_gain), 0, 255)
    a = np.clip(alpha, 0, 1)[..., None]
    return np.rint(out * a + pred * (1 - a)).astype(np.uint8)


def load(cases_dir: Path, outputs: Path):
    from relight_video import io
    from relight_video.errors import InputError
    from relight_video.evaluate import find_cases, load_case

    rows = []
    for folder in find_cases(cases_dir):
        case = load_case(folder)
        path = outputs / folder.name / "harmonized.png"
        if not path.is_file():
            raise InputError(f"no output for case {folder.name}: {path}")
        if case.target is None:
            raise InputError(f"case {folder.name} has no target.png")
        rows.append((case, io._to_channels(io.read_image(path), 3)))
    return rows


def _ridge(x: np.ndarray, y: np.ndarray, lam: float):
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = (x - mu) / sd
    ym = y.mean(0)
    w = np.linalg.solve(z.T @ z + lam * np.eye(z.shape[1]), z.T @ (y - ym))
    return {"mu": mu, "sd": sd, "w": w, "b": ym}


def _predict(model, x: np.ndarray) -> np.ndarray:
    return ((x - model["mu"]) / model["sd"]) @ model["w"] + model["b"]


def _fpsnr(rows, log_gains=None) -> float:
    from relight_video.metrics import case_metrics

    scores = []
    for i, (case, pred) in enumerate(rows):
        p = pred if log_gains is None else apply_gain(pred, log_gains[i], case.alpha)
        scores.append(case_metrics(p, case.target, case.alpha)["fpsnr"])
    return float(np.mean(scores))


def fit(cases: Path, outputs: Path, out: Path) -> None:
    rows = load(cases, outputs)
    x = np.stack([features(c, p) for c, p in rows])
    y = np.stack([best_log_gain(p, c.target, c.alpha) for c, p in rows])
    folds = np.arange(len(rows)) % 5
    cv = {}
    for lam in LAMBDAS:
        pred = np.zeros_like(y)
        for k in range(5):
            m = _ridge(x[folds != k], y[folds != k], lam)
            pred[folds == k] = _predict(m, x[folds == k])
        cv[lam] = _fpsnr(rows, pred)
    lam = max(cv, key=cv.get)
    model = _ridge(x, y, lam)
    print(
        f"{len(rows)} training pairs: as output {_fpsnr(rows):.2f} dB, oracle gain "
        f"{_fpsnr(rows, y):.2f} dB"
    )
    for k, v in cv.items():
        print(f"  lambda {k:g}: cross-validated {v:.2f} dB{'  <- chosen' if k == lam else ''}")
    out.write_text(json.dumps({"lambda": lam, **{k: v.tolist() for k, v in model.items()}}))


def score(cases: Path, outputs: Path, corrector: Path) -> None:
    model = {k: np.asarray(v) for k, v in json.loads(corrector.read_text()).items()}
    rows = load(cases, outputs)
    x = np.stack([features(c, p) for c, p in rows])
    y = np.stack([best_log_gain(p, c.target, c.alpha) for c, p in rows])
    print(
        f"{cases}: as output {_fpsnr(rows):.2f} dB, corrected {_fpsnr(rows, _predict(model, x)):.2f}"
        f" dB, oracle gain {_fpsnr(rows, y):.2f} dB"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit")
    f.add_argument("cases", type=Path)
    f.add_argument("outputs", type=Path)
    f.add_argument("-o", "--out", type=Path, required=True)
    s = sub.add_parser("score")
    s.add_argument("cases", type=Path)
    s.add_argument("outputs", type=Path)
    s.add_argument("corrector", type=Path)
    args = ap.parse_args()
    if args.cmd == "fit":
        fit(args.cases, args.outputs, args.out)
    else:
        score(args.cases, args.outputs, args.corrector)


if __name__ == "__main__":
    main()
