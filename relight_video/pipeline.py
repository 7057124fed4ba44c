"""``RelightPipeline``: lighting-aware harmonization as a diffusers ``DiffusionPipeline``.

    pipe = RelightPipeline.from_pretrained("checkpoints/relight-small")
    pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
    out = pipe(foreground, alpha, background, num_inference_steps=8, generator=g)

The model diffuses the residual ``target − composite`` (see :mod:`relight_video.networks`) with
``prediction_type="sample"``: at every step the model's output is its estimate of the clean
residual ``x0``, which a video loop can fuse with the previous frame (``x0_hook``) before the
scheduler steps.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from diffusers import DiffusionPipeline

from relight_video.networks import RelightNet, condition, decode_sample


def to_tensor(img: np.ndarray | torch.Tensor, channels: int) -> torch.Tensor:
    """``(H, W[, C])`` uint8 or float in [0, 1] (or a ``(B, C, H, W)`` tensor in model range) →
    ``(B, C, H, W)`` float32; images in [-1, 1], alpha in [0, 1]."""
    if isinstance(img, torch.Tensor):
        return img.float() if img.ndim == 4 else img.float()[None]
    x = np.asarray(img)
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    if x.ndim == 2:
        x = x[..., None]
    t = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]
    return t * 2 - 1 if channels == 3 else t


class RelightPipeline(DiffusionPipeline):
    """Harmonize a foreground into a background with the lighting-aware diffusion model."""

    model_cpu_offload_seq = "background_branch->unet"
    _optional_components = ["vae", "env_branch", "aligner", "light_encoder"]

    def __init__(
        self,
        unet,
        background_branch,
        scheduler,
        vae=None,
        env_branch=None,
        aligner=None,
        light_encoder=None,
    ):
        super().__init__()
        self.register_modules(
            unet=unet,
            background_branch=background_branch,
            scheduler=scheduler,
            vae=vae,
            env_branch=env_branch,
            aligner=aligner,
            light_encoder=light_encoder,
        )

    @property
    def net(self) -> RelightNet:
        return RelightNet(
            self.unet,
            self.background_branch,
            getattr(self, "env_branch", None),
            getattr(self, "aligner", None),
            getattr(self, "light_encoder", None),
        )

    @property
    def has_env_branch(self) -> bool:
        return getattr(self, "env_branch", None) is not None

    @staticmethod
    def prepare_env(env_map, exposure: float | None = None) -> torch.Tensor:
        """A linear HDR equirect ``(H, 2H, 3)`` numpy map → the branch's ``(1, 3, 32, 64)``
        input (:func:`relight_video.envmap.encode_for_model`); tensors pass through."""
        if isinstance(env_map, torch.Tensor):
            return env_map.float() if env_map.ndim == 4 else env_map.float()[None]
        from relight_video.envmap import encode_for_model

        return torch.from_numpy(encode_for_model(np.asarray(env_map, np.float32), exposure))[None]

    def check_inputs(self, foreground, alpha, background, env_map, num_inference_steps):
        fg, a, bg = (
            torch.as_tensor(np.asarray(x)) if not isinstance(x, torch.Tensor) else x
            for x in (foreground, alpha, background)
        )
        hw = tuple(fg.shape[-2:]) if fg.ndim == 4 else tuple(fg.shape[:2])
        for name, x in (("alpha", a), ("background", bg)):
            other = tuple(x.shape[-2:]) if x.ndim == 4 else tuple(x.shape[:2])
            if other != hw:
                raise ValueError(f"{name}: expected spatial size {hw}, got {other}")
        m = (
            8
            if getattr(self, "vae", None) is not None
            else 2 ** (len(self.unet.config.block_out_channels) - 1)
        )
        if hw[0] % m or hw[1] % m:
            raise ValueError(f"foreground: height and width must be multiples of {m}, got {hw}")
        if env_map is not None and not self.has_env_branch:
            raise ValueError("env_map: this checkpoint has no env-map branch (train stage 2)")
        if env_map is not None and not isinstance(env_map, torch.Tensor):
            shape = np.shape(env_map)
            if len(shape) != 3 or shape[2] != 3 or shape[1] != 2 * shape[0]:
                raise ValueError(f"env_map: expected an (H, 2H, 3) equirect map, got {shape}")
        if num_inference_steps < 1:
            raise ValueError(f"num_inference_steps: expected >= 1, got {num_inference_steps}")

    def prepare_latents(self, shape, generator, latents, device, dtype) -> torch.Tensor:
        if latents is not None:
            if tuple(latents.shape) != tuple(shape):
                raise ValueError(
                    f"latents: expected shape {tuple(shape)}, got {tuple(latents.shape)}"
                )
            return latents.to(device, dtype)
        noise = torch.randn(shape, generator=generator, dtype=torch.float32)
        return (noise * self.scheduler.init_noise_sigma).to(device, dtype)

    @torch.no_grad()
    def __call__(
        self,
        foreground,
        alpha,
        background,
        env_map: torch.Tensor | None = None,
        num_inference_steps: int = 8,
        generator: torch.Generator | None = None,
        latents: torch.Tensor | None = None,
        x0_hook: Callable[[int, int, torch.Tensor], torch.Tensor] | None = None,
        output_type: str = "np",
    ):
        """Args:
        foreground, background: ``(H, W, 3)`` uint8 / float in [0, 1], or ``(B, 3, H, W)``
            tensors in [-1, 1].
        alpha: ``(H, W)`` in [0, 1] or ``(B, 1, H, W)``.
        env_map: light from this HDR map directly instead of reading the light from the
            background (needs a stage-2 checkpoint): a linear equirect ``(H, 2H, 3)`` array
            (exposed with :func:`relight_video.envmap.auto_exposure`), or the branch's
            ``(B, 3, He, We)`` log-encoded input.
        latents: the initial noise (a video shares one for all frames).
        x0_hook: ``f(step_index, num_steps, x0) -> x0`` applied to each predicted clean
            residual before the scheduler step (temporal guidance).
        output_type: ``np`` → ``(B, H, W, 3)`` float32 in [0, 1]; ``pt`` → tensor in [-1, 1].
        """
        # 1. check inputs
        self.check_inputs(foreground, alpha, background, env_map, num_inference_steps)
        device, dtype = self.unet.device, self.unet.dtype

        # 2. prepare images and the conditioning
        fg, a, bg = to_tensor(foreground, 3), to_tensor(alpha, 1), to_tensor(background, 3)
        fg, a, bg = fg.to(device, dtype), a.to(device, dtype), bg.to(device, dtype)
        composite = fg * a + bg * (1 - a)
        vae = getattr(self, "vae", None)
        env = None if env_map is None else self.prepare_env(env_map).to(device, dtype)
        if env is not None and env.shape[0] != composite.shape[0]:
            env = env.expand(composite.shape[0], -1, -1, -1)
        cond = condition(composite, a, bg, env, vae=vae)
        use_env = env is not None

        # 3. timesteps and the initial noise
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        c = self.unet.config.out_channels
        shape = (composite.shape[0], c, *cond.concat.shape[-2:])
        x = self.prepare_latents(shape, generator, latents, device, dtype)

        # 4. denoise
        net = self.net
        timesteps = self.scheduler.timesteps
        for i, t in enumerate(self.progress_bar(timesteps)):
            x_in = self.scheduler.scale_model_input(x, t)
            x0 = net(x_in, t, cond, use_env=use_env)
            if x0_hook is not None:
                x0 = x0_hook(i, len(timesteps), x0)
            x = self.scheduler.step(x0, t, x).prev_sample

        # 5. decode: composite + the change, in the foreground only
        out = decode_sample(x, composite, a, vae)
        if output_type == "pt":
            return out
        return ((out + 1) / 2).permute(0, 2, 3, 1).float().cpu().numpy()
