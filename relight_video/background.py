"""Background plates: a still image or a clip, fitted to the output frame.

``fit``: ``cover`` (scale to fill, crop the overflow; the default, like CSS ``object-fit``),
``contain`` (scale to fit inside, letterbox with the plate's mean colour), ``stretch``.
A clip shorter than the input loops (``loop=True``) or holds its last frame. A clip at another
frame rate than the output is retimed (frames repeated or skipped), so it plays at its own speed.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from relight_video import io
from relight_video.errors import InputError

FITS = ("cover", "contain", "stretch")


def fit_to(img: np.ndarray, width: int, height: int, fit: str = "cover") -> np.ndarray:
    """Resize ``(h, w, 3) uint8`` to ``(height, width, 3)`` with the given fit."""
    import cv2

    if fit not in FITS:
        raise InputError(f"fit: expected one of {', '.join(FITS)}, got {fit!r}")
    h, w = img.shape[:2]
    if (h, w) == (height, width):
        return img
    if fit == "stretch":
        return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)
    scale = (max if fit == "cover" else min)(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(img, (nw, nh), interpolation=interp)
    if fit == "cover":
        x0, y0 = (nw - width) // 2, (nh - height) // 2
        return np.ascontiguousarray(resized[y0 : y0 + height, x0 : x0 + width])
    out = np.empty((height, width, 3), np.uint8)
    out[:] = resized.reshape(-1, 3).mean(axis=0).astype(np.uint8)
    x0, y0 = (width - nw) // 2, (height - nh) // 2
    out[y0 : y0 + nh, x0 : x0 + nw] = resized
    return out


class Background:
    """Yields one fitted background frame per output frame; iterate with :meth:`frames`.

    ``fps``: the output's frame rate; a clip at another rate is retimed to it (None: one clip
    frame per output frame). ``sar``: the output's pixel aspect; the plate is fitted to the
    frame as it is displayed (anamorphic footage: wider than stored), then squeezed to storage.
    """

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        *,
        fit: str = "cover",
        loop: bool = True,
        fps: Fraction | float | None = None,
        sar: Fraction = Fraction(1),
    ):
        self.path = Path(path)
        self.width, self.height, self.fit, self.loop = width, height, fit, loop
        self.fps = fps
        self.display_width = max(1, round(width * sar))
        if not self.path.exists():
            raise InputError(f"background not found: {self.path}")
        self.is_still = io.is_image_path(self.path)
        if self.is_still:
            img = io.read_image(self.path)
            self._still = self._fit(io._to_channels(img, 3))
        else:
            self.info = io.probe(self.path)  # validates the clip before any work

    def _fit(self, img: np.ndarray) -> np.ndarray:
        import cv2

        if not self.is_still and self.info.sar != 1:  # an anamorphic plate, as it is displayed
            h, w = img.shape[:2]
            img = cv2.resize(
                img, (max(1, round(w * self.info.sar)), h), interpolation=cv2.INTER_LINEAR
            )
        out = fit_to(img, self.display_width, self.height, self.fit)
        if self.display_width != self.width:
            out = cv2.resize(out, (self.width, self.height), interpolation=cv2.INTER_AREA)
        return out

    def _clip_frames(self) -> Iterator[np.ndarray]:
        """The clip's frames, then again (loop) or its last frame held, endlessly."""
        last = None
        while True:
            for frame in io.read_frames(self.path):
                last = frame
                yield frame
            if last is None:
                raise InputError(f"background clip has no frames: {self.path}")
            if not self.loop:
                while True:
                    yield last

    def frames(self) -> Iterator[np.ndarray]:
        """Endless iterator of ``(height, width, 3) uint8`` frames."""
        if self.is_still:
            while True:
                yield self._still
        # clip frames per output frame: 24 fps behind 30 fps shows 4 frames in 5
        step = 1.0 if self.fps is None else float(self.info.fps) / float(self.fps)
        if abs(step - 1.0) < 1e-3:
            step = 1.0
        source = self._clip_frames()
        k, frame = 0, next(source)
        fitted = self._fit(frame)
        i = 0
        while True:
            want = int(i * step + 1e-6)  # the clip frame shown at output frame i's time
            if want > k:
                for _ in range(want - k):
                    frame = next(source)
                k = want
                fitted = self._fit(frame)
            yield fitted
            i += 1
