import numpy as np

from relight_video.classical import ClassicalEngine, lab_to_rgb, rgb_to_lab
from relight_video.config import ClassicalConfig
from relight_video.lighting import (
    background_sh,
    dominant_direction,
    silhouette_normals,
    srgb_to_linear,
)


def to_lab(x):
    return rgb_to_lab(srgb_to_linear(x))


def _disc(n=64):
    yy, xx = np.mgrid[0:n, 0:n]
    return (((xx - n / 2) ** 2 + (yy - n / 2) ** 2) < (n / 3) ** 2).astype(np.float32)


def test_lab_round_trip():
    x = np.random.default_rng(0).uniform(0.01, 1, (100, 3)).astype(np.float32)
    assert np.allclose(lab_to_rgb(rgb_to_lab(x)), x, atol=1e-4)


def test_background_sh_points_at_the_bright_side():
    bg = np.full((60, 100, 3), 0.05, np.float32)
    bg[:, :30] = 1.0  # bright on the left
    d = dominant_direction(background_sh(bg))
    assert d[0] < -0.3  # x = right, so the light comes from the left
    mirrored = dominant_direction(background_sh(bg[:, ::-1].copy()))
    assert np.allclose(mirrored, d * np.array([-1, 1, 1]), atol=1e-4)
    top = np.full((60, 100, 3), 0.05, np.float32)
    top[:20] = 1.0  # bright sky
    assert dominant_direction(background_sh(top))[1] > 0.3


def test_silhouette_normals_face_outwards():
    n = silhouette_normals(_disc())
    assert n[32, 32, 2] > 0.95  # centre faces the camera
    assert n[32, 12, 0] < -0.3 and n[32, 52, 0] > 0.3  # left edge faces left, right edge right


def test_light_direction_follows_background():
    alpha = _disc()
    fg = np.full((64, 64, 3), 0.5, np.float32)
    left = np.full((64, 64, 3), 0.1, np.float32)
    left[:, :20] = 1.0
    right = left[:, ::-1].copy()
    eng = ClassicalEngine(ClassicalConfig(temporal_smoothing=0.0))
    out_l = eng.harmonize(fg, alpha, left)
    eng.reset()
    out_r = eng.harmonize(fg, alpha, right)
    # lit from the left: the left half of the subject is brighter than the right half
    assert out_l[:, 16:28].mean() > out_l[:, 36:48].mean() + 0.03
    assert out_r[:, 36:48].mean() > out_r[:, 16:28].mean() + 0.03


def test_colour_moves_towards_background():
    alpha = _disc()
    fg = np.full((64, 64, 3), 0.5, np.float32)
    warm = np.zeros((64, 64, 3), np.float32) + np.array([0.9, 0.5, 0.2], np.float32)
    out = ClassicalEngine(ClassicalConfig(light_strength=0.0)).harmonize(fg, alpha, warm)
    m = alpha > 0.5
    assert out[m, 0].mean() > out[m, 2].mean() + 0.1  # red above blue: warmed


def test_temporal_smoothing_damps_changes():
    alpha = _disc()
    rng = np.random.default_rng(0)
    bg = np.full((64, 64, 3), 0.4, np.float32)
    bg[..., 0] = 0.7
    # per-frame jumps in the subject's colour statistics (as noisy keying or motion would give)
    inputs = [np.full((64, 64, 3), 0.4 + 0.2 * rng.random(3), np.float32) for _ in range(40)]
    changes = {}
    for k in (0.0, 0.9):
        # colour statistics only (the shading here depends on the constant plate alone)
        eng = ClassicalEngine(ClassicalConfig(temporal_smoothing=k, light_strength=0.0))
        # the correction the engine applies (a shift in its lαβ space) should not jump with the
        # input's statistics
        corr = [
            (to_lab(eng.harmonize(x, alpha, bg)[alpha > 0.5]) - to_lab(x[0, 0])).mean(0)
            for x in inputs
        ]
        changes[k] = np.abs(np.diff(corr[20:], axis=0)).mean()  # past the EMA's warm-up
    assert changes[0.9] < 0.5 * changes[0.0]


def test_smoothing_passes_keyed_light_changes_at_once():
    """On a still clip under a keyed warming ramp the smoothed statistics give what unsmoothed
    ones give, frame for frame: the smoothing is for what the keys did not ask for (it once
    eased a ramp in about four frames late)."""
    from relight_video.harmonize import FrameHarmonizer
    from relight_video.keyframes import Keyframes

    rng = np.random.default_rng(2)
    frame = rng.integers(60, 200, (48, 64, 3), dtype=np.uint8)
    alpha = np.zeros((48, 64), np.float32)
    alpha[8:44, 16:48] = 1
    plate = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    keys = Keyframes.from_list(
        [{"frame": 0, "temperature_k": 6500}, {"frame": 6, "temperature_k": 2500}], 24.0, 8
    )
    outs = {}
    for k in (0.0, 0.8):
        h = FrameHarmonizer(ClassicalEngine(ClassicalConfig(temporal_smoothing=k)), 64, 48, 64)
        outs[k] = [h(frame, alpha, plate, lighting=keys.at(i))[1] for i in range(8)]
    warmth = {k: [float(o[..., 0].mean() - o[..., 2].mean()) for o in v] for k, v in outs.items()}
    assert warmth[0.0][6] - warmth[0.0][0] > 3  # the ramp warms the subject
    np.testing.assert_allclose(warmth[0.8], warmth[0.0], atol=0.05)
