"""Image-harmonization metrics (iHarmony4 protocol) and video temporal-consistency metrics.

Images are numpy ``(H, W, 3)`` RGB arrays, either uint8 (0..255) or float in [0, 1]; every
image metric is computed on the 0..255 scale, as the iHarmony4 benchmark does (Cong et al.,
"DoveNet: Deep Image Harmonization via Domain Verification", CVPR 2020), so a uint8 image and the
same image divided by 255 score the same.

Masks are ``(H, W)`` (or ``(H, W, 1)``) bool, float in [0, 1], or uint8 0/255 (a uint8 mask
whose values are all 0/1 is read as 0/1); the foreground is ``mask > 0.5`` of full scale.

Video metrics:

- :class:`WarpingError` / :func:`warping_error`: Lai et al., "Learning Blind Video Temporal
  Consistency", ECCV 2018. On the [0, 1] scale.
- :class:`Flicker`: change of the mean foreground luma from frame to frame, 0..255 scale.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from relight_video.errors import InputError

PSNR_CAP_DB = 100.0
"""PSNR reported for identical images (MSE = 0) instead of infinity."""

_SSIM_SIGMA = 1.5
_SSIM_TRUNCATE = 3.5  # Gaussian window radius = int(3.5 σ + 0.5) = 5 → 11 × 11, as skimage
_SSIM_K1, _SSIM_K2 = 0.01, 0.03
_REC709 = np.array([0.2126, 0.7152, 0.0722])


# ----------------------------------------------------------------------------- input checks


def _image_255(image: np.ndarray, name: str) -> np.ndarray:
    """``(H, W, 3)`` uint8 or float in [0, 1] → float64 on the 0..255 scale."""
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"{name}: expected an (H, W, 3) RGB image, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return arr.astype(np.float64)
    if not np.issubdtype(arr.dtype, np.floating):
        raise InputError(f"{name}: expected uint8 or float in [0, 1], got dtype {arr.dtype}")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise InputError(
            f"{name}: float images must lie in [0, 1], got values in [{lo:.3g}, {hi:.3g}] "
            "(pass uint8 for 0..255 images)"
        )
    return np.clip(arr.astype(np.float64), 0.0, 1.0) * 255.0


def _image_unit(image: np.ndarray, name: str) -> np.ndarray:
    """``(H, W, 3)`` uint8 or float in [0, 1] → float32 on the [0, 1] scale."""
    return (_image_255(image, name) / 255.0).astype(np.float32)


def _pair_255(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, t = _image_255(pred, "pred"), _image_255(target, "target")
    if p.shape != t.shape:
        raise InputError(f"pred is {p.shape} but target is {t.shape}; they must match")
    return p, t


def _foreground(mask: np.ndarray, hw: tuple[int, ...], name: str = "mask") -> np.ndarray:
    """``(H, W)`` bool: True where ``mask`` > 0.5 of its full scale."""
    m = np.asarray(mask)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[..., 0]
    if m.shape != tuple(hw):
        raise InputError(f"{name}: expected shape {tuple(hw)}, got {m.shape}")
    if m.dtype == bool:
        return m
    if m.dtype == np.uint8:
        return m > 0 if m.max(initial=0) <= 1 else m > 127
    if not np.issubdtype(m.dtype, np.floating):
        raise InputError(f"{name}: expected bool, uint8 0/255 or float in [0, 1], got {m.dtype}")
    if float(m.max(initial=0.0)) > 1 + 1e-3:
        raise InputError(f"{name}: float masks must lie in [0, 1], got max {float(m.max()):.3g}")
    return m > 0.5


def _psnr_from_mse(value: float) -> float:
    if value <= 0.0:
        return PSNR_CAP_DB
    return float(min(PSNR_CAP_DB, 10.0 * np.log10(255.0**2 / value)))


# ----------------------------------------------------------------------------- image metrics


def mse(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean squared error over all pixels and channels, on the 0..255 scale.

    Args:
        pred, target: ``(H, W, 3)`` uint8, or float in [0, 1].

    Returns:
        ``mean((pred − target)²)`` in 0..255², as iHarmony4's MSE.
    """
    p, t = _pair_255(pred, target)
    return float(np.mean((p - t) ** 2))


def psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """Peak signal-to-noise ratio, ``10 · log10(255² / MSE)`` dB (data range 255).

    Args:
        pred, target: ``(H, W, 3)`` uint8, or float in [0, 1].

    Returns:
        dB; identical images give :data:`PSNR_CAP_DB` (100) instead of infinity.
    """
    return _psnr_from_mse(mse(pred, target))


def _gaussian_kernel(sigma: float, truncate: float) -> np.ndarray:
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def ssim(pred: np.ndarray, target: np.ndarray) -> float:
    """Structural similarity with an 11 × 11 Gaussian window (σ = 1.5), averaged over channels.

    Wang, Bovik, Sheikh & Simoncelli, "Image Quality Assessment: From Error Visibility to
    Structural Similarity", IEEE TIP 2004: per channel, with local Gaussian-weighted means
    ``μ``, population variances ``σ²`` and covariance ``σ_xy``,

        SSIM = (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)),
        C1 = (0.01 · 255)², C2 = (0.03 · 255)²,

    averaged over the pixels at least 5 px from the border (where the window fits), then over
    the 3 channels. Matches ``skimage.metrics.structural_similarity(..., channel_axis=2,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)``.

    Args:
        pred, target: ``(H, W, 3)`` uint8, or float in [0, 1]; at least 11 × 11.

    Returns:
        SSIM in [-1, 1] (1 for identical images).
    """
    import cv2

    p, t = _pair_255(pred, target)
    kernel = _gaussian_kernel(_SSIM_SIGMA, _SSIM_TRUNCATE)
    pad = len(kernel) // 2
    if min(p.shape[:2]) < len(kernel):
        raise InputError(f"ssim: images must be at least {len(kernel)}×{len(kernel)} pixels")

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.sepFilter2D(x, cv2.CV_64F, kernel, kernel, borderType=cv2.BORDER_REFLECT)

    c1, c2 = (_SSIM_K1 * 255.0) ** 2, (_SSIM_K2 * 255.0) ** 2
    scores = []
    for c in range(3):
        x, y = np.ascontiguousarray(p[..., c]), np.ascontiguousarray(t[..., c])
        mx, my = blur(x), blur(y)
        vx = blur(x * x) - mx * mx
        vy = blur(y * y) - my * my
        vxy = blur(x * y) - mx * my
        s = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
        scores.append(s[pad:-pad, pad:-pad].mean())
    return float(np.mean(scores))


def fmse(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """Foreground MSE of the iHarmony4 / HYouTube benchmarks (DoveNet, Cong et al. CVPR 2020).

    With ``F = {(y, x) : mask(y, x) > 0.5}`` and images on the 0..255 scale,

        fMSE = Σ_{(y,x) ∈ F} Σ_{c ∈ RGB} (pred[y,x,c] − target[y,x,c])² / (3 · |F|)

    i.e. the MSE restricted to the foreground. This equals the reference evaluation's
    ``mse(pred · m, target · m) · H · W / Σ m`` for a binary mask ``m``.

    Args:
        pred, target: ``(H, W, 3)`` uint8, or float in [0, 1].
        mask: ``(H, W)`` foreground, see the module docstring.

    Returns:
        fMSE in 0..255².

    Raises:
        InputError: the mask has no foreground pixel.
    """
    p, t = _pair_255(pred, target)
    fg = _foreground(mask, p.shape[:2])
    n = int(fg.sum())
    if n == 0:
        raise InputError("mask: no foreground pixel (> 0.5); fMSE is undefined")
    return float(((p[fg] - t[fg]) ** 2).sum() / (3 * n))


def fpsnr(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """Foreground PSNR, ``10 · log10(255² / fMSE)`` dB; :data:`PSNR_CAP_DB` when fMSE = 0.

    Args:
        pred, target: ``(H, W, 3)`` uint8, or float in [0, 1].
        mask: ``(H, W)`` foreground, see :func:`fmse`.
    """
    return _psnr_from_mse(fmse(pred, target, mask))


def case_metrics(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """All image metrics of one harmonization case.

    Args:
        pred: harmonized ``(H, W, 3)`` image, uint8 or float in [0, 1].
        target: the real (ground-truth) image, same shape and convention.
        mask: ``(H, W)`` foreground mask.

    Returns:
        ``{"fmse", "fpsnr", "psnr", "ssim", "mse"}``: 0..255² for the MSEs, dB for the PSNRs.
    """
    m = mse(pred, target)
    f = fmse(pred, target, mask)
    return {
        "fmse": f,
        "fpsnr": _psnr_from_mse(f),
        "psnr": _psnr_from_mse(m),
        "ssim": ssim(pred, target),
        "mse": m,
    }


# ----------------------------------------------------------------------------- video metrics


def _frame_warp_error(
    out_prev: np.ndarray, out_cur: np.ndarray, flow_cur_to_prev: np.ndarray, valid: np.ndarray
) -> float | None:
    """Mean ``(out_cur − warp(out_prev))²`` over ``valid`` pixels and channels, [0, 1] scale."""
    from relight_video import flow as flowlib

    prev = _image_unit(out_prev, "out_prev")
    cur = _image_unit(out_cur, "out_cur")
    if prev.shape != cur.shape:
        raise InputError(f"output frames differ in shape: {prev.shape} vs {cur.shape}")
    if not valid.any():
        return None
    warped = flowlib.warp(prev, flow_cur_to_prev)
    return float(((cur[valid] - warped[valid]) ** 2).mean())


def warping_error(
    frames_out: Iterable[np.ndarray],
    flows_bwd: Iterable[np.ndarray],
    masks: Iterable[np.ndarray] | None = None,
) -> float:
    """Warping error of an output clip, Lai et al., "Learning Blind Video Temporal Consistency",
    ECCV 2018 (eq. 8), averaged over frames ``t ≥ 1``:

        E_t = Σ_x M_t(x) · ‖O_t(x) − Ô_{t−1}(x)‖² / (3 · Σ_x M_t(x)),   E = mean_t E_t

    where ``Ô_{t−1} = warp(O_{t−1}, flow_{t→t−1})`` is the previous output brought into frame
    ``t`` by the flow of the *input* clip, and ``M_t`` the non-occlusion (optionally ∧ foreground)
    mask. Values are on the [0, 1] scale, per colour element (the paper's per-pixel squared norm
    divided by 3). Frames whose mask is empty are skipped.

    Streams: all arguments may be iterators; only two frames are held at a time.

    Args:
        frames_out: ``T`` output frames ``(H, W, 3)``, uint8 or float in [0, 1].
        flows_bwd: ``T − 1`` flows ``(2, H, W)``; the ``k``-th maps input frame ``k + 1`` to
            input frame ``k`` (see :func:`relight_video.flow.estimate`).
        masks: ``T − 1`` masks ``(H, W)`` in frame ``k + 1`` (True / > 0.5 where compared), e.g.
            ``flow.occlusion_mask(...) & foreground``; ``None`` compares every pixel.

    Returns:
        The mean warping error; NaN when no frame pair had a pixel to compare.
    """
    frames = iter(frames_out)
    flows = iter(flows_bwd)
    mask_iter = iter(masks) if masks is not None else None
    prev = next(frames, None)
    errors: list[float] = []
    for t, cur in enumerate(frames, start=1):
        f = next(flows, None)
        m = next(mask_iter, None) if mask_iter is not None else None
        if f is None or (mask_iter is not None and m is None):
            raise InputError(f"warping_error: no flow/mask for frame {t}; expected T − 1 of each")
        hw = np.asarray(cur).shape[:2]
        valid = np.ones(hw, bool) if m is None else _foreground(m, hw, "masks")
        e = _frame_warp_error(prev, cur, f, valid)
        if e is not None:
            errors.append(e)
        prev = cur
    return float(np.mean(errors)) if errors else float("nan")


class WarpingError:
    """Streaming warping error (Lai et al. ECCV 2018) with the flow computed here.

    For each consecutive pair, the flow from the current to the previous *input* frame and the
    fwd–bwd visibility (Sundaram et al. ECCV 2010) come from :func:`relight_video.flow.flow_pair`;
    the previous *output* is warped into the current frame and compared on visible (and, with
    ``fg_mask``, foreground) pixels. See :func:`warping_error` for the formula; [0, 1] scale.

    Example::

        we = WarpingError(backend="dis")
        for (i0, i1), (o0, o1) in zip(pairs(inputs), pairs(outputs)):
            we.update(i0, i1, o0, o1, fg_mask=alpha1)
        print(we.value)
    """

    def __init__(
        self, backend: str = "dis", *, weights: str | Path | None = None, device: str = "cpu"
    ) -> None:
        self.backend = backend
        self.weights = weights
        self.device = device
        self._sum = 0.0
        self.count = 0

    def update(
        self,
        input_prev: np.ndarray,
        input_cur: np.ndarray,
        out_prev: np.ndarray,
        out_cur: np.ndarray,
        fg_mask: np.ndarray | None = None,
    ) -> float | None:
        """Add one frame pair.

        Args:
            input_prev, input_cur: input frames ``t − 1``, ``t``: ``(H, W, 3)`` uint8 RGB.
            out_prev, out_cur: output frames ``t − 1``, ``t``: same size, uint8 or float [0, 1].
            fg_mask: optional ``(H, W)`` foreground of frame ``t``; compares only there.

        Returns:
            This pair's error, or ``None`` when no pixel was visible (the pair is not counted).
        """
        from relight_video import flow as flowlib

        cur_to_prev, _, visible = flowlib.flow_pair(
            input_cur, input_prev, self.backend, weights=self.weights, device=self.device
        )
        if np.asarray(out_cur).shape[:2] != visible.shape:
            raise InputError(
                f"output frames are {np.asarray(out_cur).shape[:2]} but inputs are "
                f"{visible.shape}; warping error needs them at the same size"
            )
        if fg_mask is not None:
            visible = visible & _foreground(fg_mask, visible.shape, "fg_mask")
        e = _frame_warp_error(out_prev, out_cur, cur_to_prev, visible)
        if e is not None:
            self._sum += e
            self.count += 1
        return e

    @property
    def value(self) -> float:
        """Mean warping error over the pairs seen, [0, 1] scale; NaN before any pair."""
        return self._sum / self.count if self.count else float("nan")


class Flicker:
    """Mean absolute frame-to-frame change of the mean foreground luma.

    Per frame, ``L_t`` = mean over foreground pixels of the Rec. ITU-R BT.709 luma
    ``Y = 0.2126 R + 0.7152 G + 0.0722 B`` on the 0..255 scale; ``value = mean_t |L_t − L_{t−1}|``.
    A frame with an empty foreground breaks the chain (no difference across it).
    """

    def __init__(self) -> None:
        self._prev: float | None = None
        self._sum = 0.0
        self.count = 0

    def update(self, out_frame: np.ndarray, fg_mask: np.ndarray | None = None) -> float | None:
        """Add one output frame.

        Args:
            out_frame: ``(H, W, 3)`` uint8, or float in [0, 1].
            fg_mask: ``(H, W)`` foreground; ``None`` uses the whole frame.

        Returns:
            ``|L_t − L_{t−1}|`` for this frame, or ``None`` for the first one (or after a frame
            with no foreground).
        """
        img = _image_255(out_frame, "out_frame")
        luma = img @ _REC709
        if fg_mask is None:
            level: float | None = float(luma.mean())
        else:
            fg = _foreground(fg_mask, luma.shape, "fg_mask")
            level = float(luma[fg].mean()) if fg.any() else None
        delta = None
        if level is not None and self._prev is not None:
            delta = abs(level - self._prev)
            self._sum += delta
            self.count += 1
        self._prev = level
        return delta

    def cut(self) -> None:
        """The next frame starts a new shot: no difference is taken across the cut."""
        self._prev = None

    @property
    def value(self) -> float:
        """Mean ``|ΔL|`` in 0..255 luma levels; NaN before two frames were seen."""
        return self._sum / self.count if self.count else float("nan")
