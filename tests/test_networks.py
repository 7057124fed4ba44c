"""The diffusion model with tiny seeded components (32 px, milliseconds)."""

import json

import numpy as np
import pytest
import torch

from relight_video.networks import (
    DenoiserConfig,
    RelightNet,
    build_background_branch,
    build_denoiser,
    condition,
    expand_conv_in,
)

TINY = DenoiserConfig(
    sample_size=32, block_out_channels=(8, 16), norm_num_groups=4, cross_attention_dim=8
)


def tiny_net(seed=0):
    torch.manual_seed(seed)
    unet = build_denoiser(TINY)
    return RelightNet(unet, build_background_branch(unet, TINY))


def batch(n=2, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    comp = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    bg = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    mask = (torch.rand(n, 1, size, size, generator=g) > 0.5).float()
    target = (comp + 0.3 * bg).clamp(-1, 1)
    return {"composite": comp, "mask": mask, "background": bg, "target": target}


def test_shapes():
    net = tiny_net()
    b = batch()
    cond = condition(b["composite"], b["mask"], b["background"])
    assert cond.concat.shape == (2, 4, 32, 32)
    out = net(torch.randn(2, 3, 32, 32), torch.tensor([10, 500]), cond)
    assert out.shape == (2, 3, 32, 32)
    assert torch.isfinite(out).all()


def test_background_branch_changes_output():
    net = tiny_net()
    # ControlNet outputs are zero-initialised: perturb them so the branch is live
    with torch.no_grad():
        for p in net.background_branch.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    b = batch()
    x = torch.randn(2, 3, 32, 32)
    t = torch.tensor([100, 100])
    out1 = net(x, t, condition(b["composite"], b["mask"], b["background"]))
    out2 = net(x, t, condition(b["composite"], b["mask"], -b["background"]))
    assert (out1 - out2).abs().mean() > 1e-4


def test_expand_conv_in_keeps_output():
    torch.manual_seed(0)
    unet = build_denoiser(TINY)
    x = torch.randn(1, 7, 32, 32)
    ehs = torch.zeros(1, 1, 8)
    before = unet(x, 5, ehs).sample
    expand_conv_in(unet, 10)
    assert unet.conv_in.in_channels == 10 and unet.config.in_channels == 10
    after = unet(torch.cat([x, torch.randn(1, 3, 32, 32)], 1), 5, ehs).sample
    assert torch.allclose(before, after, atol=1e-6)


def _pipeline(net):
    from models.train.stage1 import make_scheduler
    from relight_video.pipeline import RelightPipeline

    return RelightPipeline(
        unet=net.unet, background_branch=net.background_branch, scheduler=make_scheduler()
    )


def test_pipeline_save_load_round_trip(tmp_path):
    pipe = _pipeline(tiny_net())
    pipe.set_progress_bar_config(disable=True)
    rng = np.random.default_rng(0)
    fg = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    bg = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    alpha = np.zeros((32, 32), np.float32)
    alpha[8:24, 8:24] = 1

    def run(p):
        return p(fg, alpha, bg, num_inference_steps=3, generator=torch.Generator().manual_seed(1))

    a = run(pipe)
    pipe.save_pretrained(tmp_path / "ckpt")
    from relight_video.pipeline import RelightPipeline

    loaded = RelightPipeline.from_pretrained(tmp_path / "ckpt")
    loaded.set_progress_bar_config(disable=True)
    b = run(loaded)
    assert a.shape == (1, 32, 32, 3)
    assert np.abs(a - b).max() < 1e-5  # same weights; float summation order may differ
    # outside the subject the output is the background, untouched
    assert np.allclose(a[0, 0, 0], bg[0, 0] / 255.0, atol=1 / 255)


def test_scheduler_is_swappable():
    from diffusers import DPMSolverMultistepScheduler

    pipe = _pipeline(tiny_net())
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
    img = np.full((32, 32, 3), 0.5, np.float32)
    out = pipe(img, np.ones((32, 32), np.float32), img, num_inference_steps=4)
    assert out.shape == (1, 32, 32, 3) and np.isfinite(out).all()


def test_check_inputs():
    pipe = _pipeline(tiny_net())
    img = np.zeros((32, 32, 3), np.float32)
    with pytest.raises(ValueError, match="alpha: expected spatial size"):
        pipe(img, np.ones((16, 16), np.float32), img)
    with pytest.raises(ValueError, match="env-map branch"):
        pipe(img, np.ones((32, 32), np.float32), img, env_map=torch.zeros(1, 3, 8, 16))
    with pytest.raises(ValueError, match="multiples of 2"):
        odd = np.zeros((31, 31, 3), np.float32)
        pipe(odd, np.ones((31, 31), np.float32), odd)


def test_overfit_four_pairs_drives_loss_down():
    from models.train.stage1 import diffusion_loss, make_scheduler

    net = tiny_net()
    b = batch(n=4)
    sched = make_scheduler()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        # the same noise and timesteps every step: a fixed objective to overfit
        loss = diffusion_loss(net, b, sched, generator=torch.Generator().manual_seed(0))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses
    assert np.mean(losses[-5:]) < np.mean(losses[5:10]) < np.mean(losses[:5]), losses


def write_pairs(root, n=4, size=32):
    from relight_video import io

    rng = np.random.default_rng(0)
    for i in range(n):
        d = root / f"{i:03d}"
        d.mkdir(parents=True)
        mask = np.zeros((size, size), np.uint8)
        mask[8:24, 6:26] = 255
        comp = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        io.write_image(d / "composite.png", comp)
        io.write_image(d / "mask.png", mask)
        io.write_image(d / "background.png", comp[::-1].copy())
        io.write_image(d / "target.png", (comp * 0.8).astype(np.uint8))
    return root


def test_stage1_script_runs_and_resumes(tmp_path):
    from click.testing import CliRunner

    from relight_video.cli import main

    pairs = write_pairs(tmp_path / "pairs")
    cfg = tmp_path / "s1.yaml"
    cfg.write_text(
        f"output_dir: {tmp_path / 'run'}\nsteps: 4\nbatch_size: 2\nsave_every: 2\nlog_every: 1\n"
        "model: {sample_size: 32, block_out_channels: [8, 16], norm_num_groups: 4}\n"
        f"data: {{source: folder, pairs: {pairs}}}\n"
    )
    r = CliRunner().invoke(main, ["train", "stage1", "--config", str(cfg)])
    assert r.exit_code == 0, r.output
    log = [json.loads(x) for x in (tmp_path / "run/log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [1, 2, 3, 4]
    assert (tmp_path / "run/pipeline/model_index.json").is_file()
    # resume: more steps continue from the saved step, not from zero
    r = CliRunner().invoke(main, ["train", "stage1", "--config", str(cfg), "--set", "steps=6"])
    assert r.exit_code == 0, r.output
    log = [json.loads(x) for x in (tmp_path / "run/log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [1, 2, 3, 4, 5, 6]
    assert "resumed stage1 from step 4" in r.output
    # a resume with other model settings, or from a damaged state: one error line, exit 2
    wider = ["--set", "steps=8", "--set", "model.block_out_channels=[16, 32]"]
    r = CliRunner().invoke(main, ["train", "stage1", "--config", str(cfg), *wider])
    assert r.exit_code == 2 and "cannot resume from" in r.output, r.output
    (tmp_path / "run/state-stage1/step.json").write_text("{")
    r = CliRunner().invoke(main, ["train", "stage1", "--config", str(cfg), "--set", "steps=8"])
    assert r.exit_code == 2 and "Delete that folder to start over" in r.output, r.output


def test_latent_path_from_a_tiny_sd_folder(tmp_path):
    """--init-from: a Stable-Diffusion-layout folder (unet/, vae/) written here, random weights."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    from models.train.config import TrainConfig
    from models.train.stage1 import build_models, diffusion_loss, make_scheduler

    torch.manual_seed(0)
    UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(8, 16),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        layers_per_block=1,
        norm_num_groups=4,
        cross_attention_dim=8,
        attention_head_dim=2,
    ).save_pretrained(tmp_path / "sd/unet")
    AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(8, 8, 8, 8),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        norm_num_groups=4,
        layers_per_block=1,
    ).save_pretrained(tmp_path / "sd/vae")
    cfg = TrainConfig()
    cfg.model.init_from = str(tmp_path / "sd")
    net, vae, dcfg = build_models(cfg)
    assert net.unet.conv_in.in_channels == 9 and dcfg.latent
    b = batch(n=1, size=64)
    loss = diffusion_loss(net, b, make_scheduler(), vae=vae)
    assert torch.isfinite(loss)
    from relight_video.pipeline import RelightPipeline

    pipe = RelightPipeline(
        unet=net.unet, background_branch=net.background_branch, scheduler=make_scheduler(), vae=vae
    )
    pipe.set_progress_bar_config(disable=True)
    img = np.full((64, 64, 3), 0.5, np.float32)
    out = pipe(img, np.ones((64, 64), np.float32), img, num_inference_steps=2)
    assert out.shape == (1, 64, 64, 3)


def test_bundled_checkpoint_is_the_default_and_relights(tmp_path):
    """The shipped model loads offline, has all three stages' parts, and changes the subject."""
    from relight_video.config import RunConfig
    from relight_video.diffusion_engine import BUNDLED, load_pipeline
    from relight_video.harmonize import harmonize_image

    assert RunConfig().engine == "diffusion"
    pipe = load_pipeline(None)
    assert pipe.has_env_branch and pipe.aligner is not None
    size = sum(f.stat().st_size for f in BUNDLED.rglob("*") if f.is_file())
    assert size < 12e6, size
    rng = np.random.default_rng(0)
    fg = np.clip(rng.normal(150, 20, (64, 48, 3)), 0, 255).astype(np.uint8)
    mask = np.zeros((64, 48), np.uint8)
    mask[12:60, 10:38] = 255
    bg = np.zeros((64, 48, 3), np.uint8)
    bg[..., 2] = 200  # a deep blue world
    from relight_video import io

    for name, img in (("fg", fg), ("mask", mask), ("bg", bg)):
        io.write_image(tmp_path / f"{name}.png", img)
    out = harmonize_image(
        tmp_path / "fg.png", tmp_path / "bg.png", tmp_path / "o.png", alpha=tmp_path / "mask.png"
    )
    inside = mask > 0
    change = out[inside].astype(float).mean(0) - fg[inside].astype(float).mean(0)
    assert np.abs(change).max() > 2  # the subject was relit, not passed through
    assert np.array_equal(out[~inside], bg[~inside])


def test_top_timestep_share_and_learning_rate_schedule():
    from models.train.config import TrainConfig, load_train_config
    from models.train.stage1 import lr_factor, make_scheduler, noisy_batch
    from relight_video.errors import InputError

    sched, g = make_scheduler(), torch.Generator().manual_seed(0)
    _, t_all, *_ = noisy_batch(batch(n=16), sched, generator=g, top_share=1.0)
    _, t_none, *_ = noisy_batch(batch(n=16), sched, generator=g)
    assert (t_all == sched.config.num_train_timesteps - 1).all()
    assert len(set(t_none.tolist())) > 1

    cosine = TrainConfig(lr_schedule="cosine", warmup_steps=10)
    got = [lr_factor(cosine, s, 110) for s in (0, 9, 60, 110)]
    assert got == pytest.approx([0.1, 1.0, 0.5, 0.0])
    assert lr_factor(TrainConfig(warmup_steps=10), 60, 110) == 1.0
    with pytest.raises(InputError, match="lr_schedule"):
        load_train_config(None, ["lr_schedule=step"])
    with pytest.raises(InputError, match="top_timestep_share"):
        load_train_config(None, ["top_timestep_share=1.5"])


def test_light_code_option_trains_exports_and_reloads(tmp_path):
    """``model.light_code_dim``: a global light encoder feeds every block's time embedding; it
    trains through the stage-1 command, exports with the pipeline and reloads unchanged."""
    from click.testing import CliRunner

    from relight_video.cli import main
    from relight_video.pipeline import RelightPipeline

    pairs = write_pairs(tmp_path / "pairs")
    cfg = tmp_path / "s1.yaml"
    cfg.write_text(
        f"output_dir: {tmp_path / 'run'}\nsteps: 3\nbatch_size: 2\nlog_every: 1\n"
        "model: {sample_size: 32, block_out_channels: [8, 16], norm_num_groups: 4, "
        "light_code_dim: 16}\n"
        f"data: {{source: folder, pairs: {pairs}}}\n"
    )
    r = CliRunner().invoke(main, ["train", "stage1", "--config", str(cfg)])
    assert r.exit_code == 0, r.output
    pipe = RelightPipeline.from_pretrained(tmp_path / "run/pipeline", dtype=torch.float32)
    assert pipe.light_encoder is not None and pipe.unet.config.class_embed_type == "projection"
    net = pipe.net
    b = batch()
    x, t = torch.randn(2, 3, 32, 32), torch.tensor([999, 999])
    with torch.no_grad():
        out = net(x, t, condition(b["composite"], b["mask"], b["background"]))
        # the code is the only path from the plate here: silence the background branch
        for p in net.background_branch.controlnet_mid_block.parameters():
            p.zero_()
        for blk in net.background_branch.controlnet_down_blocks:
            for p in blk.parameters():
                p.zero_()
        a = net(x, t, condition(b["composite"], b["mask"], b["background"]))
        c = net(x, t, condition(b["composite"], b["mask"], -b["background"]))
    assert torch.isfinite(out).all() and (a - c).abs().mean() > 1e-5
    pipe.save_pretrained(tmp_path / "again")
    again = RelightPipeline.from_pretrained(tmp_path / "again", dtype=torch.float32).net
    with torch.no_grad():
        assert torch.allclose(
            again(x, t, condition(b["composite"], b["mask"], -b["background"])), c, atol=1e-5
        )
