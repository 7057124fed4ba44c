"""The classical (non-learned) engine: colour statistics transfer + spherical-harmonics shading.

1. Colour: Reinhard, Ashikhmin, Gooch & Shirley, "Color Transfer between Images", IEEE CG&A
   2001. Foreground and background are taken to the decorrelated lαβ space (linear RGB → LMS →
   log10 → lαβ); the foreground's per-channel mean moves towards the background's by
   ``color_strength`` and its spread is scaled by a damped, clipped ratio of spreads.
2. Light: SH lighting estimated from the background (:func:`lighting.background_sh`), normals
   from the silhouette (:func:`lighting.silhouette_normals`); the foreground is multiplied by the
   shading ratio ``E(n) / mean_fg E(n)``, so the side facing the bright part of the background
   brightens and the other side darkens, by ``light_strength``, clipped to ``±shading_range``.

Per-frame statistics are smoothed over time (exponential moving average) so a moving subject
does not flicker. It is the baseline and fallback, never the product's answer to lighting.
"""

from __future__ import annotations

import numpy as np

from relight_video.config import ClassicalConfig
from relight_video.lighting import (
    background_sh,
    linear_to_srgb,
    sh_irradiance,
    silhouette_normals,
    srgb_to_linear,
)

# Reinhard et al. 2001, eqs. 1–5 (RGB → LMS, then log-LMS → lαβ).
_RGB2LMS = np.array(
    [[0.3811, 0.5783, 0.0402], [0.1967, 0.7244, 0.0782], [0.0241, 0.1288, 0.8444]], np.float32
)
_LMS2LAB = np.diag([1 / np.sqrt(3), 1 / np.sqrt(6), 1 / np.sqrt(2)]).astype(np.float32) @ np.array(
    [[1, 1, 1], [1, 1, -2], [1, -1, 0]], np.float32
)
_LMS2RGB = np.linalg.inv(_RGB2LMS).astype(np.float32)
_LAB2LMS = np.linalg.inv(_LMS2LAB).astype(np.float32)


def rgb_to_lab(rgb_linear: np.ndarray) -> np.ndarray:
    """Linear RGB ``(..., 3)`` → Reinhard lαβ ``(..., 3)``."""
    lms = np.maximum(rgb_linear @ _RGB2LMS.T, 1e-4)
    return np.log10(lms) @ _LMS2LAB.T


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """Reinhard lαβ ``(..., 3)`` → linear RGB ``(..., 3)``."""
    return (10.0 ** (lab @ _LAB2LMS.T)) @ _LMS2RGB.T


def weighted_stats(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and standard deviation of ``x (..., C)`` with weights ``w (...)``."""
    w = w.reshape(-1, 1)
    x = x.reshape(-1, x.shape[-1])
    total = max(float(w.sum()), 1e-6)
    mean = (x * w).sum(0) / total
    std = np.sqrt(((x - mean) ** 2 * w).sum(0) / total)
    return mean, std


class ClassicalEngine:
    """``harmonize(fg, alpha, bg)`` at working resolution; keeps smoothed stats across frames."""

    name = "classical"

    def __init__(self, cfg: ClassicalConfig | None = None):
        self.cfg = cfg or ClassicalConfig()
        self.reset()

    # set by the video loop before a frame whose *keyed* light changed since the last frame:
    # this frame's plate under the last frame's keys (harmonize.FrameHarmonizer)
    last_keys_plate: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the statistics of the previous clip."""
        self._state: dict[str, np.ndarray] = {}
        self._bg_cache: tuple | None = None

    def _smooth(self, name: str, value: np.ndarray, ref: np.ndarray | None = None) -> np.ndarray:
        """Exponential smoothing of a statistic. With ``ref``, the same statistic under the last
        frame's keys, the smoothed value moves by the keyed change at once: ``value + k ·
        (previous − ref)``, the same as ``k · previous + (1 − k) · value`` when nothing was keyed."""
        k = self.cfg.temporal_smoothing
        prev = self._state.get(name)
        if prev is not None:
            value = k * prev + (1 - k) * value if ref is None else value + k * (prev - ref)
        self._state[name] = value
        return value

    @staticmethod
    def _plate_stats(bg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        bg_lin = srgb_to_linear(bg)
        mean, std = weighted_stats(rgb_to_lab(bg_lin), np.ones(bg.shape[:2], np.float32))
        return mean, std, background_sh(bg_lin)

    def _background_stats(self, bg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """lαβ mean/std and SH lighting of a plate; computed once while the plate is the same
        array object (a still background)."""
        if self._bg_cache is None or self._bg_cache[0] is not bg:
            self._bg_cache = (bg, *self._plate_stats(bg))
        return self._bg_cache[1:]

    def harmonize(self, fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray) -> np.ndarray:
        """Re-colour and re-light a foreground for a background.

        Args:
            fg: ``(h, w, 3) float32`` sRGB in [0, 1], the foreground colour.
            alpha: ``(h, w) float32`` in [0, 1].
            bg: ``(h, w, 3) float32`` sRGB in [0, 1], the new background.

        Returns:
            ``(h, w, 3) float32`` sRGB in [0, 1], the harmonized foreground (meaningful where
            ``alpha > 0``).
        """
        cfg = self.cfg
        fg_lin = srgb_to_linear(fg)
        weight = (alpha > 0.5).astype(np.float32)
        if weight.sum() < 4:  # no subject in this frame
            return fg

        # 1. colour statistics transfer in lαβ
        fg_lab = rgb_to_lab(fg_lin)
        f_mean, f_std = weighted_stats(fg_lab, weight)
        b_mean, b_std, sh = self._background_stats(bg)
        refs = (None, None, None)  # the plate's statistics under the last frame's keys
        if self.last_keys_plate is not None and self._state:
            refs = self._plate_stats(self.last_keys_plate)
        f_mean, f_std = self._smooth("f_mean", f_mean), self._smooth("f_std", f_std)
        b_mean, b_std = (
            self._smooth("b_mean", b_mean, refs[0]),
            self._smooth("b_std", b_std, refs[1]),
        )
        s = cfg.color_strength
        ratio = np.clip(b_std / np.maximum(f_std, 1e-4), 0.7, 1.4) ** (0.3 * s)
        ratio[0] = 1.0  # the subject's contrast is its own, not the plate's
        # chroma (α, β) moves by color_strength; luminance (l) by luminance_strength
        strength = np.array([cfg.luminance_strength, s, s], np.float32)
        new_mean = f_mean + strength * (b_mean - f_mean)
        out_lin = lab_to_rgb((fg_lab - f_mean) * ratio + new_mean)

        # 2. directional shading from the background's SH lighting
        if cfg.light_strength > 0:
            coeffs = self._smooth("sh", sh, refs[2])
            normals = silhouette_normals(alpha)
            irr = np.maximum(sh_irradiance(normals, coeffs), 1e-6)
            mean_irr = (irr * weight[..., None]).reshape(-1, 3).sum(0) / weight.sum()
            shading = irr / mean_irr
            r = cfg.shading_range
            gain = np.clip(1 + cfg.light_strength * (shading - 1), 1 - r, 1 + r)
            out_lin = out_lin * gain
        return linear_to_srgb(out_lin)


class CompositeEngine:
    """The untouched composite: the floor every engine is compared against."""

    name = "composite"

    def reset(self) -> None:
        pass

    def harmonize(self, fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray) -> np.ndarray:
        return fg
