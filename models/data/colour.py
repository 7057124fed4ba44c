"""Colour helpers in linear Rec.709/sRGB primaries: luminance, black-body colours, tints.

Black-body colours integrate Planck's law against the CIE 1931 2° colour matching functions in
the multi-lobe Gaussian fit of Wyman, Sloan & Shirley ("Simple Analytic Approximations to the CIE
XYZ Color Matching Functions", JCGT 2013), then convert XYZ → linear sRGB (IEC 61966-2-1), and
normalise so that 6500 K is white ``(1, 1, 1)``.
"""

from __future__ import annotations

import functools

import numpy as np

REC709_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)
_XYZ_TO_SRGB = np.array(
    [[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]]
)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Relative luminance of linear RGB ``(..., 3)`` → ``(...)``."""
    return np.asarray(rgb, np.float32) @ REC709_LUMA


def _lobe(lam: np.ndarray, mu: float, s1: float, s2: float) -> np.ndarray:
    s = np.where(lam < mu, s1, s2)
    return np.exp(-0.5 * ((lam - mu) / s) ** 2)


def _cmf(lam: np.ndarray) -> np.ndarray:
    x = (
        1.056 * _lobe(lam, 599.8, 37.9, 31.0)
        + 0.362 * _lobe(lam, 442.0, 16.0, 26.7)
        - 0.065 * _lobe(lam, 501.1, 20.4, 26.2)
    )
    y = 0.821 * _lobe(lam, 568.8, 46.9, 40.5) + 0.286 * _lobe(lam, 530.9, 16.3, 31.1)
    z = 1.217 * _lobe(lam, 437.0, 11.8, 36.0) + 0.681 * _lobe(lam, 459.0, 26.0, 13.8)
    return np.stack([x, y, z], -1)


@functools.lru_cache(maxsize=512)
def _blackbody_raw(kelvin: float) -> tuple[float, float, float]:
    lam = np.arange(380.0, 781.0, 5.0)
    planck = lam**-5.0 / np.expm1(1.4388e7 / (lam * kelvin))  # λ in nm, c2 in nm·K
    xyz = planck @ _cmf(lam)
    rgb = np.clip(_XYZ_TO_SRGB @ xyz, 0.0, None)
    return tuple(float(v) for v in rgb / max(float(rgb @ REC709_LUMA), 1e-12))


def blackbody_rgb(kelvin: float) -> np.ndarray:
    """Colour of a black body at ``kelvin`` (1000–40000 K) as linear RGB ``(3,)`` float32,
    white-balanced to 6500 K and scaled to unit luminance."""
    kelvin = float(np.clip(kelvin, 1000.0, 40000.0))
    raw = np.array(_blackbody_raw(round(kelvin, 0)))
    white = np.array(_blackbody_raw(6500.0))
    rgb = raw / white
    return (rgb / float(rgb @ REC709_LUMA)).astype(np.float32)


def random_tint(rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """A colour cast ``(3,)`` of unit luminance: a colour-temperature shift (2700–12000 K) and a
    green–magenta offset, scaled by ``strength`` in [0, 1]."""
    t = blackbody_rgb(float(np.exp(rng.uniform(np.log(2700), np.log(12000)))))
    gm = 1.0 + strength * rng.uniform(-0.12, 0.12) * np.array([-0.5, 1.0, -0.5], np.float32)
    tint = (1 - strength) + strength * t * gm
    return (tint / float(luminance(tint))).astype(np.float32)
