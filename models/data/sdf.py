"""Signed distance primitives and smooth Boolean operators (Quilez, "distance functions",
https://iquilezles.org/articles/distfunctions/ and "smooth minimum").

Points are passed as three coordinate arrays ``x, y, z`` of equal shape ``(N,)`` (contiguous
components keep the numpy arithmetic fast); every function returns ``(N,)`` float32 distances,
negative inside. The ellipsoid distance is Quilez's bound ``k0 (k0 − 1) / k1``, exact on the
surface and close to it nearby, so sphere tracers should step by a factor < 1.
"""

from __future__ import annotations

import numpy as np

Vec = tuple[float, float, float]


def sphere(x: np.ndarray, y: np.ndarray, z: np.ndarray, c: Vec, r: float) -> np.ndarray:
    return np.sqrt((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2) - r


def ellipsoid(x: np.ndarray, y: np.ndarray, z: np.ndarray, c: Vec, r: Vec) -> np.ndarray:
    """Ellipsoid centred at ``c`` with semi-axes ``r`` (axis-aligned)."""
    qx, qy, qz = (x - c[0]) / r[0], (y - c[1]) / r[1], (z - c[2]) / r[2]
    k0 = np.sqrt(qx * qx + qy * qy + qz * qz)
    k1 = np.sqrt((qx / r[0]) ** 2 + (qy / r[1]) ** 2 + (qz / r[2]) ** 2)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-6)


def capsule(x: np.ndarray, y: np.ndarray, z: np.ndarray, a: Vec, b: Vec, r: float) -> np.ndarray:
    """Segment ``a``–``b`` swept by a ball of radius ``r``."""
    bax, bay, baz = b[0] - a[0], b[1] - a[1], b[2] - a[2]
    pax, pay, paz = x - a[0], y - a[1], z - a[2]
    h = np.clip((pax * bax + pay * bay + paz * baz) / (bax * bax + bay * bay + baz * baz), 0, 1)
    return np.sqrt((pax - h * bax) ** 2 + (pay - h * bay) ** 2 + (paz - h * baz) ** 2) - r


def smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum (smooth union) with blend radius ``k``; equals ``min(a, b)``
    wherever ``|a − b| ≥ k``, which lets callers skip far-away parts exactly."""
    if k <= 0:
        return np.minimum(a, b)
    h = np.maximum(k - np.abs(a - b), 0.0) / k
    return np.minimum(a, b) - h * h * k * 0.25


def smax(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Smooth maximum (smooth intersection; ``smax(a, −b)`` is a smooth subtraction)."""
    return -smin(-a, -b, k)
