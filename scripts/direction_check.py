"""Does the light's direction follow the target? Left/right shading of the subject, scored.

    python scripts/direction_check.py data/eval64 out/sheet [out/other …]

For every case of a `relight-video synth pairs` folder, the subject (its mask) is split at its
centroid into a left and a right half, and its left/right balance is the log ratio of the two
halves' mean luma (BT.709 weights on the sRGB values). What an engine does to the direction of
the light is the change of that balance from the composite it was given; the target's change is
what the new light does. Per output folder (``NNN/harmonized.png``, or one such folder per
engine, as `relight-video eval` writes for several engines) it prints:

- ``corr``: the correlation, over the cases, of the engine's change with the target's;
- ``slope``: the least-squares slope of the engine's change on the target's (1: the full
  change, 0: none);
- ``sign``: on the cases whose target changes the balance by more than 0.1 (about 10 %), the
  share where the engine moves it the same way;
- ``|target|`` and ``|engine|``: the mean size of the two changes;
- ``keeps`` and ``follows``: the engine's balance fitted as ``keeps · composite's + follows ·
  target's + c`` over the cases (least squares). The change the target asks for is partly the
  *old* light's balance to undo, which an engine can read off the composite alone, without
  looking at the plate; these two separate that from following the *new* light. The untouched
  composite scores keeps 1, follows 0; a perfect engine keeps 0, follows 1.

Issue: the diffusion model ("lighting direction visibly follows the background").
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from relight_video.errors import InputError

LUMA = np.array([0.2126, 0.7152, 0.0722])


def balance(image: np.ndarray, mask: np.ndarray) -> float:
    """Log ratio of the mean luma of the subject's left half to its right half, split at the
    mask's centroid column (``image`` uint8 HxWx3, ``mask`` HxW in 0..1)."""
    m = mask > 0.5
    if m.sum() < 2:
        raise ValueError("the mask holds fewer than 2 foreground pixels")
    cols = np.nonzero(m)[1]
    cx = cols.mean()
    luma = image[..., :3].astype(np.float64) @ LUMA + 1.0  # +1 level: no log of 0
    x = np.arange(m.shape[1])[None, :]  # broadcasts over the rows
    left, right = m & (x < cx), m & (x >= cx)
    if not left.any() or not right.any():
        return 0.0
    return float(np.log(luma[left].mean() / luma[right].mean()))


def score(target_change: np.ndarray, engine_change: np.ndarray, threshold: float = 0.1) -> dict:
    """How well ``engine_change`` follows ``target_change`` (one value per case)."""
    t, e = np.asarray(target_change, float), np.asarray(engine_change, float)
    corr = float(np.corrcoef(t, e)[0, 1]) if t.std() > 0 and e.std() > 0 else 0.0
    slope = float((t * e).sum() / max((t * t).sum(), 1e-12))
    big = np.abs(t) > threshold
    sign = float((np.sign(e[big]) == np.sign(t[big])).mean()) if big.any() else float("nan")
    return {
        "corr": corr,
        "slope": slope,
        "sign": sign,
        "n_sign": int(big.sum()),
        "|target|": float(np.abs(t).mean()),
        "|engine|": float(np.abs(e).mean()),
    }


def decompose(comp: np.ndarray, target: np.ndarray, engine: np.ndarray) -> tuple[float, float]:
    """``(keeps, follows)``: least-squares ``engine ≈ keeps·comp + follows·target + c`` over
    the cases' balances; NaN for both when the composites' or targets' balances do not vary."""
    comp, target, engine = (np.asarray(v, float) for v in (comp, target, engine))
    x = np.stack([comp, target, np.ones_like(comp)], 1)
    if comp.std() == 0 or target.std() == 0 or np.linalg.matrix_rank(x) < 3:
        return float("nan"), float("nan")
    keeps, follows, _ = np.linalg.lstsq(x, engine, rcond=None)[0]
    return float(keeps), float(follows)


def output_folders(root: Path) -> dict[str, Path]:
    """``{engine name: folder of NNN/harmonized.png}`` under one `eval` output folder."""
    if any(root.glob("*/harmonized.png")):
        return {root.name: root}
    found = {p.name: p for p in sorted(root.iterdir()) if any(p.glob("*/harmonized.png"))}
    if not found:
        raise InputError(f"no NNN/harmonized.png under {root}")
    return found


def main() -> None:
    from relight_video import io
    from relight_video.evaluate import find_cases, load_case

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", type=Path, help="a `relight-video synth pairs` folder")
    ap.add_argument("outputs", type=Path, nargs="+", help="`relight-video eval` output folders")
    args = ap.parse_args()
    try:
        cases = [c for c in map(load_case, find_cases(args.cases)) if c.target is not None]
        if not cases:
            raise InputError(f"no cases with target.png under {args.cases}")
        engines: dict[str, Path] = {}
        for root in args.outputs:
            engines.update(output_folders(root))
        t_change, comps, changes = [], [], {name: [] for name in engines}
        for case in cases:
            comp = balance(case.composite, case.alpha)
            comps.append(comp)
            t_change.append(balance(case.target, case.alpha) - comp)
            for name, folder in engines.items():
                out = io.read_image(folder / case.name / "harmonized.png")
                changes[name].append(balance(out, case.alpha) - comp)
    except InputError as e:
        raise SystemExit(f"error: {e}") from None
    print(f"{args.cases}: {len(cases)} cases; left/right balance change from the composite")
    print(
        f"{'engine':>16} {'corr':>7} {'slope':>7} {'sign':>12} {'|target|':>9} {'|engine|':>9}"
        f" {'keeps':>7} {'follows':>7}"
    )
    comps, t_change = np.array(comps), np.array(t_change)
    for name, vals in changes.items():
        s = score(t_change, np.array(vals))
        keeps, follows = decompose(comps, comps + t_change, comps + np.array(vals))
        sign = f"{s['sign']:.2f} of {s['n_sign']}"
        print(
            f"{name:>16} {s['corr']:7.3f} {s['slope']:7.3f} {sign:>12} "
            f"{s['|target|']:9.3f} {s['|engine|']:9.3f} {keeps:7.3f} {follows:7.3f}"
        )


if __name__ == "__main__":
    main()
