"""The camera: exposure, a filmic tone curve and the sRGB encoding, shared by every image the
light stage writes (subject, background, environment previews).

``display = sRGB_OETF(ACES(k · L))`` with the ACES filmic fit of Narkowicz ("ACES Filmic Tone
Mapping Curve", 2015), ``ACES(x) = x(2.51x + 0.03) / (x(2.43x + 0.59) + 0.14)``, and
:func:`relight_video.lighting.linear_to_srgb` (IEC 61966-2-1). The exposure ``k`` is chosen from
the light reaching the subject (:func:`auto_exposure`), so a subject and the background behind it
share one camera.
"""

from __future__ import annotations

import numpy as np

from models.data.colour import luminance
from relight_video.envmap import KEY, aces, tonemap  # noqa: F401  (the camera lives in the product)


def to_uint8(display: np.ndarray) -> np.ndarray:
    """Display values in [0, 1] → uint8 (rounded)."""
    return (np.clip(display, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def auto_exposure(weights: np.ndarray, light_dirs: np.ndarray, key: float = KEY) -> float:
    """Exposure that maps a white card facing the camera to ``key`` before tone mapping.

    ``weights (L, 3)`` are light-stage weights (:func:`models.data.envmaps.light_weights`); the
    card's irradiance blends the camera-facing cosine lobe (75 %) and the mean over all
    directions (25 %, so back-lit subjects are not pushed to extremes):
    ``E = 0.75 Σ w_l max(ω_l·z, 0) + 0.25 Σ w_l / 4``; its radiance is ``E/π``.
    """
    lum = luminance(np.asarray(weights, np.float32))
    front = float((lum * np.clip(np.asarray(light_dirs)[:, 2], 0, None)).sum())
    e = 0.75 * front + 0.25 * float(lum.sum()) / 4
    return float(key * np.pi / max(e, 1e-6))
