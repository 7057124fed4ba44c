"""Hard-cut detection, and a new shot starting clean: the key, the engine and the metrics."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import synthetic_greenscreen, write_clip

from relight_video import io
from relight_video.config import load_run_config
from relight_video.cuts import CutDetector
from relight_video.errors import InputError
from relight_video.evaluate import evaluate_video, video_table
from relight_video.harmonize import harmonize_video
from relight_video.matte import mattes


def texture(seed: int, w: int = 320, h: int = 180) -> np.ndarray:
    """A smooth colour texture with structure at several scales."""
    import cv2

    rng = np.random.default_rng(seed)
    out = np.zeros((h, w, 3), np.float32)
    for cells in (4, 12, 40):
        noise = rng.uniform(0, 1, (cells * h // w + 1, cells, 3)).astype(np.float32)
        out += cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(out / 3 * 255, 0, 255).astype(np.uint8)


def pan(img: np.ndarray, n: int, step: int) -> list[np.ndarray]:
    """``n`` frames of a camera panning ``step`` px per frame across ``img`` (wrapping)."""
    return [np.roll(img, -i * step, axis=1) for i in range(n)]


def run(frames) -> list[int]:
    det = CutDetector()
    return [i for i, f in enumerate(frames) if det(f)]


def test_a_cut_between_two_pans_is_found_and_the_pans_are_not_cuts():
    a, b = pan(texture(0), 20, 6), pan(texture(1), 20, 6)
    assert run(a + b) == [20]


def test_an_exposure_change_in_a_pan_is_a_cut():
    frames = pan(texture(2), 20, 2)
    frames[10:] = [(f * np.float32(0.85)).astype(np.uint8) for f in frames[10:]]
    assert run(frames) == [10]


def test_exposure_cut_scores_low_on_layout_high_on_histogram():
    a, b = texture(2), (texture(2) * np.float32(0.85)).astype(np.uint8)
    det = CutDetector()
    det(a)
    assert det(b)
    layout, shift = det.last_score
    assert layout < det.threshold and shift >= det.histogram


def test_a_mirrored_layout_with_the_same_colours_is_a_cut_by_its_thumbnail():
    # left half dark blue, right half orange: mirrored, the histogram is the same
    img = np.zeros((90, 160, 3), np.uint8)
    img[:, :80], img[:, 80:] = (20, 30, 120), (230, 140, 40)
    det = CutDetector()
    det(img)
    assert det(np.ascontiguousarray(img[:, ::-1]))
    layout, shift = det.last_score
    assert layout >= det.threshold and shift < 0.5


def test_a_slow_drift_of_one_flat_colour_is_not_a_cut():
    # a plate of one colour warming 2 levels a frame: its histogram crosses bin edges, but
    # its distribution moves 2 levels at a time (binned histograms compared bin by bin fired)
    frames = [np.full((72, 128, 3), (100 + 2 * i, 90, 120 - 2 * i), np.uint8) for i in range(40)]
    assert run(frames) == []
    # float frames (1.0 = white, as the engine's plate) are read the same way
    assert run([f.astype(np.float32) / 255 for f in frames]) == []


def test_violent_motion_fires_at_most_on_its_first_three_frames():
    # a still camera whips into a pan of a quarter of the frame per frame: every frame a
    # large change; once the last five frames' median is large too, no more cuts
    frames = [texture(3)] * 6 + pan(texture(3), 30, 80)  # it moves from frame 7 on
    found = run(frames)
    assert found and set(found) <= {7, 8, 9}


def test_first_frame_and_a_still_clip_are_never_cuts():
    assert run([texture(4)] * 8) == []
    with pytest.raises(ValueError):
        CutDetector(ratio=0.5)


def test_cut_settings_are_checked():
    assert load_run_config(None, ("cuts.threshold=30",)).cuts.threshold == 30
    for bad in ("cuts.ratio=0.5", "cuts.histogram=0", "cuts.window=3"):
        with pytest.raises(InputError):
            load_run_config(None, (bad,))


def two_shots(tmp_path, n_a: int = 6, n_b: int = 6):
    """A green-screen take, then another on a darker, cooler screen, mirrored: PNG folders
    of both shots together and of the second alone (lossless, so outputs compare exactly)."""
    w, h = 96, 64
    a = [synthetic_greenscreen(w, h, i / 5)[0] for i in range(n_a)]
    grade = np.array([0.7, 0.8, 0.9], np.float32)
    b = []
    for i in range(n_b):
        mirrored = synthetic_greenscreen(w, h, 2 + i / 5)[0][:, ::-1]
        b.append((mirrored * grade).astype(np.uint8))
    both, alone = tmp_path / "ab", tmp_path / "b"
    for folder, frames in ((both, a + b), (alone, b)):
        folder.mkdir()
        for i, f in enumerate(frames):
            io.write_image(folder / f"{i:04d}.png", f)
    return both, alone, n_a


@pytest.mark.parametrize("engine", ["classical", "diffusion"])
def test_after_a_cut_the_clip_continues_as_if_the_new_shot_started_it(
    tmp_path, background_png, engine
):
    both, alone, cut = two_shots(tmp_path)
    outs = {}
    for name, src, detect in (("b", alone, "true"), ("on", both, "true"), ("off", both, "false")):
        out = tmp_path / f"out_{name}"
        out.mkdir()
        cfg = load_run_config(None, (f"cuts.detect={detect}",), engine=engine, key="green")
        stats = harmonize_video(src, background_png, out, config=cfg, progress=False)
        assert stats.cuts == ([cut] if name == "on" else [])
        outs[name] = list(io.read_frames(out))
    b = np.stack(outs["b"]).astype(int)
    np.testing.assert_array_equal(np.stack(outs["on"][cut:]), b)
    # without the detector the last shot's key colour and engine state carry over
    assert np.abs(np.stack(outs["off"][cut:]).astype(int) - b).mean() > 0.1


def test_eval_video_scores_within_shots(tmp_path, background_png):
    both, _, cut = two_shots(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    harmonize_video(both, background_png, out, engine="classical", key="green", progress=False)
    doc = evaluate_video(out, both, key="green", progress=False)
    assert doc["cuts"] == [cut]
    assert doc["frames"] == 12 and doc["warping_pairs"] == 12 - 2  # none across the cut
    assert f"2 (cuts at frames {cut})" in video_table(doc)


def test_run_names_the_cuts(tmp_path, background_png):
    from click.testing import CliRunner

    from relight_video.cli import main

    both, _, cut = two_shots(tmp_path)
    out = tmp_path / "out.mp4"
    args = ["run", both, "-b", background_png, "-o", out, "--key", "green", "-q"]
    r = CliRunner().invoke(main, [str(a) for a in args + ["--engine", "classical"]])
    assert r.exit_code == 0, r.output
    assert f"2 shots, cuts at frames {cut}" in r.output


def warmth_per_frame(tmp_path, clip, background, keys, runs: dict, **options) -> dict:
    """Each run's mean R - B of the subject per frame (``runs``: name -> settings)."""
    cfg = load_run_config(None, (), key="green")
    alphas = [m.alpha > 0.5 for m in mattes(cfg, clip, io.probe(clip))]
    warmth = {}
    for name, sets in runs.items():
        out = tmp_path / name
        out.mkdir()
        cfg = load_run_config(None, sets, key="green", **options)
        harmonize_video(clip, background, out, config=cfg, keyframes=keys, progress=False)
        frames = list(io.read_frames(out))
        warmth[name] = np.array(
            [float((f[a] @ np.float32([1, 0, -1])).mean()) for f, a in zip(frames, alphas)]
        )
    return warmth


def test_a_cut_in_a_background_clip_changes_the_light_at_once(tmp_path):
    """The video loop watches the light the engine reads: a background clip that cuts from one
    plate to another is a jump, and the classical engine's smoothed statistics must not ease
    it in over the next frames (keyed changes pass at once by themselves)."""
    clip = write_clip(tmp_path / "in.mp4", n=10, audio=False)
    plates = tmp_path / "plates"
    plates.mkdir()
    for i in range(10):
        colour = (120, 120, 120) if i < 5 else (230, 120, 30)
        io.write_image(plates / f"{i:04d}.png", np.full((64, 96, 3), colour, np.uint8))
    runs = {
        "unsmoothed": ("classical.temporal_smoothing=0",),
        "on": (),
        "off": ("cuts.detect=false",),
    }
    w = warmth_per_frame(tmp_path, clip, plates, None, runs, engine="classical")
    jump = w["unsmoothed"][5] - w["unsmoothed"][4]
    assert jump > 5  # the new plate does warm the subject
    assert w["on"][5] - w["on"][4] > 0.9 * jump
    assert w["off"][5] - w["off"][4] < 0.5 * jump  # eased in without the watch


@pytest.mark.parametrize("source", ["self", "folder"])
def test_every_matte_source_flags_the_cut(tmp_path, source):
    """The clip's own alpha and an alpha folder mark cuts too (the engine still has state)."""
    from relight_video.matte import mattes

    both, _, cut = two_shots(tmp_path)
    frames = list(io.read_frames(both))
    alphas = [synthetic_greenscreen(96, 64, i / 5)[1] for i in range(len(frames))]
    clip, masks = tmp_path / "rgba", tmp_path / "masks"
    clip.mkdir()
    masks.mkdir()
    for i, (f, a) in enumerate(zip(frames, alphas)):
        a8 = (a * 255).astype(np.uint8)
        io.write_image(clip / f"{i:04d}.png", np.dstack([f, a8]))
        io.write_image(masks / f"{i:04d}.png", a8)
    alpha = "self" if source == "self" else str(masks)
    cfg = load_run_config(None, (), alpha=alpha)
    src = clip if source == "self" else both
    flags = [m.cut for m in mattes(cfg, src, io.probe(src))]
    assert [i for i, c in enumerate(flags) if c] == [cut]


def test_a_keyed_cross_fade_of_plates_passes_flow_guidance_on_time(tmp_path):
    """On a still clip the subject's light follows a keyed cross-fade between two plates
    frame for frame, as unguided (guidance smooths what the keys did not ask for)."""
    frame = synthetic_greenscreen(96, 64, 0.0)[0]
    still = tmp_path / "still"
    still.mkdir()
    for i in range(10):
        io.write_image(still / f"{i:04d}.png", frame)
    grey, warm = tmp_path / "grey.png", tmp_path / "warm.png"
    io.write_image(grey, np.full((64, 96, 3), 120, np.uint8))
    io.write_image(warm, np.full((64, 96, 3), (230, 120, 30), np.uint8))
    keys = [{"frame": 1, "background": str(grey)}, {"frame": 8, "background": str(warm)}]
    runs = {"unguided": ("temporal.mode=none",), "flow": ()}
    w = warmth_per_frame(tmp_path, still, grey, keys, runs)
    assert w["unguided"][8] - w["unguided"][1] > 5  # the fade does warm the subject
    np.testing.assert_allclose(w["flow"], w["unguided"], atol=0.3)


def test_a_light_jump_keeps_the_env_map_the_frame_is_lit_from():
    """The light watch resets the engine, which forgets its env map: the map must be set
    after the reset, or the frame of the jump is lit from the plate."""
    from relight_video.harmonize import EnvLight, FrameHarmonizer
    from relight_video.keyframes import Keyframes

    class Engine:
        name = "echo"

        def __init__(self):
            self.env, self.lit_by = None, []

        def reset(self):
            self.env = None

        def set_env(self, env, exposure=None):
            self.env = env

        def harmonize(self, fg, alpha, bg):
            self.lit_by.append(self.env is not None)
            return fg

    keys = Keyframes.from_list(
        [
            {"frame": 0, "temperature_k": 6500},
            {"frame": 3, "temperature_k": 2000, "interpolation": "hold"},
        ],
        24.0,
        6,
    )
    env = EnvLight(np.ones((8, 16, 3), np.float32), 1.0)
    e = Engine()
    h = FrameHarmonizer(e, 64, 48, 64, light_cuts=CutDetector())
    frame, alpha = np.full((48, 64, 3), 100, np.uint8), np.ones((48, 64), np.float32)
    plate = texture(7, 64, 48)
    for i in range(6):
        h.prepare(frame, alpha, plate, lighting=keys.at(i), env=env)
    assert e.lit_by == [True] * 6
