"""Chroma keying: key colour estimated from the frame border, soft matte, spill suppression.

The matte is a colour-difference key (the classic "G − max(R, B)" keyer of film compositing,
generalised to any key colour; see Wright, *Digital Compositing for Film and Video*, ch. 3):
for a key whose dominant channel is ``p`` and other channels ``q``,

    s = (C_p − max(C_q)) / (K_p − max(K_q))        (1 on the screen colour, ≤ 0 on neutrals)
    alpha = clip((hi − s) / (hi − lo), 0, 1)        hi = ``bg_level``, lo = ``fg_level``

Being a *ratio* of colour differences it is insensitive to uneven lighting of the screen (a
darker patch of green has a smaller difference, but so has its key estimate locally).
Spill: ``C_p ← C_p − spill · max(0, C_p − max(C_q))`` on the foreground (the excess of the key
channel over the others is removed), which also cleans semi-transparent edges.

Everything runs on ``uint8`` planes with OpenCV and a 256-entry lookup table, so a 1080p frame
keys in a few milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relight_video.errors import InputError

_CHANNEL = {"green": 1, "blue": 2}


@dataclass
class KeyColour:
    rgb: np.ndarray  # (3,) float32 in 0..255
    channel: int  # the dominant channel (1 = green, 2 = blue)

    @property
    def difference(self) -> float:
        others = [c for c in range(3) if c != self.channel]
        return float(self.rgb[self.channel] - max(self.rgb[others]))


def border_pixels(frame: np.ndarray, band: float = 0.04, max_side: int = 256) -> np.ndarray:
    """Pixels of the outer ``band`` of a frame, subsampled to about ``max_side`` per side:
    ``(N, 3)`` float32, 0..255."""
    step = max(1, max(frame.shape[:2]) // max_side)
    frame = frame[::step, ::step]  # a view: no full-frame work
    h, w = frame.shape[:2]
    b = max(1, int(round(band * min(h, w))))
    parts = [frame[:b].reshape(-1, 3), frame[-b:].reshape(-1, 3)]
    parts += [frame[b:-b, :b].reshape(-1, 3), frame[b:-b, -b:].reshape(-1, 3)]
    return np.concatenate(parts).astype(np.float32)


def estimate_key(frame: np.ndarray, mode: str = "auto") -> KeyColour:
    """Estimate the screen colour from the frame border.

    Args:
        frame: ``(H, W, 3) uint8`` RGB.
        mode: ``green``, ``blue`` or ``auto`` (whichever of the two covers more of the border).

    Raises:
        InputError: when too little of the border looks like a screen of that colour.
    """
    px = border_pixels(frame)
    r, g, b = px[:, 0], px[:, 1], px[:, 2]
    candidates = {
        "green": (g - np.maximum(r, b) > 20) & (g > 40),
        "blue": (b - np.maximum(r, g) > 20) & (b > 40),
    }
    if mode == "auto":
        mode = max(candidates, key=lambda k: candidates[k].sum())
    elif mode not in candidates:
        raise InputError(f"key: expected green, blue or auto, got {mode!r}")
    sel = candidates[mode]
    if sel.mean() < 0.15:
        raise InputError(
            f"no {mode} screen found on the frame border ({100 * sel.mean():.0f}% of border pixels "
            f"are {mode}); use --key auto/blue, --alpha or --matte person"
        )
    return KeyColour(rgb=np.median(px[sel], axis=0).astype(np.float32), channel=_CHANNEL[mode])


def key_frame(
    frame: np.ndarray,
    key: KeyColour,
    *,
    fg_level: float = 0.4,
    bg_level: float = 0.8,
    spill: float = 1.0,
    matte_blur: float = 0.6,
) -> tuple[np.ndarray, np.ndarray]:
    """Pull a matte and suppress spill.

    Args:
        frame: ``(H, W, 3) uint8`` RGB.
        key: the screen colour (:func:`estimate_key`).
        fg_level / bg_level: the normalised colour difference at or below which a pixel is fully
            foreground / at or above which it is fully screen.
        spill: 0..1, fraction of the key-channel excess removed from the foreground.
        matte_blur: Gaussian sigma in pixels applied to the matte (0 = none).

    Returns:
        ``(alpha, despilled)``: ``(H, W) float32`` in [0, 1] and ``(H, W, 3) uint8`` RGB.
    """
    import cv2

    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame: expected (H, W, 3) uint8, got {frame.shape}")
    if not 0.0 <= fg_level < bg_level:
        raise InputError(f"keying: need 0 <= fg_level < bg_level, got {fg_level}, {bg_level}")
    planes = list(cv2.split(frame))
    p = key.channel
    q1, q2 = (c for c in range(3) if c != p)
    excess = cv2.subtract(planes[p], cv2.max(planes[q1], planes[q2]))  # uint8, saturates at 0
    kd = max(key.difference, 1.0)
    s = np.arange(256, dtype=np.float32) / kd
    lut = np.clip((bg_level - s) / (bg_level - fg_level), 0.0, 1.0)
    alpha_u8 = cv2.LUT(excess, (lut * 255.0 + 0.5).astype(np.uint8))
    if matte_blur > 0:  # 8-bit blur: fixed point in OpenCV, 3x cheaper than float at 1080p
        alpha_u8 = cv2.GaussianBlur(alpha_u8, (0, 0), matte_blur)
    alpha = alpha_u8.astype(np.float32) * (1.0 / 255.0)
    if spill > 0:
        planes[p] = cv2.subtract(planes[p], cv2.convertScaleAbs(excess, alpha=spill))
    return alpha, cv2.merge(planes)


class ChromaKeyer:
    """Keys a clip frame by frame; the key colour is re-estimated per frame and smoothed over
    time with an exponential moving average (``smooth`` = weight of the past)."""

    def __init__(self, mode: str = "auto", *, smooth: float = 0.5, **params: float):
        self.mode, self.smooth, self.params = mode, smooth, params
        self._key: KeyColour | None = None

    def reset(self) -> None:
        self._key = None

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(H, W, 3) uint8`` → ``(alpha (H, W) float32, despilled (H, W, 3) uint8)``."""
        try:
            est = estimate_key(frame, self.mode if self._key is None else _mode(self._key))
        except InputError:
            if self._key is None:
                raise
            est = self._key  # a frame whose border is covered: keep the last key
        if self._key is not None:
            est = KeyColour(self.smooth * self._key.rgb + (1 - self.smooth) * est.rgb, est.channel)
        self._key = est
        return key_frame(frame, est, **self.params)


def _mode(key: KeyColour) -> str:
    return "green" if key.channel == 1 else "blue"
