import numpy as np
import pytest
from conftest import synthetic_greenscreen

from relight_video.errors import InputError
from relight_video.keying import ChromaKeyer, estimate_key, key_frame


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


@pytest.mark.parametrize("mode", ["green", "auto"])
def test_key_recovers_known_mask(mode):
    frame, alpha = synthetic_greenscreen(640, 360, 0.3, np.random.default_rng(1))
    a, despilled = ChromaKeyer(mode)(frame)
    assert a.shape == alpha.shape and a.dtype == np.float32
    assert iou(a > 0.5, alpha > 0.5) >= 0.98
    # soft edge: some pixels in between
    assert ((a > 0.05) & (a < 0.95)).sum() > 100


def test_spill_suppressed_on_foreground():
    frame, alpha = synthetic_greenscreen(320, 180, 0.0)
    a, despilled = ChromaKeyer("green")(frame)
    fg = alpha > 0.9
    excess_before = frame[..., 1].astype(int) - np.maximum(frame[..., 0], frame[..., 2])
    excess_after = despilled[..., 1].astype(int) - np.maximum(despilled[..., 0], despilled[..., 2])
    assert excess_before[fg].max() > 0
    assert excess_after[fg].max() <= 0


def test_blue_screen():
    frame, alpha = synthetic_greenscreen(320, 180, 0.0)
    frame = frame[..., [0, 2, 1]]  # swap G and B: a blue screen
    key = estimate_key(frame, "auto")
    assert key.channel == 2
    a, _ = key_frame(frame, key)
    assert iou(a > 0.5, alpha > 0.5) >= 0.98


def test_no_screen_is_a_clear_error():
    grey = np.full((90, 160, 3), 128, np.uint8)
    with pytest.raises(InputError, match="no green screen"):
        estimate_key(grey, "green")
