"""The full-resolution passes of the data path: downscale, gain, 8-bit composite."""

import cv2
import numpy as np

from relight_video.detail import apply_gain, composite, downscale, lowfreq_gain, scale_gain


def _images(h=90, w=160, seed=0):
    rng = np.random.default_rng(seed)
    fg = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    bg = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    alpha = rng.random((h, w), dtype=np.float32)
    alpha[:, :20], alpha[:, -20:] = 0.0, 1.0
    return fg, bg, alpha


def test_composite_is_the_float_blend_within_one_and_a_half_levels():
    fg, bg, alpha = _images()
    ref = fg * alpha[..., None] + bg * (1 - alpha[..., None])
    out = composite(fg, bg, alpha)
    assert out.dtype == np.uint8 and out.shape == fg.shape
    assert np.abs(out.astype(np.float64) - ref).max() <= 1.5 + 1e-6
    assert (out[:, :20] == bg[:, :20]).all() and (out[:, -20:] == fg[:, -20:]).all()


def test_composite_clips_out_of_range_alpha():
    fg, bg, _ = _images()
    alpha = np.full(fg.shape[:2], 1.5, np.float32)
    alpha[:, :80] = -0.5
    out = composite(fg, bg, alpha)
    assert (out[:, :80] == bg[:, :80]).all() and (out[:, 80:] == fg[:, 80:]).all()


def test_downscale_matches_area_resize():
    """The two-step downscale against OpenCV's one-step area resize, on a frame-like image
    (hard-edged shapes over a gradient, 1080p): close, and the same for an integer factor."""
    h, w = 1080, 1920
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = np.linspace(0, 255, w, dtype=np.float32)[None].astype(np.uint8)
    img[..., 2] = np.linspace(255, 0, h, dtype=np.float32)[:, None].astype(np.uint8)
    cv2.circle(img, (900, 500), 300, (250, 200, 40), -1)
    cv2.rectangle(img, (200, 100), (500, 900), (20, 90, 160), -1)
    cv2.putText(img, "relight", (1100, 900), cv2.FONT_HERSHEY_SIMPLEX, 6, (255, 255, 255), 12)
    for size in [(228, 128), (240, 135), (500, 281)]:
        ref = cv2.resize(img, size, interpolation=cv2.INTER_AREA).astype(np.float64)
        out = downscale(img, size)
        assert out.shape == (size[1], size[0], 3)
        assert np.abs(out - ref).mean() < 1.0, size
    exact = (240, 135)  # an integer factor: the same block means
    assert (downscale(img, exact) == cv2.resize(img, exact, interpolation=cv2.INTER_AREA)).all()


def test_gain_of_an_unchanged_image_is_one_and_applies_as_identity():
    fg, _, alpha = _images()
    small = downscale(fg, (40, 23)).astype(np.float32) / 255
    gain = lowfreq_gain(small, small, downscale(alpha, (40, 23)))
    assert np.allclose(gain, 1.0, atol=1e-5)
    assert (apply_gain(fg, gain) == fg).all()
    brighter = apply_gain(fg, np.full_like(gain, 1.2))
    ref = np.clip(np.rint(fg * 1.2), 0, 255)
    assert np.abs(brighter.astype(np.float64) - ref).max() <= 1


def test_strength_scales_the_gain_in_stops():
    gain = np.array([[[0.5, 1.0, 2.0], [3.0, 0.0, 1.25]]], np.float32)
    assert scale_gain(gain, 1.0) is gain
    np.testing.assert_allclose(scale_gain(gain, 0.0), 1.0)  # nothing of the change
    np.testing.assert_allclose(scale_gain(gain, 0.5)[0, 0], np.sqrt([0.5, 1.0, 2.0]), rtol=1e-6)
    doubled = scale_gain(gain, 2.0)
    np.testing.assert_allclose(doubled[0, 0], [0.25, 1.0, 4.0], rtol=1e-6)
    assert doubled[0, 1, 0] == 4.0  # 3**2 clipped to the gain ceiling
    assert doubled[0, 1, 1] < 1e-6 and doubled.dtype == np.float32
