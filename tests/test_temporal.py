"""Flow-guided temporal consistency with a tiny random diffusion model."""

import numpy as np
import pytest
import torch

from relight_video.config import DiffusionConfig
from relight_video.errors import InputError


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from test_networks import _pipeline, tiny_net

    net = tiny_net(seed=3)
    with torch.no_grad():  # make every part live so the output depends on noise and inputs
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    path = tmp_path_factory.mktemp("ckpt") / "tiny"
    _pipeline(net).save_pretrained(path)
    return path


def moving_clip(n=6, size=(64, 48), step=2):
    rng = np.random.default_rng(0)
    tex = rng.random((size[1], size[0] + n * step, 3)).astype(np.float32)
    tex = np.clip(tex * 0.5 + 0.25, 0, 1)
    frames, alphas = [], []
    for i in range(n):
        frames.append(np.ascontiguousarray(tex[:, i * step : i * step + size[0]]))
        a = np.zeros((size[1], size[0]), np.float32)
        a[6:42, 8:56] = 1
        alphas.append(a)
    return frames, alphas


def run_engine(engine, frames, alphas):
    bg = np.full(frames[0].shape, 0.5, np.float32)
    engine.reset()
    return [engine.harmonize(f, a, bg) for f, a in zip(frames, alphas)]


def warp_err(inputs, outputs, alphas):
    from relight_video.metrics import WarpingError

    w = WarpingError()
    u8 = [(np.clip(x, 0, 1) * 255).astype(np.uint8) for x in (*inputs, *outputs)]
    ins, outs = u8[: len(inputs)], u8[len(inputs) :]
    for t in range(1, len(ins)):
        w.update(ins[t - 1], ins[t], outs[t - 1], outs[t], alphas[t] > 0.5)
    return w.value


def test_flow_guidance_reduces_warping_error(checkpoint):
    from relight_video.diffusion_engine import DiffusionEngine
    from relight_video.temporal import FlowGuidedEngine

    frames, alphas = moving_clip()
    cfg = DiffusionConfig(model_size=48, steps=4)
    plain = run_engine(DiffusionEngine(cfg, str(checkpoint), seed=0), frames, alphas)
    guided_engine = FlowGuidedEngine(
        DiffusionEngine(cfg, str(checkpoint), seed=0), fraction=1.0, weight=1.0
    )
    guided = run_engine(guided_engine, frames, alphas)
    assert np.allclose(plain[0], guided[0])  # the first frame has nothing to follow
    e_plain, e_guided = warp_err(frames, plain, alphas), warp_err(frames, guided, alphas)
    assert e_guided < 0.7 * e_plain, (e_plain, e_guided)


def still_clip_gap(checkpoint, cfg, n=4):
    """Largest difference between plain and flow-guided output over a still clip, and the
    plain output of its first frame."""
    from relight_video.diffusion_engine import DiffusionEngine
    from relight_video.temporal import FlowGuidedEngine

    frames, alphas = moving_clip(n=1)
    frames, alphas = frames * n, alphas * n
    plain = run_engine(DiffusionEngine(cfg, str(checkpoint), seed=0), frames, alphas)
    guided = run_engine(
        FlowGuidedEngine(DiffusionEngine(cfg, str(checkpoint), seed=0), fraction=0.5, weight=0.8),
        frames,
        alphas,
    )
    return max(np.abs(p - g).max() for p, g in zip(plain, guided)), plain[0]


@pytest.mark.parametrize("samples,flip", [(1, False), (2, True)])
def test_guidance_does_not_drift_on_a_still_clip(checkpoint, samples, flip):
    # A still shot: each frame's step-i x0 equals the previous frame's, so guidance must change
    # nothing (fusing the previous *final* x0 into early steps fed back and drifted), also when
    # a batch of draws + mirrored copies goes through the temporal hook.
    cfg = DiffusionConfig(model_size=48, steps=4, samples=samples, flip=flip)
    gap, _ = still_clip_gap(checkpoint, cfg)
    assert gap < 1e-3


def test_averaged_draws_differ_from_one_draw(checkpoint):
    from relight_video.diffusion_engine import DiffusionEngine

    cfg = DiffusionConfig(model_size=48, steps=3, samples=2, flip=True)
    _, averaged = still_clip_gap(checkpoint, cfg, n=1)
    single = DiffusionConfig(model_size=48, steps=3, samples=1, flip=False)
    frames, alphas = moving_clip(n=1)
    one = run_engine(DiffusionEngine(single, str(checkpoint), seed=0), frames, alphas)
    assert np.abs(one[0] - averaged).max() > 1e-3


def test_per_frame_noise_is_fresh_and_seeded(checkpoint):
    from relight_video.diffusion_engine import DiffusionEngine

    frames, alphas = moving_clip(n=1)
    frames, alphas = frames * 2, alphas * 2
    cfg = DiffusionConfig(model_size=48, steps=2)
    engine = DiffusionEngine(cfg, str(checkpoint), seed=1, shared_noise=False)
    a = run_engine(engine, frames, alphas)
    b = run_engine(engine, frames, alphas)  # reset: the same stream again
    assert not np.allclose(a[0], a[1])  # the same frame, another draw
    assert np.array_equal(a[1], b[1])


def test_shared_noise_is_seeded(checkpoint):
    from relight_video.diffusion_engine import DiffusionEngine

    frames, alphas = moving_clip(n=2)
    cfg = DiffusionConfig(model_size=48, steps=3)
    a = run_engine(DiffusionEngine(cfg, str(checkpoint), seed=5), frames, alphas)
    b = run_engine(DiffusionEngine(cfg, str(checkpoint), seed=5), frames, alphas)
    c = run_engine(DiffusionEngine(cfg, str(checkpoint), seed=6), frames, alphas)
    assert np.array_equal(a[1], b[1])
    assert not np.allclose(a[1], c[1])


def test_guidance_needs_a_diffusion_engine():
    from relight_video.classical import ClassicalEngine
    from relight_video.temporal import FlowGuidedEngine

    with pytest.raises(InputError, match="needs the diffusion engine"):
        FlowGuidedEngine(ClassicalEngine())


def test_cli_temporal_none_and_flow(tmp_path, clip, background_png, checkpoint):
    from click.testing import CliRunner

    from relight_video import io
    from relight_video.cli import main

    outs = {}
    for mode in ("none", "flow"):
        out = tmp_path / f"{mode}.mp4"
        r = CliRunner().invoke(
            main,
            [
                "run",
                str(clip),
                "-b",
                str(background_png),
                "-o",
                str(out),
                "--engine",
                "diffusion",
                "--checkpoint",
                str(checkpoint),
                "--temporal",
                mode,
                "--set",
                "diffusion.steps=2",
                "-q",
            ],
        )
        assert r.exit_code == 0, r.output
        outs[mode] = list(io.read_frames(out))
    assert len(outs["none"]) == len(outs["flow"]) == io.probe(clip).num_frames
    # the guidance acts from the second frame on (x264's rate control sees later frames too,
    # so even frame 0 may differ slightly after encoding)
    diffs = [np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(*outs.values())]
    assert max(diffs[2:]) > 0.05, diffs


def test_square_window_centres_the_subject_in_a_square_of_the_short_side():
    from relight_video.diffusion_engine import square_window

    a = np.zeros((72, 128), np.float32)
    a[20:60, 50:70] = 1  # a subject in the middle of a 16:9 frame
    assert square_window(a) == (24, 0, 96, 72)
    a[:] = 0
    a[10:70, 0:30] = 1  # at the left edge: the square is clamped to the frame
    assert square_window(a) == (0, 0, 72, 72)
    a[:] = 0
    a[5:60, 100:128] = 0.5  # at the right edge
    assert square_window(a) == (56, 0, 128, 72)
    a[:] = 0
    a[30:50, 10:110] = 1  # wider than the short side: the window spans it, in steps of 9
    assert square_window(a) == (6, 0, 114, 72)  # 100 px: 72 + 4 steps of 9
    for right in (75, 76, 80):  # 73-78 px wide: one size, so fusion never skips a frame
        a[:] = 0
        a[10:60, 2:right] = 1
        x0, _, x1, _ = square_window(a)
        assert x1 - x0 == 81 and x0 <= 2 and x1 >= right
    portrait = np.zeros((128, 72), np.float32)
    portrait[90:120, 20:50] = 1  # portrait: a square along the long axis
    assert square_window(portrait) == (0, 56, 72, 128)
    assert square_window(np.zeros((72, 128), np.float32)) == (0, 0, 128, 72)  # empty matte
    assert square_window(np.ones((64, 64), np.float32)) == (0, 0, 64, 64)  # square frame


def test_engine_runs_the_model_on_the_window_only(checkpoint):
    from relight_video.diffusion_engine import DiffusionEngine

    rng = np.random.default_rng(1)
    fg = rng.random((48, 96, 3)).astype(np.float32)
    bg = rng.random((48, 96, 3)).astype(np.float32)
    a = np.zeros((48, 96), np.float32)
    a[4:46, 10:50] = 1  # 42 px tall: framed as a bust by the frame's height, no zoom
    engine = DiffusionEngine(DiffusionConfig(model_size=16), str(checkpoint), seed=0)
    assert engine.window(a) == (6, 0, 54, 48)
    out = engine.harmonize(fg, a, bg)
    assert np.array_equal(out[:, :6], fg[:, :6]) and np.array_equal(out[:, 54:], fg[:, 54:])
    engine.reset()
    crop = engine.harmonize(fg[:, 6:54], a[:, 6:54], bg[:, 6:54])
    np.testing.assert_allclose(out[:, 6:54], crop, atol=1e-6)
    whole = DiffusionEngine(DiffusionConfig(model_size=16, square=False), str(checkpoint), seed=0)
    assert whole.window(a) == (0, 0, 96, 48)
    assert not np.allclose(whole.harmonize(fg, a, bg)[:, 6:54], crop, atol=1e-3)


def test_a_small_subject_is_framed_like_a_bust_and_the_frame_holds_over_a_clip(checkpoint):
    from relight_video.diffusion_engine import DiffusionEngine, framed_side

    a = np.zeros((72, 128), np.float32)
    a[40:72, 50:74] = 1  # 32 px tall: 32 x 1.1 -> 36, under 0.8 of the 72 px side
    assert framed_side(a) == 36
    engine = DiffusionEngine(DiffusionConfig(model_size=16), str(checkpoint), seed=0)
    assert engine.window(a) == (44, 36, 80, 72)  # centred across, bottom on the subject's
    assert engine.window(a) == (44, 36, 80, 72)  # the same frame asked twice: the same window
    a[38:40, 50:74] = 1  # the matte grows by 2 px and still fits: the side holds (no rescale)
    assert engine.window(a) == (44, 36, 80, 72)
    a[30:38, 50:74] = 1  # 42 px tall: no longer fits in 36, re-framed at 48
    assert engine.window(a) == (38, 24, 86, 72)
    a[:] = 0
    a[60:72, 58:66] = 1  # much smaller: shrinks (16 px, the smallest window)
    assert engine.window(a) == (54, 56, 70, 72)
    a[:] = 0
    a[10:72, 40:90] = 1  # large again: the short side, as with no zoom
    assert engine.window(a) == (29, 0, 101, 72)
    engine.reset()
    square = np.zeros((64, 64), np.float32)
    square[40:64, 20:40] = 1  # a square frame zooms too
    assert engine.window(square) == (16, 36, 44, 64)  # 24 px tall: a 28 px square
    square[8:64, 4:60] = 1  # a bust-sized subject: the whole square frame
    engine.reset()
    assert engine.window(square) == (0, 0, 64, 64)


class _WindowEcho:
    """A stand-in engine whose x0 is its window of the frame at model size: the fused x0 shows
    what the flow guidance pulled in from the previous frame."""

    name = "echo"
    supports_env = False

    def __init__(self, square: bool):
        self.square, self.x0_hook, self.fused = square, None, []

    def reset(self):
        self.fused = []

    def window(self, alpha):
        from relight_video.diffusion_engine import square_window

        return square_window(alpha) if self.square else (0, 0, alpha.shape[1], alpha.shape[0])

    def model_size(self, w, h):
        return w, h

    def harmonize(self, fg, alpha, bg):
        x0, y0, x1, y1 = self.window(alpha)
        x = torch.from_numpy(np.ascontiguousarray(fg[y0:y1, x0:x1].transpose(2, 0, 1)))[None]
        self.fused.append((x, self.x0_hook(0, 1, x.clone())))
        return fg


@pytest.mark.parametrize("square", [True, False])
def test_guidance_follows_a_window_that_moves_with_the_subject(square):
    """A textured subject slides right, and the window with it: the previous frame's x0, warped
    by the flow and shifted by the window's move, lands on this frame's content."""
    from relight_video.temporal import FlowGuidedEngine

    rng = np.random.default_rng(2)
    tex = cv2_blur(rng.random((48, 160, 3)).astype(np.float32))
    frames, alphas = [], []
    for i in range(3):
        f = np.full((48, 96, 3), 0.5, np.float32)
        x = 20 + 6 * i
        f[8:40, x : x + 24] = tex[8:40, 40 : 40 + 24]
        a = np.zeros((48, 96), np.float32)
        a[8:40, x : x + 24] = 1
        frames.append(f)
        alphas.append(a)
    echo = _WindowEcho(square)
    engine = FlowGuidedEngine(echo, fraction=1.0, weight=1.0, gain_smoothing=0.0)
    run_engine(engine, frames, alphas)
    raw, fused = echo.fused[2]
    a = torch.from_numpy(alphas[2][None, None])
    if square:
        x0 = echo.window(alphas[2])[0]
        a = a[..., x0 : x0 + 48]
    inner = (a > 0.5) & (torch.nn.functional.avg_pool2d(a, 5, 1, 2) > 0.99)  # away from edges
    err = (fused - raw).abs().mean(1, keepdim=True)[inner].mean()
    assert err < 0.01, err  # without the window offset: 0.054


def cv2_blur(x):
    import cv2

    return cv2.GaussianBlur(x, (0, 0), 1.5)


@pytest.mark.parametrize("k", [0.0, 0.5, 1.0])
def test_gain_smoothing_blends_the_previous_frames_gain(k):
    """On a still clip (zero flow, all visible) frame t's gain becomes (1 - k)·own + k·previous
    smoothed gain; the previous gain must outlive the state of frame t-1 (it once did not, and
    the smoothing never ran)."""
    from relight_video.temporal import FlowGuidedEngine

    rng = np.random.default_rng(4)
    frame = cv2_blur(rng.random((48, 64, 3)).astype(np.float32))
    alpha = np.ones((48, 64), np.float32)
    engine = FlowGuidedEngine(_WindowEcho(False), gain_smoothing=k)
    engine.reset()
    bg = np.full(frame.shape, 0.5, np.float32)
    got, want = [], None
    for own in (1.0, 2.0, 4.0):
        engine.harmonize(frame, alpha, bg)
        g = engine.smooth_gain(np.full((48, 64, 3), own, np.float32))
        want = own if want is None else (1 - k) * own + k * want
        got.append((float(g[10:38, 10:54].mean()), want))
    for g, w in got:
        assert abs(g - w) < 1e-3, got
    engine.reset()  # a new clip starts from its own gain
    engine.harmonize(frame, alpha, bg)
    assert float(engine.smooth_gain(np.full((48, 64, 3), 3.0, np.float32)).mean()) == 3.0


def _ramp_keys(n: int):
    from relight_video.keyframes import Keyframes

    keys = [{"frame": 0, "temperature_k": 6500}, {"frame": n - 2, "temperature_k": 2500}]
    return Keyframes.from_list(keys, 24.0, n)


@pytest.mark.parametrize("steps", [1, 4])
def test_keyed_light_passes_flow_guidance_without_lag(checkpoint, steps):
    """On a still clip the guided output under a keyed warming ramp equals the unguided one
    frame for frame: guidance smooths what else changes, not the keyed light (it once eased
    a ramp in, about three frames late at the default weights)."""
    from relight_video.diffusion_engine import DiffusionEngine
    from relight_video.harmonize import FrameHarmonizer
    from relight_video.temporal import FlowGuidedEngine

    n, rng = 8, np.random.default_rng(5)
    frame = (cv2_blur(rng.random((48, 64, 3)).astype(np.float32)) * 255).astype(np.uint8)
    alpha = np.zeros((48, 64), np.float32)
    alpha[6:42, 12:52] = 1
    plate = np.full((48, 64, 3), 128, np.uint8)
    keys, cfg = _ramp_keys(n), DiffusionConfig(model_size=48, steps=steps)
    outs = {}
    for guided in (False, True):
        engine = DiffusionEngine(cfg, str(checkpoint), seed=0)
        if guided:
            engine = FlowGuidedEngine(engine)
        engine.reset()
        h = FrameHarmonizer(engine, 64, 48, 64)
        outs[guided] = [h(frame, alpha, plate, lighting=keys.at(i))[1] for i in range(n)]
    warmth = [[float(o[..., 0].mean() - o[..., 2].mean()) for o in outs[g]] for g in outs]
    assert warmth[0][-1] - warmth[0][0] > 1  # the ramp does warm the subject
    np.testing.assert_allclose(warmth[1], warmth[0], atol=0.05)


def test_only_keyed_changes_are_passed_unsmoothed():
    """A moving plate is smoothed as ever (no second pass); a keyed change hands the engine
    this frame's plate under the last frame's keys."""
    from relight_video.harmonize import FrameHarmonizer

    class Engine:  # records what the harmonizer hands it
        name, last_keys_plate = "echo", None

        def harmonize(self, fg, alpha, bg):
            self.seen = self.last_keys_plate
            return fg

    rng = np.random.default_rng(6)
    frame, alpha = np.full((48, 64, 3), 100, np.uint8), np.ones((48, 64), np.float32)
    plates = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(3)]
    e = Engine()
    h = FrameHarmonizer(e, 64, 48, 64)
    for p in plates:  # no keys, a plate clip
        h.prepare(frame, alpha, p)
        assert e.seen is None
    keys = _ramp_keys(6)
    h.prepare(frame, alpha, plates[0], lighting=keys.at(1))
    h.prepare(frame, alpha, plates[1], lighting=keys.at(1))  # the same keyed light
    assert e.seen is None
    h.prepare(frame, alpha, plates[2], lighting=keys.at(2))
    want = keys.at(1).apply_to_plate(plates[2].astype(np.float32) / 255)
    np.testing.assert_allclose(e.seen, want, atol=1e-6)


def test_keyed_yaw_turns_the_env_map_not_the_plate():
    """Lit from an env map, a keyed yaw turns the map; the plate the engine reads keeps its
    place (only its keyed colour changes). Lit from the plate, the plate is rolled."""
    from relight_video.harmonize import EnvLight, FrameHarmonizer
    from relight_video.keyframes import Keyframes

    class Engine:  # records the plate and env map the harmonizer hands it
        name = "echo"

        def set_env(self, env, exposure):
            self.env = env

        def harmonize(self, fg, alpha, bg):
            self.plate = bg
            return fg

    rng = np.random.default_rng(7)
    frame, alpha = np.full((48, 64, 3), 100, np.uint8), np.ones((48, 64), np.float32)
    plate = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    env = rng.random((16, 32, 3)).astype(np.float32)
    keys = Keyframes.from_list(
        [{"frame": 0, "yaw_deg": 0, "temperature_k": 6500}, {"frame": 4, "yaw_deg": 60}], 24.0, 5
    )
    light = keys.at(4)
    e = Engine()
    h = FrameHarmonizer(e, 64, 48, 64)
    h.prepare(frame, alpha, plate, lighting=light, env=EnvLight(light.apply_to_env(env), 1.0))
    np.testing.assert_allclose(e.plate, plate.astype(np.float32) / 255, atol=1e-5)
    assert np.abs(e.env - env).max() > 0.1  # the map itself turned
    h.prepare(frame, alpha, plate, lighting=light)  # no map: the plate carries the turn
    assert np.abs(e.plate - plate.astype(np.float32) / 255).max() > 0.1


@pytest.mark.parametrize("samples,flip", [(1, True), (2, True), (2, False)])
def test_two_lights_in_one_batch_equal_two_runs(checkpoint, samples, flip):
    from relight_video.diffusion_engine import DiffusionEngine

    frames, alphas = moving_clip(n=1)
    bg1 = np.full(frames[0].shape, 0.3, np.float32)
    bg2 = np.full(frames[0].shape, 0.3, np.float32) * np.float32([1.6, 1.0, 0.5])
    cfg = DiffusionConfig(model_size=48, steps=2, samples=samples, flip=flip)
    engine = DiffusionEngine(cfg, str(checkpoint), seed=0)
    engine.reset()
    one, two = (engine.harmonize(frames[0], alphas[0], b) for b in (bg1, bg2))
    both = engine.harmonize(frames[0], alphas[0], bg1, alt=(bg2, None))
    assert np.abs(one - two).max() > 1e-3  # the two lights differ
    np.testing.assert_allclose(both[0], one, atol=1e-5)
    np.testing.assert_allclose(both[1], two, atol=1e-5)


def _textured(rng, h, w):
    import cv2

    tex = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 1.5)
    return ((tex - tex.mean()) / tex.std() * 30 + 128).astype(np.float32)  # std 30 levels


def _noisy(clean, rng, sigma=6.0):
    return np.clip(clean + rng.normal(0, sigma, clean.shape) + 0.5, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("k", [0.3, 0.5, 0.7])
def test_stabilizer_lowers_still_noise_by_the_recursive_filters_factor(k):
    """Still footage with fresh noise every frame (zero flow, all visible): the recursive filter
    leaves (1 − k) / (1 + k) of the noise's variance once settled."""
    from relight_video.temporal import Stabilizer

    rng = np.random.default_rng(0)
    clean = _textured(rng, 96, 128)
    stab = Stabilizer(k)
    motion = (np.zeros((2, 24, 32), np.float32), np.ones((24, 32), bool))
    ratios = []
    for t in range(40):
        fg = _noisy(clean, rng)
        out = stab(fg, motion if t else None)
        if t >= 20:  # settled
            ratios.append(np.var(out - clean) / np.var(fg - clean))
    assert abs(np.mean(ratios) - (1 - k) / (1 + k)) < 0.05, (np.mean(ratios), k)


def test_stabilizer_follows_motion_and_leaves_hidden_pixels_alone():
    """A textured frame sliding 3 px a frame (flow given at a quarter of the resolution, as the
    engine's working size gives it): the output tracks the content, closer to the clean frame
    than the noisy footage (a stabiliser that ignored the flow would smear it); pixels marked
    not visible, and a frame without motion (a cut), are the footage itself."""
    from relight_video.temporal import Stabilizer

    rng = np.random.default_rng(1)
    wide = _textured(rng, 96, 128 + 3 * 30)
    stab = Stabilizer(0.5)
    vis = np.ones((24, 32), bool)
    vis[:, :4] = False  # the left band: disoccluded
    flow = np.zeros((2, 24, 32), np.float32)
    flow[0] = -3 / 4  # this frame's pixel x was at x - 3 px in the last frame (full resolution)
    errs_in, errs_out = [], []
    for t in range(30):
        clean = wide[:, 3 * t : 3 * t + 128][:, ::-1]  # content moves right by 3 px a frame
        clean = np.ascontiguousarray(clean)
        fg = _noisy(clean, rng)
        out = stab(fg, (flow, vis) if t else None)
        if t == 0:
            assert out is fg
        if t >= 10:
            inner = np.s_[4:-4, 24:-4]
            errs_in.append(np.mean((fg[inner] - clean[inner]) ** 2))
            errs_out.append(np.mean((out[inner] - clean[inner]) ** 2))
            np.testing.assert_array_equal(out[:, :12], fg[:, :12])  # hidden band untouched
    assert np.mean(errs_out) < 0.6 * np.mean(errs_in), (np.mean(errs_out), np.mean(errs_in))
    fg = _noisy(wide[:, :128], rng)
    assert stab(fg, None) is fg  # a cut: the footage as it is, and the filter starts afresh


def test_stabilizer_weight_is_checked():
    from relight_video.config import load_run_config
    from relight_video.temporal import Stabilizer

    for bad in (1.0, -0.1):
        with pytest.raises(InputError, match="temporal.stabilize"):
            Stabilizer(bad)
        with pytest.raises(InputError, match="temporal.stabilize"):
            load_run_config(None, (f"temporal.stabilize={bad}",))


def test_stabilizer_runs_in_the_video_loop_and_zero_turns_it_off(tmp_path, checkpoint):
    """A still subject with fresh noise every frame through `harmonize_video`: the default
    stabiliser lowers the output's warping error, `temporal.stabilize=0` gives the unstabilised
    output, and a keyed ramp of intensity arrives on time (the stabiliser filters the footage,
    not the light)."""
    from relight_video import io
    from relight_video.harmonize import harmonize_video

    rng = np.random.default_rng(2)
    clean = _textured(rng, 48, 64)
    alpha = np.zeros((48, 64), np.float32)
    alpha[6:42, 10:54] = 1
    clip, mattes = tmp_path / "clip", tmp_path / "alpha"
    clip.mkdir()
    mattes.mkdir()
    for t in range(8):
        io.write_image(clip / f"{t:03d}.png", _noisy(clean, rng))
        io.write_image(mattes / f"{t:03d}.png", (alpha * 255).astype(np.uint8))
    plate = tmp_path / "plate.png"
    io.write_image(plate, np.full((48, 64, 3), 90, np.uint8))
    keys = [{"frame": 3, "intensity": 1.0}, {"frame": 7, "intensity": 2.0}]
    outs = {}
    for k in (0.0, 0.5):
        out = tmp_path / f"out_{int(k * 10)}"
        harmonize_video(
            clip,
            plate,
            out,
            engine="diffusion",
            checkpoint=str(checkpoint),
            alpha=str(mattes),
            progress=False,
            keyframes=keys,
            diffusion={"model_size": 32, "steps": 1},
            temporal={"stabilize": k},
        )
        outs[k] = np.stack(list(io.read_frames(out))).astype(np.float32)
    inside = alpha > 0.5
    o0, o5 = outs[0.0], outs[0.5]

    def frame_to_frame(o):
        return np.mean([np.mean((o[t] - o[t - 1])[inside] ** 2) for t in (2, 3, 4)])

    e0, e5 = frame_to_frame(o0), frame_to_frame(o5)
    assert e5 < 0.6 * e0, (e5, e0)
    level = [[float(o[t][inside].mean()) for t in range(8)] for o in (o0, o5)]
    assert level[0][7] > 1.25 * level[0][3], level[0]  # the ramp brightens the subject
    np.testing.assert_allclose(level[1], level[0], rtol=0.01)  # and arrives on time


def test_stabilizer_passes_the_footages_own_exposure_ramp_at_once():
    """Still footage brightening 2 % a frame (with noise): the stabilised subject keeps the
    footage's mean level frame by frame (a plain recursive filter trails a ramp by k / (1 − k)
    frames: about 2.5 levels here), while its noise still falls."""
    from relight_video.temporal import Stabilizer

    rng = np.random.default_rng(3)
    clean = _textured(rng, 96, 128) * 0.8
    stab = Stabilizer(0.5)
    motion = (np.zeros((2, 24, 32), np.float32), np.ones((24, 32), bool))
    gaps, noise_in, noise_out = [], [], []
    for t in range(16):
        level = clean * (1 + 0.02 * t)
        fg = _noisy(level, rng)
        out = stab(fg, motion if t else None)
        if t >= 6:
            gaps.append(abs(float(out.mean()) - float(fg.mean())))
            noise_in.append(np.var(fg - level))
            noise_out.append(np.var(out - level))
    assert max(gaps) < 0.5, gaps
    assert np.mean(noise_out) < 0.5 * np.mean(noise_in)
