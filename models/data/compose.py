"""Shared steps of pair and clip synthesis: relight + tone map + composite, light summaries.

Compositing happens on display-encoded values, ``out = fg·α + bg·(1 − α)``, as the product does
on decoded frames (:mod:`relight_video`), with ``fg`` the subject's un-premultiplied colour.
"""

from __future__ import annotations

import numpy as np

from models.data.colour import luminance
from models.data.render import relight
from models.data.tonemap import tonemap


def composite(fg: np.ndarray, mask: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """``fg, bg (S, S, 3)`` display floats, ``mask (S, S)`` in [0, 1] → ``(S, S, 3)`` float32."""
    a = np.asarray(mask, np.float32)[..., None]
    return (fg * a + bg * (1 - a)).astype(np.float32)


def lit_display(olat: np.ndarray, weights: np.ndarray, exposure: float) -> np.ndarray:
    """Subject relit by ``weights (L, 3)`` and tone-mapped → display ``(S, S, 3)`` in [0, 1]."""
    return tonemap(relight(olat, weights), exposure)


def light_summary(weights: np.ndarray, light_dirs: np.ndarray) -> dict:
    """A compact description of the light reaching the subject from light-stage weights.

    - ``intensity``: luminance of ``Σ_l w_l`` (= ∫ L dω over the sphere);
    - ``colour``: RGB of ``Σ_l w_l`` scaled to unit luminance;
    - ``dominant_direction``: the luminance-weighted mean direction (normalised), with its
      ``elevation_deg`` / ``azimuth_deg`` (azimuth 0 = from behind the subject, ±180 = from the
      camera side, + = from the camera's right) and ``directionality`` = |mean| / total in
      [0, 1] (0 uniform, 1 a single light);
    - ``peak_light``: the brightest light: index, direction, share of the total.
    """
    w = np.asarray(weights, np.float64)
    dirs = np.asarray(light_dirs, np.float64)
    lum = np.clip(w @ np.array([0.2126, 0.7152, 0.0722]), 0, None)
    total = float(lum.sum())
    vec = (lum[:, None] * dirs).sum(0)
    norm = float(np.linalg.norm(vec))
    dom = vec / norm if norm > 0 else np.array([0.0, 1.0, 0.0])
    rgb = w.sum(0)
    colour = rgb / max(float(luminance(rgb.astype(np.float32))), 1e-12)
    peak = int(np.argmax(lum))
    return {
        "intensity": _r(total),
        "colour": [_r(c) for c in colour],
        "dominant_direction": [_r(c) for c in dom],
        "elevation_deg": _r(np.degrees(np.arcsin(np.clip(dom[1], -1, 1)))),
        "azimuth_deg": _r(np.degrees(np.arctan2(dom[0], -dom[2]))),
        "directionality": _r(norm / total if total > 0 else 0.0),
        "peak_light": {
            "index": peak,
            "direction": [_r(c) for c in dirs[peak]],
            "share": _r(lum[peak] / total if total > 0 else 0.0),
        },
    }


def _r(x) -> float:
    return round(float(x), 6)


def jsonable(x):
    """Numpy scalars/arrays and tuples → plain JSON types, floats rounded to 6 digits."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, bool | np.bool_):
        return bool(x)
    if isinstance(x, int | np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        return round(float(x), 6)
    return x
