"""Detail transfer: carry a low-resolution harmonization to the full-resolution frame.

An engine works at a small working size; what it changed is a smooth, low-frequency gain
``G = blur(out·α) / blur(in·α)`` (normalised convolution, Knutsson & Westin 1993, so background
pixels never leak into the foreground's gain). ``G`` is upsampled and multiplied into the
full-resolution foreground, which keeps every detail, edge and identity cue of the source.
"""

from __future__ import annotations

import numpy as np


def lowfreq_gain(
    src: np.ndarray, out: np.ndarray, alpha: np.ndarray, sigma: float = 1.5, max_gain: float = 4.0
) -> np.ndarray:
    """Gain map ``(h, w, 3) float32`` with ``out ≈ src · gain`` at low frequencies.

    Args:
        src, out: ``(h, w, 3) float32`` in [0, 1], the engine's input and output foreground.
        alpha: ``(h, w) float32`` in [0, 1].
        sigma: Gaussian blur in working-resolution pixels.
    """
    import cv2

    w = np.clip(alpha, 0, 1)[..., None] + 1e-3
    num = cv2.GaussianBlur(out * w, (0, 0), sigma)
    den = cv2.GaussianBlur(src * w, (0, 0), sigma)
    return np.clip((num + 1e-3) / (den + 1e-3), 0.0, max_gain).astype(np.float32)


def scale_gain(gain: np.ndarray, strength: float, max_gain: float = 4.0) -> np.ndarray:
    """``gain ** strength``: the same change in log space, scaled (0 leaves the source as it
    is, 1 keeps the gain, 2 doubles every change in stops). Clipped to ``max_gain`` as
    :func:`lowfreq_gain` is; a strength of exactly 1 returns ``gain`` itself."""
    if strength == 1.0:
        return gain
    out = np.power(np.maximum(gain, 1e-6), np.float32(strength))
    return np.minimum(out, np.float32(max_gain)).astype(np.float32)


def apply_gain(frame: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Multiply ``(H, W, 3) uint8`` by a ``(h, w, 3)`` gain upsampled to ``(H, W)`` → uint8."""
    import cv2

    h, w = frame.shape[:2]
    if gain.shape[:2] != (h, w):
        gain = cv2.resize(gain, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.multiply(frame, gain, dtype=cv2.CV_8U)


def downscale(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-downscale to ``size = (w, h)``. A large reduction first takes OpenCV's integer-factor
    path to just above the target, then a small fractional area step: exact block means for
    integer factors, otherwise a touch softer at hard edges than a one-step area resize (under
    one level on average). In the 1080p video loop it costs a third of the one-step resize or
    of a 2x-target intermediate (measured 3.5 against 11 ms per frame beside the decoder and
    encoder threads)."""
    import cv2

    h, w = img.shape[:2]
    factor = min(w // size[0], h // size[1])
    if factor >= 2:
        img = cv2.resize(img, (w // factor, h // factor), interpolation=cv2.INTER_AREA)
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def composite(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``fg·α + bg·(1−α)`` for ``(H, W, 3) uint8`` images and ``(H, W) float32`` alpha (clipped
    to [0, 1]) → uint8.

    In 8-bit fixed point: alpha rounded to 1/255 and the two products rounded, so within 1.5
    levels of the float blend (exact where alpha is 0 or 1), and about 3x cheaper than
    ``cv2.blendLinear`` at 1080p."""
    import cv2

    a = cv2.threshold(np.asarray(alpha, dtype=np.float32), 0, 0, cv2.THRESH_TOZERO)[1]
    a8 = cv2.convertScaleAbs(a, alpha=255.0)  # rounds and saturates above 1
    a3 = cv2.merge([a8, a8, a8])
    fg_part = cv2.multiply(fg, a3, scale=1 / 255)
    return cv2.add(fg_part, cv2.multiply(bg, cv2.bitwise_not(a3), scale=1 / 255))
