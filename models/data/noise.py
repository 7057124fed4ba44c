"""Seeded lattice value noise and fractal sums (fBm) for procedural textures, vectorised.

Value noise: random values on the integer lattice, blended with the quintic fade
``6t⁵ − 15t⁴ + 10t³`` (Perlin, "Improving Noise", SIGGRAPH 2002); fractal Brownian motion sums
octaves of doubling frequency and halving amplitude (Musgrave, in Ebert et al., "Texturing and
Modeling: A Procedural Approach", 1994). Output of :meth:`ValueNoise.__call__` is in [0, 1].
"""

from __future__ import annotations

import numpy as np

_SIZE = 256


class ValueNoise:
    """2-D/3-D value noise with its own hash table drawn from ``seed``."""

    def __init__(self, seed: int):
        rng = np.random.default_rng(seed)
        perm = rng.permutation(_SIZE)
        self._perm = np.concatenate([perm, perm]).astype(np.int64)
        self._values = rng.random(_SIZE).astype(np.float32)
        self._offsets = rng.random((16, 3)).astype(np.float32) * 97.0

    def _hash(self, ix: np.ndarray, iy: np.ndarray, iz: np.ndarray) -> np.ndarray:
        p = self._perm
        return self._values[p[p[p[ix & 255] + (iy & 255)] + (iz & 255)]]

    def __call__(self, x: np.ndarray, y: np.ndarray, z: np.ndarray | float = 0.0) -> np.ndarray:
        """Noise at points given as broadcastable coordinate arrays → values in [0, 1], float32."""
        x, y, z = np.broadcast_arrays(
            np.asarray(x, np.float32), np.asarray(y, np.float32), np.asarray(z, np.float32)
        )
        fx, fy, fz = np.floor(x), np.floor(y), np.floor(z)
        ix, iy, iz = fx.astype(np.int64), fy.astype(np.int64), fz.astype(np.int64)
        u, v, w = _fade(x - fx), _fade(y - fy), _fade(z - fz)
        out = np.zeros(x.shape, np.float32)
        for dz, wz in ((0, 1 - w), (1, w)):
            for dy, wy in ((0, 1 - v), (1, v)):
                row = (1 - u) * self._hash(ix, iy + dy, iz + dz) + u * self._hash(
                    ix + 1, iy + dy, iz + dz
                )
                out += wz * wy * row
        return out

    def fbm(
        self,
        x: np.ndarray,
        y: np.ndarray,
        z: np.ndarray | float = 0.0,
        octaves: int = 4,
        lacunarity: float = 2.0,
        gain: float = 0.5,
    ) -> np.ndarray:
        """Fractal sum of ``octaves`` noise layers, normalised to [0, 1] (mean ≈ 0.5)."""
        total = np.zeros(np.broadcast_shapes(np.shape(x), np.shape(y), np.shape(z)), np.float32)
        amp, norm = 1.0, 0.0
        x, y, z = np.asarray(x, np.float32), np.asarray(y, np.float32), np.asarray(z, np.float32)
        for k in range(octaves):
            o = self._offsets[k % 16]
            total += amp * self(x + o[0], y + o[1], z + o[2])
            norm += amp
            amp *= gain
            # next octave: scaled and turned (36.9° about z, 22.6° about x) so the lattices of
            # successive octaves do not line up
            x, y, z = (
                lacunarity * (0.8 * x - 0.6 * y),
                lacunarity * (0.6 * x + 0.8 * y),
                lacunarity * z,
            )
            y, z = 0.923 * y - 0.385 * z, 0.385 * y + 0.923 * z
        return total / norm


def _fade(t: np.ndarray) -> np.ndarray:
    return t * t * t * (t * (t * 6 - 15) + 10)
