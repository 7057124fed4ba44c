"""Stages 2 and 3 with tiny seeded components: env-map branch, alignment, simulation, scripts."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from relight_video.networks import (
    DenoiserConfig,
    RelightNet,
    build_aligner,
    build_background_branch,
    build_denoiser,
    build_env_branch,
    condition,
)

TINY = DenoiserConfig(
    sample_size=16, block_out_channels=(8, 16), norm_num_groups=4, cross_attention_dim=8
)
TINY_MODEL = "{sample_size: 16, block_out_channels: [8, 16], norm_num_groups: 4}"
TINY_DATA = (
    "{source: lightstage, root: %s, render_size: 24, n_subjects: 2, n_envs: 4, "
    "pairs_per_epoch: 4, n_lights: 16}"
)


def tiny_stage2_net(seed=0):
    torch.manual_seed(seed)
    unet = build_denoiser(TINY)
    net = RelightNet(
        unet, build_background_branch(unet, TINY), build_env_branch(unet, TINY), build_aligner(unet)
    )
    with torch.no_grad():  # ControlNet outputs are zero-initialised: make the branches live
        for branch in (net.background_branch, net.env_branch):
            for p in branch.parameters():
                p.add_(torch.randn_like(p) * 0.05)
    return net


def toy_batch(n=4, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    comp = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    bg = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    mask = (torch.rand(n, 1, size, size, generator=g) > 0.5).float()
    env = torch.rand(n, 3, 8, 16, generator=g)
    return {
        "composite": comp,
        "mask": mask,
        "background": bg,
        "target": (comp + 0.3 * bg).clamp(-1, 1),
        "env_tgt": env,
    }


def test_env_branch_reads_rotated_maps_and_output_changes_with_rotation():
    from relight_video.envmap import encode_for_model, rotate_env

    net = tiny_stage2_net()
    env = np.full((16, 32, 3), 0.2, np.float32)
    env[4:7, 6:9] = 50.0  # a sun
    b = toy_batch(1)
    x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    t = torch.tensor([300])
    outs = []
    for yaw in (0.0, 90.0, 180.0):
        enc = torch.from_numpy(encode_for_model(rotate_env(env, yaw), size=(8, 16)))[None]
        cond = condition(b["composite"], b["mask"], b["background"], enc)
        outs.append(net(x, t, cond, use_env=True))
    assert all(o.shape == (1, 3, 16, 16) and torch.isfinite(o).all() for o in outs)
    assert (outs[0] - outs[1]).abs().mean() > 1e-4
    assert (outs[0] - outs[2]).abs().mean() > 1e-4
    # a full turn is the same map
    enc360 = torch.from_numpy(encode_for_model(rotate_env(env, 360.0), size=(8, 16)))[None]
    out360 = net(x, t, condition(b["composite"], b["mask"], b["background"], enc360), use_env=True)
    assert torch.allclose(out360, outs[0], atol=1e-6)


def test_untrained_aligner_is_identity_and_alignment_loss_decreases():
    from models.train.stage1 import make_scheduler
    from models.train.stage2 import alignment_loss

    net = tiny_stage2_net()
    b = toy_batch()
    cond = condition(b["composite"], b["mask"], b["background"], b["env_tgt"])
    sample = torch.cat([torch.randn(4, 3, 16, 16), cond.concat], 1)
    t = torch.full((4,), 200)
    raw = net.background_residuals(sample, t, cond, align=False)
    aligned = net.background_residuals(sample, t, cond, align=True)
    for r, a in zip([*raw[0], raw[1]], [*aligned[0], aligned[1]]):
        assert torch.equal(r, a)

    sched = make_scheduler()
    opt = torch.optim.Adam(net.aligner.parameters(), lr=3e-3)
    feats = []
    for _ in range(40):
        torch.manual_seed(0)  # the same noise and timesteps every step: a fixed toy problem
        loss, feat = alignment_loss(net, b, sched, 0.05)
        opt.zero_grad()
        loss.backward()
        opt.step()
        feats.append(feat.item())
    assert feats[-1] < 0.7 * feats[0], feats[::10]


def _tiny_stage1(tmp_path, runner):
    from relight_video.cli import main

    cfg = tmp_path / "s1.yaml"
    cfg.write_text(
        f"output_dir: {tmp_path / 's1'}\nsteps: 2\nbatch_size: 2\nsave_every: 1\nlog_every: 1\n"
        f"model: {TINY_MODEL}\ndata: {TINY_DATA % (tmp_path / 'ls')}\n"
    )
    r = runner.invoke(main, ["train", "stage1", "--config", str(cfg)])
    assert r.exit_code == 0, r.output
    return tmp_path / "s1/pipeline"


def _steps(log, stage):
    return [e["step"] for e in log if e.get("stage") == stage]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Tiny stage 1 → stage 2 (2 + 2 steps, then resumed to 3 + 3) → stage 3 (2 steps)."""
    from relight_video.cli import main

    tmp = tmp_path_factory.mktemp("stages")
    runner = CliRunner()
    s1 = _tiny_stage1(tmp, runner)
    cfg2 = tmp / "s2.yaml"
    cfg2.write_text(
        f"output_dir: {tmp / 's2'}\ninit_checkpoint: {s1}\nsteps: 2\nalign_steps: 2\n"
        "batch_size: 2\nsave_every: 1\nlog_every: 1\n"
        f"model: {TINY_MODEL}\ndata: {TINY_DATA % (tmp / 'ls')}\n"
    )
    r2 = runner.invoke(main, ["train", "stage2", "--config", str(cfg2)])
    assert r2.exit_code == 0, r2.output
    r2b = runner.invoke(
        main,
        ["train", "stage2", "--config", str(cfg2), "--set", "steps=3", "--set", "align_steps=3"],
    )
    assert r2b.exit_code == 0, r2b.output
    photos = tmp / "photos"
    photos.mkdir()
    from relight_video import io

    rng = np.random.default_rng(0)
    for i in range(2):
        img = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
        mask = np.zeros((40, 48), np.uint8)
        mask[8:36, 14 + i : 34 + i] = 255
        io.write_image(photos / f"p{i}.png", img)
        io.write_image(photos / f"p{i}.mask.png", mask)
    cfg3 = tmp / "s3.yaml"
    cfg3.write_text(
        f"output_dir: {tmp / 's3'}\ninit_checkpoint: {tmp / 's2/pipeline'}\nsteps: 2\n"
        "batch_size: 2\nsave_every: 1\nlog_every: 1\n"
        "stage3: {pairs_per_photo: 2, sim_steps: 2, sim_share: 0.5}\n"
        f"model: {TINY_MODEL}\ndata: {TINY_DATA % (tmp / 'ls')}\n"
    )
    r3 = runner.invoke(main, ["train", "stage3", "--config", str(cfg3), "--photos", str(photos)])
    assert r3.exit_code == 0, r3.output
    return {"tmp": tmp, "s1": s1, "r2b": r2b, "cfg3": cfg3, "photos": photos}


def test_stage2_keeps_the_denoiser_bit_identical_and_resumes(trained):
    tmp = trained["tmp"]
    before = load_file(trained["s1"] / "unet/diffusion_pytorch_model.safetensors")
    after = load_file(tmp / "s2/pipeline/unet/diffusion_pytorch_model.safetensors")
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    bg_before = load_file(trained["s1"] / "background_branch/diffusion_pytorch_model.safetensors")
    bg_after = load_file(tmp / "s2/pipeline/background_branch/diffusion_pytorch_model.safetensors")
    assert all(torch.equal(bg_before[k], bg_after[k]) for k in bg_before)
    for part in ("env_branch", "aligner"):
        assert (tmp / "s2/pipeline" / part / "diffusion_pytorch_model.safetensors").is_file()
    log = [json.loads(x) for x in (tmp / "s2/log.jsonl").read_text().splitlines()]
    assert _steps(log, "stage2-env") == [1, 2, 3]
    assert _steps(log, "stage2-align") == [1, 2, 3]
    assert "resumed stage2-env from step 2" in trained["r2b"].output
    assert "resumed stage2-align from step 2" in trained["r2b"].output


def test_stage3_simulates_from_photos_finetunes_and_resumes(trained):
    from relight_video.cli import main

    tmp = trained["tmp"]
    sim = sorted(p for p in (tmp / "s3/simulated").iterdir() if p.is_dir())
    assert len(sim) == 4
    assert all((c / f"{f}.png").is_file() for c in sim for f in ("composite", "target", "mask"))
    unet2 = load_file(tmp / "s2/pipeline/unet/diffusion_pytorch_model.safetensors")
    unet3 = load_file(tmp / "s3/pipeline/unet/diffusion_pytorch_model.safetensors")
    assert all(torch.equal(unet2[k], unet3[k]) for k in unet2)  # the denoiser stays frozen
    bg2 = load_file(tmp / "s2/pipeline/background_branch/diffusion_pytorch_model.safetensors")
    bg3 = load_file(tmp / "s3/pipeline/background_branch/diffusion_pytorch_model.safetensors")
    assert any(not torch.equal(bg2[k], bg3[k]) for k in bg2)  # the background branch learns
    r = CliRunner().invoke(
        main,
        ["train", "stage3", "--config", str(trained["cfg3"]), "--photos", str(trained["photos"])]
        + ["--set", "steps=3"],
    )
    assert r.exit_code == 0, r.output
    assert "resumed stage3 from step 2" in r.output
    log = [json.loads(x) for x in (tmp / "s3/log.jsonl").read_text().splitlines()]
    assert _steps(log, "stage3") == [1, 2, 3]


def test_simulated_pair_target_is_the_photo_and_input_differs_only_inside_the_mask(trained):
    from models.train.stage3 import simulate_pair
    from relight_video.pipeline import RelightPipeline

    pipe = RelightPipeline.from_pretrained(trained["tmp"] / "s2/pipeline", dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    with torch.no_grad():  # make the tiny env branch's change visible
        for p in pipe.env_branch.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    alpha = np.zeros((16, 16), np.float32)
    alpha[4:12, 5:11] = 1.0
    alpha[4:12, 4] = 0.5  # a soft edge
    env = np.full((8, 16, 3), 0.5, np.float32)
    env[2, 3] = 80.0
    pair = simulate_pair(pipe, photo, alpha, env, steps=2, generator=torch.Generator())
    assert np.array_equal(pair["target"], photo)
    outside = alpha == 0
    assert np.array_equal(pair["composite"][outside], photo[outside])
    assert np.abs(pair["composite"][~outside].astype(int) - photo[~outside]).max() > 0
    # the plate the model reads has the subject removed
    assert pair["background"].shape == photo.shape
    assert np.abs(pair["background"][alpha > 0].astype(int) - photo[alpha > 0]).mean() > 1


def test_env_map_on_the_cli_with_and_without_a_plate(trained, tmp_path):
    from relight_video import io
    from relight_video.cli import main
    from relight_video.envmap import exr_available

    ckpt = trained["tmp"] / "s2/pipeline"
    rng = np.random.default_rng(0)
    fg = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
    mask = np.zeros((48, 40), np.uint8)
    mask[10:40, 10:30] = 255
    io.write_image(tmp_path / "fg.png", fg)
    io.write_image(tmp_path / "mask.png", mask)
    io.write_image(tmp_path / "bg.png", rng.integers(0, 256, (48, 40, 3), dtype=np.uint8))
    env = np.full((16, 32, 3), 0.3, np.float32)
    env[5, 4] = 200.0
    suffix = ".exr" if exr_available() else ".npy"
    env_path = tmp_path / f"env{suffix}"
    from models.data.envmaps import save_env

    save_env(env_path, env)
    base = ["image", str(tmp_path / "fg.png"), "--alpha", str(tmp_path / "mask.png")]
    base += ["--engine", "diffusion", "--checkpoint", str(ckpt), "--env-map", str(env_path)]
    runner = CliRunner()
    r = runner.invoke(main, base + ["-o", str(tmp_path / "a.png"), "--env-yaw", "90"])
    assert r.exit_code == 0, r.output
    out = io.read_image(tmp_path / "a.png")
    assert out.shape == (48, 40, 3)
    # without a plate the background is a view of the map: not the black of an empty frame
    assert out[mask == 0].mean() > 5
    r = runner.invoke(main, base + ["-o", str(tmp_path / "b.png"), "-b", str(tmp_path / "bg.png")])
    assert r.exit_code == 0, r.output
    # env maps need the diffusion engine with an env-map branch: one clear line, exit 2
    r = runner.invoke(
        main,
        ["image", str(tmp_path / "fg.png"), "--alpha", str(tmp_path / "mask.png")]
        + ["--env-map", str(env_path), "-o", str(tmp_path / "c.png"), "--engine", "classical"],
    )
    assert r.exit_code == 2 and "--env-map needs --engine diffusion" in r.output
    r = runner.invoke(
        main,
        ["image", str(tmp_path / "fg.png"), "--alpha", str(tmp_path / "mask.png")]
        + ["--env-map", str(env_path), "-o", str(tmp_path / "d.png"), "--engine", "diffusion"]
        + ["--checkpoint", str(trained["s1"])],
    )
    assert r.exit_code == 2 and "env-map branch" in r.output
    r = runner.invoke(
        main, base[:-1] + [str(tmp_path / "missing.exr"), "-o", str(tmp_path / "e.png")]
    )
    assert r.exit_code == 2 and "environment map not found" in r.output
    assert not (tmp_path / "c.png").exists() and not (tmp_path / "e.png").exists()


def test_run_lights_a_clip_from_keyframed_env_maps(trained, clip, tmp_path):
    from relight_video import io
    from relight_video.cli import main

    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    env = np.full((16, 32, 3), 0.2, np.float32)
    env[4, 3] = 400.0
    np.save(a, env)
    np.save(b, env[..., ::-1].copy())  # the same sun in another colour
    keys = tmp_path / "keys.yaml"
    keys.write_text(
        f"- {{frame: 0, env_map: {a}, yaw_deg: 0}}\n"
        f"- {{frame: 11, env_map: {b}, yaw_deg: 120, interpolation: smooth}}\n"
    )
    out = tmp_path / "out.mp4"
    r = CliRunner().invoke(
        main,
        ["run", str(clip), "--key", "green", "-o", str(out), "--engine", "diffusion"]
        + ["--checkpoint", str(trained["tmp"] / "s2/pipeline"), "--keyframes", str(keys), "-q"]
        + ["--set", "diffusion.model_size=16", "--set", "diffusion.steps=2"],
    )
    assert r.exit_code == 0, r.output
    info = io.probe(out)
    src = io.probe(clip)
    assert (info.num_frames, info.width, info.height) == (src.num_frames, src.width, src.height)


def test_a_continuation_at_another_size_records_it(trained):
    """Stage 1 continued from a pipeline at another model size writes that size into the
    exported denoiser's config (it kept the start's before)."""
    from relight_video.cli import main

    tmp = trained["tmp"]
    before = json.loads((trained["s1"] / "unet/config.json").read_text())["sample_size"]
    cfg = tmp / "s1_24.yaml"
    cfg.write_text(
        f"output_dir: {tmp / 's1_24'}\ninit_checkpoint: {trained['s1']}\nsteps: 1\n"
        "batch_size: 2\nsave_every: 1\nlog_every: 1\n"
        f"model: {TINY_MODEL.replace('sample_size: 16', 'sample_size: 24')}\n"
        f"data: {TINY_DATA % (tmp / 'ls')}\n"
    )
    r = CliRunner().invoke(main, ["train", "stage1", "--config", str(cfg)])
    assert r.exit_code == 0, r.output
    after = json.loads((tmp / "s1_24/pipeline/unet/config.json").read_text())["sample_size"]
    assert (before, after) == (16, 24)
    # the diffusion engine runs a checkpoint at the size it was trained at, unless told
    from relight_video.config import DiffusionConfig
    from relight_video.diffusion_engine import DiffusionEngine

    pipe = str(tmp / "s1_24/pipeline")
    assert DiffusionEngine(DiffusionConfig(), pipe).model_size(64, 48) == (32, 24)
    assert DiffusionEngine(DiffusionConfig(), str(trained["s1"])).model_size(64, 48) == (22, 16)
    assert DiffusionEngine(DiffusionConfig(model_size=16), pipe).model_size(64, 48) == (22, 16)
