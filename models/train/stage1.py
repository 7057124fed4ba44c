"""Stage 1: lighting-aware diffusion training (Relightful Harmonization §3.1).

The denoiser and the background lighting branch are trained together on light-stage pairs
(subject lit by env A over background B → subject lit by env B over B) with the x0 (``sample``)
objective on the scaled residual, weighted to the foreground.

    relight-video train stage1 --config configs/train/stage1.yaml [--set steps=100]

Runs under ``accelerate`` (one CPU process here; ``accelerate launch`` on GPUs), keeps an EMA
of the weights, logs losses to ``OUTPUT/log.jsonl``, saves ``OUTPUT/state/`` every
``save_every`` steps and resumes from it, and exports the EMA weights as a ``RelightPipeline``
folder (``OUTPUT/pipeline``, fp16 safetensors) at the end.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from models.train.config import TrainConfig
from models.train.data import PairFolder
from relight_video.errors import InputError
from relight_video.networks import (
    DenoiserConfig,
    RelightNet,
    build_background_branch,
    build_denoiser,
    clean_sample,
    condition,
    expand_conv_in,
)


def make_scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        num_train_timesteps=1000,
        beta_schedule="squaredcos_cap_v2",
        prediction_type="sample",
        clip_sample=False,
        timestep_spacing="trailing",
    )


def build_models(cfg: TrainConfig):
    """(RelightNet, vae or None, DenoiserConfig) for a fresh run, an SD init, or a checkpoint."""
    m = cfg.model
    if cfg.init_checkpoint:
        from relight_video.pipeline import RelightPipeline

        pipe = RelightPipeline.from_pretrained(cfg.init_checkpoint, dtype=torch.float32)
        dcfg = DenoiserConfig(sample_size=m.sample_size)
        return RelightNet(pipe.unet, pipe.background_branch), getattr(pipe, "vae", None), dcfg
    if m.init_from:
        return _from_stable_diffusion(Path(m.init_from), m)
    dcfg = DenoiserConfig(
        sample_size=m.sample_size,
        block_out_channels=tuple(m.block_out_channels),
        layers_per_block=m.layers_per_block,
        norm_num_groups=m.norm_num_groups,
    )
    unet = build_denoiser(dcfg)
    return RelightNet(unet, build_background_branch(unet, dcfg)), None, dcfg


def _from_stable_diffusion(root: Path, m):
    """Latent-space model from a local SD 1.5 / InstructPix2Pix folder (``unet/``, ``vae/``)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    for sub in ("unet", "vae"):
        if not (root / sub / "config.json").is_file():
            raise InputError(
                f"init_from: {root / sub / 'config.json'} not found (need a local "
                "Stable Diffusion layout with unet/ and vae/)"
            )
    unet = UNet2DConditionModel.from_pretrained(root, subfolder="unet")
    vae = AutoencoderKL.from_pretrained(root, subfolder="vae")
    vae.requires_grad_(False)
    c = vae.config.latent_channels
    if unet.config.in_channels < 2 * c + 1:
        expand_conv_in(unet, 2 * c + 1)  # x_t ‖ composite latent ‖ alpha
    down = len(vae.config.block_out_channels) - 1
    dcfg = DenoiserConfig(
        sample_size=unet.config.sample_size,
        latent=True,
        conditioning_embedding_out_channels=tuple(16 * 2**i for i in range(down + 1)),
    )
    return RelightNet(unet, build_background_branch(unet, dcfg)), vae, dcfg


def diffusion_loss(
    net: RelightNet,
    batch: dict,
    scheduler,
    vae=None,
    bg_weight: float = 0.05,
    generator: torch.Generator | None = None,
    use_env: bool = False,
):
    """Foreground-weighted x0 loss on one batch; returns the scalar loss."""
    comp, mask, bg, target = (batch[k] for k in ("composite", "mask", "background", "target"))
    cond = condition(comp, mask, bg, batch.get("env"), vae=vae)
    x0 = clean_sample(target, comp, vae)
    noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    t = torch.randint(
        0,
        scheduler.config.num_train_timesteps,
        (x0.shape[0],),
        generator=generator,
        device=x0.device,
    )
    x_t = scheduler.add_noise(x0, noise, t)
    pred = net(x_t, t, cond, use_env=use_env)
    w = torch.nn.functional.interpolate(mask, size=x0.shape[-2:], mode="area")
    w = w + bg_weight
    return ((pred - x0) ** 2 * w).sum() / (w.sum() * x0.shape[1])


def run(cfg: TrainConfig, *, trainable=None, loss_fn=None, stage: str = "stage1") -> Path:
    """The training loop shared by the stages; returns the exported pipeline folder."""
    from accelerate import Accelerator
    from diffusers.training_utils import EMAModel
    from tqdm import tqdm

    if not cfg.data.pairs:
        raise InputError("data.pairs: give a training pairs folder (relight-video synth pairs)")
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    accelerator = Accelerator(mixed_precision=cfg.mixed_precision)
    net, vae, dcfg = build_models(cfg)
    params = trainable(net) if trainable else [p for p in net.parameters()]
    dataset = PairFolder(
        cfg.data.pairs, cfg.model.sample_size * (8 if vae else 1), flip=cfg.data.flip
    )
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        shuffle=True,
        drop_last=len(dataset) >= cfg.batch_size,
        num_workers=cfg.num_workers,
    )
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / cfg.warmup_steps))
    net, opt, loader, sched = accelerator.prepare(net, opt, loader, sched)
    ema = EMAModel(params, decay=cfg.ema_decay)
    scheduler = make_scheduler()
    state_dir = out / "state"
    step = 0
    if (state_dir / "step.json").is_file():  # resume
        accelerator.load_state(str(state_dir))
        ema.load_state_dict(torch.load(state_dir / "ema.pt", weights_only=False))
        step = json.loads((state_dir / "step.json").read_text())["step"]
        accelerator.print(f"resumed {stage} from step {step}")
    loss_fn = loss_fn or (
        lambda n, b: diffusion_loss(n, b, scheduler, vae, cfg.background_loss_weight)
    )
    log = (out / "log.jsonl").open("a")
    bar = tqdm(total=cfg.steps, initial=step, desc=stage, unit="step")
    start, running = time.perf_counter(), []
    while step < cfg.steps:
        for batch in loader:
            if step >= cfg.steps:
                break
            loss = loss_fn(net, batch)
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            ema.step(params)
            step += 1
            running.append(loss.item())
            bar.update(1)
            if step % cfg.log_every == 0 or step == cfg.steps:
                mean = sum(running) / len(running)
                bar.set_postfix(loss=f"{mean:.4f}")
                log.write(
                    json.dumps(
                        {
                            "step": step,
                            "loss": mean,
                            "seconds": round(time.perf_counter() - start, 1),
                        }
                    )
                    + "\n"
                )
                log.flush()
                running = []
            if step % cfg.save_every == 0 or step == cfg.steps:
                save_state(accelerator, ema, state_dir, step)
    bar.close()
    log.close()
    ema.copy_to(params)
    return export(accelerator.unwrap_model(net), vae, out / "pipeline")


def save_state(accelerator, ema, state_dir: Path, step: int) -> None:
    """Training state for resuming, written next to the old one and swapped in when complete."""
    import shutil

    tmp = state_dir.with_name(state_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    accelerator.save_state(str(tmp))
    torch.save(ema.state_dict(), tmp / "ema.pt")
    (tmp / "step.json").write_text(json.dumps({"step": step}))
    shutil.rmtree(state_dir, ignore_errors=True)
    tmp.rename(state_dir)


def export(net: RelightNet, vae, folder: Path, dtype=torch.float16) -> Path:
    """Save a ``RelightPipeline`` (fp16 safetensors) that ``relight-video --checkpoint`` loads."""
    import copy

    from relight_video.pipeline import RelightPipeline

    pipe = RelightPipeline(
        unet=copy.deepcopy(net.unet).to(dtype),
        background_branch=copy.deepcopy(net.background_branch).to(dtype),
        scheduler=make_scheduler(),
        vae=None if vae is None else copy.deepcopy(vae).to(dtype),
        env_branch=None if net.env_branch is None else copy.deepcopy(net.env_branch).to(dtype),
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder
