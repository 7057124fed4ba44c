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


def _uneven_screen_disc(h=180, w=320, falloff=2.0, seed=0):
    """A grey disc with a soft (linear) edge on a green screen lit ``falloff`` times brighter
    on the right than on the left, as real screens are; returns (frame, alpha, fg colour)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 1.0 / falloff + (1.0 - 1.0 / falloff) * xx / (w - 1)
    screen = np.stack([50 * light, 175 * light, 70 * light], -1)
    r = np.hypot((xx - w * 0.55) / (w * 0.2), (yy - h * 0.6) / (h * 0.35))
    alpha = np.clip(1.2 - r, 0.0, 1.0)
    fg = np.array([140.0, 130.0, 125.0])
    img = fg * alpha[..., None] + screen * (1 - alpha[..., None]) + rng.normal(0, 2, (h, w, 3))
    return np.clip(img + 0.5, 0, 255).astype(np.uint8), alpha, fg


def test_unevenly_lit_screen_leaves_no_veil():
    """One key colour from the border left a veil of partial alpha over the darker side of
    the screen (23% of its pixels above 0.05); the local screen colour clears it."""
    frame, alpha, _ = _uneven_screen_disc()
    a, _ = ChromaKeyer("green")(frame)
    screen = alpha == 0
    assert (a[screen] > 0.05).mean() < 0.001, (a[screen] > 0.05).mean()
    assert (a[alpha == 1] > 0.99).mean() > 0.999  # the subject stays solid


def test_soft_edge_is_unmixed_from_the_screen():
    """Semi-transparent pixels hold part of the screen colour; composited over a new plate
    they must show that plate, not green: the soft band's error against the true composite
    drops (17.5 levels with despill alone on this frame, 15.4 un-mixed)."""
    frame, alpha, fg = _uneven_screen_disc(falloff=1.0)
    a, f = ChromaKeyer("green")(frame)
    soft = (alpha > 0.05) & (alpha < 0.95)
    plate = np.array([200.0, 60.0, 200.0])
    truth = alpha[..., None] * fg + (1 - alpha[..., None]) * plate
    comp = a[..., None] * f + (1 - a[..., None]) * plate
    assert np.abs(comp - truth)[soft].mean() < 16.0


def test_a_dark_screen_keys_when_named_but_auto_stays_strict():
    """An underexposed screen (G about 30) was refused even with --key green, with a hint to
    try --key auto/blue; named, it keys. ``auto`` (used when nothing is said) still refuses
    it, so that a green wall or grass at a frame's border is not taken for a screen."""
    frame, alpha = synthetic_greenscreen(320, 180, 0.0)
    dark = (frame.astype(np.float32) * 0.15).astype(np.uint8)
    a, _ = ChromaKeyer("green")(dark)
    assert iou(a > 0.5, alpha > 0.5) >= 0.95
    with pytest.raises(InputError, match="no green or blue screen found.*--matte person"):
        estimate_key(dark, "auto")


def test_a_wide_soft_edge_keys():
    """A matte soft over more than 32767 pixels (a long motion blur, a defocused subject)
    crashed an OpenCV remap in the un-mixing; the soft ramp must come out as a ramp."""
    h, w = 720, 480
    ramp = np.clip((np.arange(w) - 100) / 260.0, 0.0, 1.0)  # screen at the left, subject right
    alpha = np.broadcast_to(ramp, (h, w)).astype(np.float32)
    frame = alpha[..., None] * np.array([150.0, 120.0, 110.0]) + (1 - alpha[..., None]) * np.array(
        [50.0, 175.0, 70.0]
    )
    a, _ = ChromaKeyer("green")(np.clip(frame + 0.5, 0, 255).astype(np.uint8))
    row = a[h // 2]
    assert ((a > 0.01) & (a < 0.99)).sum() > 32767
    assert row[50] == 0 and row[-1] == 1 and np.all(np.diff(row[100:380]) >= -1e-6)


def _striped_disc(soft_px: float, outline: bool = False):
    """A navy/white striped disc with a linear soft edge of ``soft_px`` on a green screen (lit
    unevenly), its true alpha and colours; with ``outline``, a 3-px black rim inside the edge."""
    h, w = 240, 320
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    fg = np.where(((xx + 0.6 * yy) // 20 % 2 == 0)[..., None], [40, 60, 140], [225, 225, 215])
    d = np.hypot(xx - 160, (yy - 200) / 1.3)
    if outline:
        fg = np.where(((d > 147) & (d < 150))[..., None], [15, 15, 15], fg)
    alpha = np.clip((150 - d) / soft_px + 0.5, 0, 1)[..., None]
    screen = np.array([40, 155, 60], np.float32) * (0.9 + 0.2 * xx[..., None] / w)
    frame = np.clip(alpha * fg + (1 - alpha) * screen + 0.5, 0, 255).astype(np.uint8)
    return frame, alpha[..., 0], fg.astype(np.float32)


def test_a_dark_subject_mixed_with_the_screen_is_not_called_opaque():
    """Navy mixed with green has no green excess, so the colour-difference key calls the mix
    opaque and despill turns it teal: a fringe. Projecting the edge onto the line between the
    screen and the subject's own colour found inward recovers the coverage."""
    import cv2

    frame, truth, fg = _striped_disc(2.0)
    plate = np.array([90.0, 70.0, 65.0])
    band = cv2.dilate(((truth > 0.001) & (truth < 0.999)).astype(np.uint8), np.ones((5, 5))) > 0
    scores = {}
    for edge in (False, True):
        a, f = ChromaKeyer("green", edge_alpha=edge)(frame)
        comp = a[..., None] * f + (1 - a[..., None]) * plate
        want = truth[..., None] * fg + (1 - truth[..., None]) * plate
        cast = (comp[..., 1] - comp[..., [0, 2]].mean(-1)) - (
            want[..., 1] - want[..., [0, 2]].mean(-1)
        )
        scores[edge] = (
            np.abs(a - truth)[band].mean(),
            np.abs(comp - want)[band].mean(),
            cast[band].mean(),
        )
    (a_old, err_old, cast_old), (a_new, err_new, cast_new) = scores[False], scores[True]
    assert cast_old > 3 and abs(cast_new) < 1, scores  # the teal fringe, then none
    assert err_new < 0.7 * err_old and a_new < 0.6 * a_old, scores


def test_an_opaque_outline_at_the_edge_stays_opaque():
    """A dark rim just inside the edge is not on the line between the screen and the shirt's
    colour, so the edge re-estimate leaves it to the key: opaque, not see-through."""
    frame, truth, _ = _striped_disc(1.0, outline=True)
    a, _ = ChromaKeyer("green")(frame)
    yy, xx = np.mgrid[0 : truth.shape[0], 0 : truth.shape[1]]
    rim = (np.hypot(xx - 160, (yy - 200) / 1.3) > 147.5) & (
        np.hypot(xx - 160, (yy - 200) / 1.3) < 148.5
    )
    assert a[rim].mean() > 0.97, a[rim].mean()


def test_key_edges_script_prints_every_case():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "key_edges.py"
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    rows = [line for line in out.stdout.splitlines() if line.startswith("| ") and "→" in line]
    assert len(rows) == 15, out.stdout  # header, 2 widths × 2 chroma × 3 subjects, blue, hair
