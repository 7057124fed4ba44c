"""Background plates that agree with the lighting: perspective views of the environment.

The plate is what the camera sees behind the subject. Both share one geometry: the camera looks
along −z, so the plate is a pinhole view of the environment centred on −z (the centre column of
its equirectangular map, :mod:`models.data.sphere`), rendered from the subject's position (the
distant-environment assumption the lighting also makes). The light falling on the subject's
front comes from +z — behind the camera, the seam of the map — and is never in the plate; light
from behind the subject (a sun in the plate) rims it. A scene's yaw turns lighting and plate
together; there is no separate plate yaw.

Procedural scenes are evaluated along each pixel's ray at full resolution, so the plate shows
their geometry (textured ground plane, skyline, walls, rooms with furniture, studio backdrops),
not a blurred map; captured HDRIs are sampled bilinearly. An optional Gaussian defocus in linear
light imitates a portrait lens. Tone mapping is left to the caller, with the subject's exposure
(:mod:`models.data.tonemap`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.data.envmaps import Environment


@dataclass(frozen=True)
class View:
    """Plate camera: vertical = horizontal field of view (degrees), pitch (degrees, + = up),
    defocus blur (Gaussian σ as a fraction of the image width)."""

    fov: float = 55.0
    pitch: float = 0.0
    defocus: float = 0.0


def sample_view(rng: np.random.Generator) -> View:
    """A random plate camera: 35–75° field of view, ±8° pitch, no to moderate defocus."""
    blur = 0.0 if rng.random() < 0.4 else float(rng.uniform(0.002, 0.012))
    return View(fov=float(rng.uniform(35, 75)), pitch=float(rng.uniform(-8, 8)), defocus=blur)


def view_directions(size: int, view: View, supersample: int = 1) -> np.ndarray:
    """Unit ray directions ``(S·s, S·s, 3)`` float32 of a square pinhole camera looking along −z,
    pitched by ``view.pitch``."""
    n = size * supersample
    half = np.tan(np.deg2rad(view.fov) / 2)
    c = ((np.arange(n) + 0.5) / n * 2 - 1) * half
    x, y = np.meshgrid(c, -c)
    d = np.stack([x, y, -np.ones_like(x)], -1)
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    p = np.deg2rad(view.pitch)
    rot = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    return (d @ rot.T).astype(np.float32)


def render_background(
    env: Environment, size: int, view: View = View(), supersample: int = 2
) -> np.ndarray:
    """The plate ``(S, S, 3)`` float32 linear radiance (same units as the environment)."""
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    s = supersample
    d = view_directions(size, view, s).reshape(-1, 3)
    pix = np.deg2rad(view.fov) / (size * s)
    rad = env.radiance(d, pix).reshape(size, s, size, s, 3).mean((1, 3))
    if view.defocus > 0:
        import cv2

        rad = cv2.GaussianBlur(rad, (0, 0), view.defocus * size, borderType=cv2.BORDER_REFLECT)
    return rad.astype(np.float32)
