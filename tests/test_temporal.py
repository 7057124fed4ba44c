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
