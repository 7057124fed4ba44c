"""Harmonization metrics against skimage and hand-computed values; video consistency metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from relight_video import flow, metrics
from relight_video.errors import InputError


def astronaut_crop(y: int = 40, x: int = 160, size: int = 96) -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[y : y + size, x : x + size])


def image_pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    """(natural, degraded natural), (natural, another crop), (random, noisy random)."""
    import cv2

    rng = np.random.default_rng(0)
    nat = astronaut_crop()
    blurred = cv2.GaussianBlur(nat, (0, 0), 1.2)
    noisy = np.clip(nat + rng.normal(0, 12, nat.shape), 0, 255).astype(np.uint8)
    rand = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    rand_noisy = np.clip(rand + rng.normal(0, 30, rand.shape), 0, 255).astype(np.uint8)
    return [(blurred, nat), (noisy, nat), (astronaut_crop(200, 100), nat), (rand_noisy, rand)]


# ----------------------------------------------------------------------------- image metrics


@pytest.mark.parametrize("pair", range(4))
def test_psnr_and_ssim_match_skimage(pair):
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    pred, target = image_pairs()[pair]
    ref_psnr = peak_signal_noise_ratio(target, pred, data_range=255)
    ref_ssim = structural_similarity(
        pred,
        target,
        channel_axis=2,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
    )
    assert metrics.psnr(pred, target) == pytest.approx(ref_psnr, abs=1e-3)
    assert metrics.ssim(pred, target) == pytest.approx(ref_ssim, abs=1e-3)
    assert ref_ssim < 0.99  # the pairs really differ


def test_ssim_of_identical_images_is_one():
    img = astronaut_crop()
    assert metrics.ssim(img, img) == pytest.approx(1.0, abs=1e-9)


def tiny_case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    target = np.zeros((2, 2, 3), np.uint8)
    pred = np.array(
        [[[10, 20, 30], [4, 0, 0]], [[100, 100, 100], [0, 0, 0]]],
        np.uint8,
    )
    mask = np.array([[255, 255], [0, 0]], np.uint8)  # foreground: the top row
    return pred, target, mask


def test_fmse_and_mse_by_hand():
    pred, target, mask = tiny_case()
    # foreground squared errors: 10² + 20² + 30² + 4² + 0² + 0² = 100 + 400 + 900 + 16 = 1416
    # fMSE = 1416 / (2 foreground pixels × 3 channels) = 236.0
    assert metrics.fmse(pred, target, mask) == pytest.approx(236.0)
    # MSE: (1416 + 3 × 100²) / (4 pixels × 3 channels) = 31416 / 12 = 2618.0
    assert metrics.mse(pred, target) == pytest.approx(2618.0)
    # fPSNR = 10 · log10(255² / 236) = 10 · log10(65025 / 236) = 24.40168...
    assert metrics.fpsnr(pred, target, mask) == pytest.approx(24.40168, abs=1e-4)


def test_mask_conventions_agree():
    pred, target, mask = tiny_case()
    expected = 236.0
    for m in (mask > 0, mask / 255.0, (mask > 0).astype(np.uint8), mask[..., None]):
        assert metrics.fmse(pred, target, m) == pytest.approx(expected)
    soft = np.array([[0.6, 0.51], [0.5, 0.2]])  # > 0.5 → foreground: the top row only
    assert metrics.fmse(pred, target, soft) == pytest.approx(expected)


def test_fpsnr_is_capped_when_the_foreground_is_exact():
    target = astronaut_crop()
    pred = target.copy()
    pred[:, :40] = 0  # background wrong, foreground exact
    mask = np.zeros(target.shape[:2], np.float32)
    mask[:, 50:] = 1.0
    assert metrics.fmse(pred, target, mask) == 0.0
    assert metrics.fpsnr(pred, target, mask) == metrics.PSNR_CAP_DB == 100.0
    assert metrics.psnr(pred, target) < 20.0
    assert metrics.psnr(target, target) == 100.0


def test_uint8_and_float_inputs_give_the_same_metrics():
    pred, target = image_pairs()[1]
    mask = np.zeros(target.shape[:2], np.uint8)
    mask[20:70, 30:80] = 255
    as_uint8 = metrics.case_metrics(pred, target, mask)
    as_float = metrics.case_metrics(
        pred.astype(np.float32) / 255, target.astype(np.float64) / 255, mask / 255.0
    )
    assert set(as_uint8) == {"fmse", "fpsnr", "psnr", "ssim", "mse"}
    for key, value in as_uint8.items():
        assert as_float[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    assert as_uint8["fmse"] > 0 and as_uint8["fpsnr"] < 100


def test_user_errors():
    pred, target, mask = tiny_case()
    with pytest.raises(InputError, match="no foreground"):
        metrics.fmse(pred, target, np.zeros((2, 2)))
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        metrics.psnr(pred.astype(np.float32), target)  # 0..255 floats
    with pytest.raises(InputError, match="must match"):
        metrics.mse(pred, np.zeros((2, 3, 3), np.uint8))
    with pytest.raises(InputError, match="mask"):
        metrics.fmse(pred, target, np.ones((3, 3)))


# ----------------------------------------------------------------------------- video metrics


def translating_clip(n: int = 5, size: int = 80, step: tuple[int, int] = (2, 1)):
    """Windows of the astronaut moving by ``step`` = (dx, dy) px per frame: pure translations."""
    from skimage import data

    img = data.astronaut()
    dx, dy = step
    return [
        np.ascontiguousarray(
            img[30 + dy * t : 30 + dy * t + size, 150 + dx * t : 150 + dx * t + size]
        )
        for t in range(n)
    ]


def flickering(frames: list[np.ndarray], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    gains = rng.uniform(0.6, 1.4, len(frames))
    return [np.clip(f * g, 0, 255).astype(np.uint8) for f, g in zip(frames, gains)]


def run_warping_error(inputs, outputs, fg_masks=None) -> metrics.WarpingError:
    we = metrics.WarpingError(backend="dis")
    for t in range(1, len(inputs)):
        fg = None if fg_masks is None else fg_masks[t]
        we.update(inputs[t - 1], inputs[t], outputs[t - 1], outputs[t], fg_mask=fg)
    return we


def test_warping_error_separates_stable_from_flickering_output():
    clip = translating_clip()
    stable = run_warping_error(clip, clip)
    flicker = run_warping_error(clip, flickering(clip))
    assert stable.count == flicker.count == len(clip) - 1
    assert stable.value < 1e-3
    assert flicker.value > 10 * stable.value
    assert flicker.value > 2e-3


def test_warping_error_on_the_foreground_only():
    clip = translating_clip()
    out = [f.copy() for f in clip]
    for f in out[1::2]:
        f[:, :30] = 255 - f[:, :30]  # flicker confined to the left columns
    right = np.zeros(clip[0].shape[:2], bool)
    right[:, 40:] = True
    left = ~right
    assert run_warping_error(clip, out, [right] * len(clip)).value < 1e-3
    assert run_warping_error(clip, out, [left] * len(clip)).value > 1e-2


def test_warping_error_function_matches_the_streaming_class():
    clip = translating_clip(n=4)
    out = flickering(clip, seed=3)
    flows, masks = [], []
    for t in range(1, len(clip)):
        cur_to_prev, _, visible = flow.flow_pair(clip[t], clip[t - 1])
        flows.append(cur_to_prev)
        masks.append(visible)
    value = metrics.warping_error(iter(out), iter(flows), iter(masks))
    assert value == pytest.approx(run_warping_error(clip, out).value, rel=1e-6)
    # without masks every pixel counts, including the strip that enters the frame: larger
    assert metrics.warping_error(clip, flows) > metrics.warping_error(clip, flows, masks)
    with pytest.raises(InputError, match="T − 1"):
        metrics.warping_error(clip, flows[:1])


def test_flicker_by_hand_and_on_clips():
    grey = [np.full((8, 8, 3), v, np.uint8) for v in (100, 110, 104)]
    fl = metrics.Flicker()
    assert fl.update(grey[0]) is None
    # luma of grey v is v (the Rec.709 weights sum to 1): |110 − 100| = 10, |104 − 110| = 6
    assert fl.update(grey[1]) == pytest.approx(10.0)
    assert fl.update(grey[2]) == pytest.approx(6.0)
    assert fl.value == pytest.approx(8.0)

    clip = translating_clip()
    mask = np.zeros(clip[0].shape[:2], np.uint8)
    mask[20:60, 20:60] = 255
    constant = metrics.Flicker()
    for _ in range(4):
        constant.update(clip[0], mask)
    assert constant.value == 0.0

    flicker = metrics.Flicker()
    for f in flickering([clip[0]] * 6):
        flicker.update(f, mask)
    assert flicker.value > 10.0


def test_flicker_uses_the_foreground_only():
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[:, 2:] = 200  # only the background (right half) changes
    mask = np.zeros((4, 4), bool)
    mask[:, :2] = True
    fl = metrics.Flicker()
    fl.update(a, mask)
    assert fl.update(b, mask) == 0.0
    whole = metrics.Flicker()
    whole.update(a)
    assert whole.update(b) == pytest.approx(100.0)
    assert math.isnan(metrics.Flicker().value)
