"""Lighting estimates used by the classical engine.

- sRGB ↔ linear transfer (IEC 61966-2-1).
- Second-order spherical-harmonics (SH) lighting and irradiance, Ramamoorthi & Hanrahan,
  "An Efficient Representation for Irradiance Environment Maps", SIGGRAPH 2001: nine real SH
  coefficients per colour channel; irradiance ``E(n) = Σ A_l L_lm Y_lm(n)`` with
  ``A_0 = π, A_1 = 2π/3, A_2 = π/4``.
- Lighting from a background plate: the plate is read as a view of the environment, mapped to
  the hemisphere facing the subject (image left = light from the left, top = from above), the
  unseen hemisphere is filled with the plate's mean radiance.
- Normals from a silhouette: the alpha's distance transform is inflated into a round height field
  (the "blob" normals of Johnston, "Lumo", NPAR 2002).

Directions use x = right, y = up, z = towards the camera.
"""

from __future__ import annotations

import numpy as np

SH_BAND = np.array([0, 1, 1, 1, 2, 2, 2, 2, 2])
SH_CONVOLUTION = np.array([np.pi, 2 * np.pi / 3, np.pi / 4], np.float32)[SH_BAND]


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] → linear, same shape."""
    x = np.asarray(x, np.float32)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """Linear values → sRGB-encoded in [0, 1] (clipped), same shape."""
    x = np.clip(np.asarray(x, np.float32), 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055).astype(np.float32)


def sh_basis(d: np.ndarray) -> np.ndarray:
    """Real SH basis up to band 2. ``d (..., 3)`` unit vectors → ``(..., 9)``."""
    x, y, z = d[..., 0], d[..., 1], d[..., 2]
    return np.stack(
        [
            np.full_like(x, 0.282095),
            0.488603 * y,
            0.488603 * z,
            0.488603 * x,
            1.092548 * x * y,
            1.092548 * y * z,
            0.315392 * (3 * z * z - 1),
            1.092548 * x * z,
            0.546274 * (x * x - y * y),
        ],
        axis=-1,
    ).astype(np.float32)


def sh_irradiance(normals: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """Irradiance for ``normals (..., 3)`` under lighting ``coeffs (9, 3)`` → ``(..., 3)``."""
    return sh_basis(normals) @ (coeffs * SH_CONVOLUTION[:, None])


def background_sh(bg_linear: np.ndarray, half_fov: float = 1.7) -> np.ndarray:
    """Estimate SH lighting ``(9, 3)`` from a linear background plate ``(h, w, 3)``.

    Each pixel is a direction on the front hemisphere through a pinhole with
    ``tan(half horizontal fov) = half_fov``, weighted by its solid angle (∝ cos³θ); the back
    hemisphere is filled with the plate's mean radiance.
    """
    h, w = bg_linear.shape[:2]
    u = (np.arange(w, dtype=np.float32) + 0.5) / w * 2 - 1
    v = 1 - (np.arange(h, dtype=np.float32) + 0.5) / h * 2
    uu, vv = np.meshgrid(u * half_fov, v * half_fov * h / w)
    d = np.stack([uu, vv, np.ones_like(uu)], axis=-1)
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    # solid angle of a pixel on the image plane at distance 1: (pixel area) * cos^3(theta)
    pixel_area = (2 * half_fov / w) * (2 * half_fov * h / w / h)
    d_omega = pixel_area * d[..., 2] ** 3
    basis = sh_basis(d)  # (h, w, 9)
    coeffs = np.einsum("hwk,hwc,hw->kc", basis, bg_linear, d_omega)
    # The unseen part of the sphere: the plate's mean radiance, uniform.
    seen = d_omega.sum()
    mean = bg_linear.reshape(-1, 3).mean(axis=0)
    coeffs[0] += mean * 0.282095 * (4 * np.pi - seen)
    return coeffs.astype(np.float32)


def silhouette_normals(alpha: np.ndarray, smooth: float = 1.5) -> np.ndarray:
    """Approximate normals ``(h, w, 3)`` from a matte ``(h, w)`` in [0, 1].

    The distance to the silhouette edge is mapped through a circular profile (height
    ``R·sqrt(1 − (1 − d/R)²)``, R the largest inscribed radius), whose gradient gives normals that
    face the camera in the middle and turn sideways at the edges.
    """
    import cv2

    mask = (alpha > 0.5).astype(np.uint8)
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 5).astype(np.float32)
    radius = max(float(dist.max()), 1.0)
    t = np.clip(dist / radius, 0, 1)
    height = radius * np.sqrt(np.clip(1 - (1 - t) ** 2, 0, 1))
    if smooth > 0:
        height = cv2.GaussianBlur(height, (0, 0), smooth)
    gx = cv2.Sobel(height, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(height, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    n = np.stack([-gx, gy, np.ones_like(gx)], axis=-1)
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


def dominant_direction(coeffs: np.ndarray) -> np.ndarray:
    """The direction of the linear SH band (luminance-weighted): ``(3,)`` unit vector."""
    lum = coeffs @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    v = np.array([lum[3], lum[1], lum[2]], np.float32)
    n = np.linalg.norm(v)
    return v / n if n > 0 else np.array([0, 0, 1], np.float32)
