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
import math
import shutil
import time
from pathlib import Path

import torch

from models.train.config import TrainConfig
from models.train.data import make_dataset
from relight_video.errors import InputError
from relight_video.networks import (
    DenoiserConfig,
    LightEncoder,
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

        path = Path(cfg.init_checkpoint)
        if not (path / "model_index.json").is_file():
            raise InputError(f"init_checkpoint: no pipeline folder at {path} (model_index.json)")
        pipe = RelightPipeline.from_pretrained(path, dtype=torch.float32)
        if getattr(pipe, "vae", None) is None:  # the export records the size it trained at
            pipe.unet.register_to_config(sample_size=m.sample_size)
        dcfg = DenoiserConfig(sample_size=m.sample_size)
        net = RelightNet(
            pipe.unet,
            pipe.background_branch,
            getattr(pipe, "env_branch", None),
            getattr(pipe, "aligner", None),
            getattr(pipe, "light_encoder", None),
        )
        return net.float(), getattr(pipe, "vae", None), dcfg
    if m.init_from:
        if m.light_code_dim:
            raise InputError("model.light_code_dim: the light encoder is pixel-space only")
        return _from_stable_diffusion(Path(m.init_from), m)
    dcfg = DenoiserConfig(
        sample_size=m.sample_size,
        block_out_channels=tuple(m.block_out_channels),
        layers_per_block=m.layers_per_block,
        norm_num_groups=m.norm_num_groups,
        light_code_dim=m.light_code_dim,
    )
    unet = build_denoiser(dcfg)
    light = LightEncoder(out_dim=m.light_code_dim) if m.light_code_dim else None
    return RelightNet(unet, build_background_branch(unet, dcfg), light_encoder=light), None, dcfg


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


def noisy_batch(
    batch: dict,
    scheduler,
    vae=None,
    generator=None,
    env_key: str | None = None,
    top_share: float = 0.0,
):
    """One training draw: ``(x_t, t, x0, cond, weight)`` for a batch of pairs; ``env_key``
    names the batch's env map (``env_tgt``) for the env-map branch. A ``top_share`` of the
    timesteps is set to the last one, where few-step sampling starts."""
    comp, mask, bg, target = (batch[k] for k in ("composite", "mask", "background", "target"))
    env = batch[env_key] if env_key else None
    cond = condition(comp, mask, bg, env, vae=vae)
    x0 = clean_sample(target, comp, vae)
    noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    t = torch.randint(
        0,
        scheduler.config.num_train_timesteps,
        (x0.shape[0],),
        generator=generator,
        device=x0.device,
    )
    if top_share > 0:
        top = torch.rand(t.shape, generator=generator, device=t.device) < top_share
        t = torch.where(top, scheduler.config.num_train_timesteps - 1, t)
    x_t = scheduler.add_noise(x0, noise, t)
    w = torch.nn.functional.interpolate(mask, size=x0.shape[-2:], mode="area")
    return x_t, t, x0, cond, w


def weighted_mse(pred, x0, w, bg_weight: float = 0.05):
    """Foreground-weighted x0 loss: the background counts ``bg_weight`` as much."""
    w = w + bg_weight
    return ((pred - x0) ** 2 * w).sum() / (w.sum() * x0.shape[1])


def diffusion_loss(
    net: RelightNet,
    batch: dict,
    scheduler,
    vae=None,
    bg_weight: float = 0.05,
    generator: torch.Generator | None = None,
    use_env: bool = False,
    top_share: float = 0.0,
):
    """Foreground-weighted x0 loss on one batch; returns the scalar loss."""
    x_t, t, x0, cond, w = noisy_batch(
        batch, scheduler, vae, generator, "env_tgt" if use_env else None, top_share
    )
    pred = net(x_t, t, cond, use_env=use_env)
    return weighted_mse(pred, x0, w, bg_weight)


def run(cfg: TrainConfig) -> Path:
    """Stage 1: train denoiser + background branch; returns the exported pipeline folder."""
    torch.manual_seed(cfg.seed)
    net, vae, _ = build_models(cfg)
    dataset = make_dataset(cfg.data, cfg.model.sample_size * (8 if vae else 1), cfg.seed)
    scheduler = make_scheduler()
    params = list(net.parameters())

    def loss_fn(n, b):
        return diffusion_loss(
            n, b, scheduler, vae, cfg.background_loss_weight, top_share=cfg.top_timestep_share
        )

    out = Path(cfg.output_dir)
    fit(cfg, net, params, loss_fn, dataset, out, "stage1", cfg.steps)
    return export(net, vae, out / "pipeline")


def lr_factor(cfg: TrainConfig, step: int, steps: int) -> float:
    """Learning-rate multiplier: linear warm-up, then constant or a cosine down to 0."""
    warm = min(1.0, (step + 1) / max(1, cfg.warmup_steps))
    if cfg.lr_schedule == "constant":
        return warm
    done = min(1.0, max(0, step - cfg.warmup_steps) / max(1, steps - cfg.warmup_steps))
    return warm * 0.5 * (1 + math.cos(math.pi * done))  # cosine (the config checks the name)


def fit(cfg: TrainConfig, net, params, loss_fn, dataset, out: Path, stage: str, steps: int):
    """The training loop every stage shares: AdamW on ``params`` (everything else in ``net``
    stays frozen), warm-up, gradient clipping, an EMA of ``params`` copied into ``net`` at the
    end, ``accelerate``, a tqdm bar, losses in ``out/log.jsonl`` (with ``stage``), and a
    resumable state in ``out/state-<stage>/`` every ``save_every`` steps."""
    from accelerate import Accelerator
    from diffusers.training_utils import EMAModel
    from tqdm import tqdm

    out.mkdir(parents=True, exist_ok=True)
    accelerator = Accelerator(mixed_precision=cfg.mixed_precision)
    trainable_ids = {id(p) for p in params}
    for p in net.parameters():
        p.requires_grad_(id(p) in trainable_ids)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        shuffle=True,
        drop_last=len(dataset) >= cfg.batch_size,
        num_workers=cfg.num_workers,
    )
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(cfg, s, steps))
    net, opt, loader, sched = accelerator.prepare(net, opt, loader, sched)
    ema = EMAModel(params, decay=cfg.ema_decay)
    state_dir = out / f"state-{stage}"
    step = 0
    if (state_dir / "step.json").is_file():  # resume
        try:
            accelerator.load_state(str(state_dir))
            ema.load_state_dict(torch.load(state_dir / "ema.pt", weights_only=False))
            step = int(json.loads((state_dir / "step.json").read_text())["step"])
        except Exception as e:  # a damaged state, or one saved with other model settings
            text = " ".join(str(e).split())[:200]
            raise InputError(
                f"cannot resume from {state_dir} ({type(e).__name__}: {text}); were the model "
                "settings changed? Delete that folder to start over"
            ) from None
        accelerator.print(f"resumed {stage} from step {step}")
    log = (out / "log.jsonl").open("a")
    bar = tqdm(total=steps, initial=step, desc=stage, unit="step")
    start, running = time.perf_counter(), []
    while step < steps:
        if hasattr(dataset, "set_epoch"):  # new light-stage pairs each epoch
            dataset.set_epoch(step // max(1, len(loader)))
        for batch in loader:
            if step >= steps:
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
            if step % cfg.log_every == 0 or step == steps:
                mean = sum(running) / len(running)
                bar.set_postfix(loss=f"{mean:.4f}")
                log.write(
                    json.dumps(
                        {
                            "stage": stage,
                            "step": step,
                            "loss": mean,
                            "seconds": round(time.perf_counter() - start, 1),
                        }
                    )
                    + "\n"
                )
                log.flush()
                running = []
            if step % cfg.save_every == 0 or step == steps:
                save_state(accelerator, ema, state_dir, step)
    bar.close()
    log.close()
    ema.copy_to(params)


def save_state(accelerator, ema, state_dir: Path, step: int) -> None:
    """Training state for resuming, written next to the old one and swapped in when complete."""
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

    def half(m):
        return None if m is None else copy.deepcopy(m).to(dtype)

    pipe = RelightPipeline(
        unet=half(net.unet),
        background_branch=half(net.background_branch),
        scheduler=make_scheduler(),
        vae=half(vae),
        env_branch=half(net.env_branch),
        aligner=half(net.aligner),
        light_encoder=half(net.light_encoder),
    )
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    pipe.save_pretrained(tmp, safe_serialization=True)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder
