"""Spherical geometry: equirectangular grids, solid angles, Fibonacci light directions, yaw.

Equirectangular convention (``(H, W=2H)``): pixel ``(i, j)`` has elevation
``el = π/2 − (i + ½)·π/H`` and azimuth ``φ = (j + ½)·2π/W − π``; its direction is
``(sin φ cos el, sin el, −cos φ cos el)``. So the centre column (φ = 0) looks along −z, the view
of the camera; φ = ±π (the seam) is +z, behind the camera; φ grows to the camera's right.
"""

from __future__ import annotations

import functools

import numpy as np


def equirect_directions(height: int, supersample: int = 1) -> np.ndarray:
    """Unit directions of the (sub)pixel centres of an ``(H, 2H)`` map.

    Returns ``(H·s, 2H·s, 3)`` float32 for ``supersample = s`` (sub-pixels of pixel ``(i, j)``
    are rows ``i·s … i·s+s−1`` and the matching columns).
    """
    h, w = height * supersample, 2 * height * supersample
    el = np.pi / 2 - (np.arange(h) + 0.5) * np.pi / h
    phi = (np.arange(w) + 0.5) * 2 * np.pi / w - np.pi
    return angles_to_dirs(el[:, None], phi[None, :])


def angles_to_dirs(el: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Elevation and azimuth (radians, broadcastable) → unit directions ``(..., 3)`` float32."""
    el, phi = np.broadcast_arrays(el, phi)
    c = np.cos(el)
    return np.stack([np.sin(phi) * c, np.sin(el), -np.cos(phi) * c], -1).astype(np.float32)


def dirs_to_angles(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit directions ``(..., 3)`` → (elevation, azimuth) in radians, each ``(...)``."""
    el = np.arcsin(np.clip(d[..., 1], -1.0, 1.0))
    phi = np.arctan2(d[..., 0], -d[..., 2])
    return el, phi


def dirs_to_pixels(d: np.ndarray, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Directions ``(..., 3)`` → continuous (row, column) coordinates in an ``(H, 2H)`` map
    (pixel centres at integers)."""
    el, phi = dirs_to_angles(d)
    row = (np.pi / 2 - el) / np.pi * height - 0.5
    col = (phi + np.pi) / (2 * np.pi) * (2 * height) - 0.5
    return row.astype(np.float32), col.astype(np.float32)


@functools.lru_cache(maxsize=16)
def _solid_angles(height: int) -> np.ndarray:
    edges = np.pi / 2 - np.arange(height + 1) * np.pi / height
    band = np.sin(edges[:-1]) - np.sin(edges[1:])  # exact ∫cos(el) d(el) over the row
    return (band * (2 * np.pi / (2 * height))).astype(np.float64)


def pixel_solid_angles(height: int) -> np.ndarray:
    """Solid angle of each row's pixels of an ``(H, 2H)`` map, ``(H,)`` float64 (sr); exact, so
    ``2H · sum = 4π``."""
    return _solid_angles(height).copy()


def fibonacci_sphere(n: int) -> np.ndarray:
    """``n`` near-uniform unit directions ``(n, 3)`` float32 over the whole sphere.

    The spherical Fibonacci lattice (González, "Measurement of areas on a sphere using Fibonacci
    and latitude–longitude lattices", Math. Geosci. 2010): ``y_i = 1 − (2i+1)/n``, longitude
    advancing by the golden angle ``π(3 − √5)``. Every direction owns a Voronoi cell of about
    ``4π/n`` sr.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    i = np.arange(n, dtype=np.float64)
    y = 1 - (2 * i + 1) / n
    r = np.sqrt(np.clip(1 - y * y, 0, 1))
    theta = i * np.pi * (3 - np.sqrt(5))
    return np.stack([r * np.cos(theta), y, r * np.sin(theta)], -1).astype(np.float32)


def yaw_matrix(yaw_deg: float) -> np.ndarray:
    """Rotation ``(3, 3)`` about +y that moves azimuth φ to φ + yaw (to the camera's right).

    ``d(φ + ψ) = R d(φ)`` for the direction convention of this module.
    """
    a = np.deg2rad(yaw_deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]], np.float32)


def euler_matrix(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """Head-pose rotation ``(3, 3)`` = Rz(roll) · Ry(yaw) · Rx(pitch).

    Positive yaw turns a face that looks along +z towards +x (the camera's right), positive pitch
    tilts it up (towards +y), positive roll tilts its top towards −x.
    """
    y, p, r = np.deg2rad([yaw_deg, pitch_deg, roll_deg])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), np.sin(p)], [0, -np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return (rz @ ry @ rx).astype(np.float32)
