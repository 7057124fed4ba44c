"""The lighting-aware diffusion model's networks (Relightful Harmonization, Ren et al. CVPR 2024).

- **Denoiser**: a diffusers ``UNet2DConditionModel``; its input is the noisy sample ``x_t``
  concatenated with the composite and the alpha (InstructPix2Pix-style channel concat, Brooks et
  al. CVPR 2023). In pixel space that is 3 + 3 + 1 = 7 channels.
- **Background lighting branch** (stage 1): a diffusers ``ControlNetModel`` (Zhang et al. ICCV
  2023) fed the background image; its residuals carry spatial lighting into the UNet's skips.
- **Env-map branch and alignment** (stage 2): a second ControlNet fed an equirectangular HDR
  map (:func:`build_env_branch`), and :class:`LightingAligner`, which maps the background
  branch's features onto the env-map branch's.
- **Light code** (optional, ``DenoiserConfig.light_code_dim``): :class:`LightEncoder` pools the
  whole frame into one vector that joins the time embedding of the denoiser and its branches.

What is diffused is the *residual* ``target − composite`` (scaled by :data:`RESIDUAL_SCALE`):
harmonization changes an image a little, so the model learns the change, and "leave it alone"
is the zero residual. :func:`condition` builds the conditioning once for training and inference.

Tensors: images ``(B, 3, H, W)`` in [-1, 1], alpha ``(B, 1, H, W)`` in [0, 1].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

RESIDUAL_SCALE = 2.0  # residuals are small; scale them towards unit variance for the noise


@dataclass
class DenoiserConfig:
    sample_size: int = 64
    latent: bool = False  # True: SD-style latent space (4 channels, AutoencoderKL)
    block_out_channels: tuple[int, ...] = (32, 64, 128)
    layers_per_block: int = 1
    norm_num_groups: int = 8
    cross_attention_dim: int = 32
    conditioning_embedding_out_channels: tuple[int, ...] = field(default_factory=lambda: (16,))
    # > 0: a global light code of this size (:class:`LightEncoder`) joins the time embedding
    light_code_dim: int = 0

    @property
    def sample_channels(self) -> int:
        return 4 if self.latent else 3


def build_denoiser(cfg: DenoiserConfig):
    """A small pixel-space UNet (no attention, CPU-trainable) whose input is x_t ‖ composite ‖ α."""
    from diffusers import UNet2DConditionModel

    n = len(cfg.block_out_channels)
    c = cfg.sample_channels
    return UNet2DConditionModel(
        sample_size=cfg.sample_size,
        in_channels=2 * c + 1,
        out_channels=c,
        down_block_types=("DownBlock2D",) * n,
        up_block_types=("UpBlock2D",) * n,
        mid_block_type="UNetMidBlock2D",
        block_out_channels=tuple(cfg.block_out_channels),
        layers_per_block=cfg.layers_per_block,
        norm_num_groups=cfg.norm_num_groups,
        cross_attention_dim=cfg.cross_attention_dim,
        class_embed_type="projection" if cfg.light_code_dim else None,
        projection_class_embeddings_input_dim=cfg.light_code_dim or None,
    )


def build_background_branch(unet, cfg: DenoiserConfig, conditioning_channels: int = 3):
    """The background lighting branch: a ControlNet copied from the denoiser's encoder.

    Its conditioning embedding downsamples by ``2**(len(channels) - 1)``: ``(16,)`` keeps pixel
    resolution; SD's latent layout uses ``(16, 32, 96, 256)`` (8×).
    """
    from diffusers import ControlNetModel

    return ControlNetModel.from_unet(
        unet,
        conditioning_embedding_out_channels=tuple(cfg.conditioning_embedding_out_channels),
        conditioning_channels=conditioning_channels,
    )


def expand_conv_in(unet, in_channels: int):
    """Widen ``unet.conv_in`` to ``in_channels`` inputs; new channels get zero weights, so the
    widened UNet computes exactly what the pretrained one did (InstructPix2Pix's recipe)."""
    old = unet.conv_in
    if in_channels < old.in_channels:
        raise ValueError(f"in_channels: expected >= {old.in_channels}, got {in_channels}")
    new = nn.Conv2d(in_channels, old.out_channels, old.kernel_size, old.stride, old.padding)
    with torch.no_grad():
        new.weight.zero_()
        new.weight[:, : old.in_channels] = old.weight
        new.bias.copy_(old.bias)
    unet.conv_in = new
    unet.register_to_config(in_channels=in_channels)
    return unet


@dataclass
class Conditioning:
    """What the denoiser is conditioned on, built by :func:`condition`."""

    concat: torch.Tensor  # (B, C + 1, h, w): composite ‖ alpha, concatenated to x_t
    control: torch.Tensor  # (B, 3, H, W): the background, for the lighting branch
    env: torch.Tensor | None = None  # (B, 3, He, We): log-encoded env map, for stage 2

    def to(self, device) -> Conditioning:
        env = None if self.env is None else self.env.to(device)
        return Conditioning(self.concat.to(device), self.control.to(device), env)


def condition(
    composite: torch.Tensor,
    alpha: torch.Tensor,
    background: torch.Tensor,
    env_map: torch.Tensor | None = None,
    vae=None,
) -> Conditioning:
    """The one conditioning function, used by training and inference alike.

    Args:
        composite, background: ``(B, 3, H, W)`` in [-1, 1].
        alpha: ``(B, 1, H, W)`` in [0, 1].
        env_map: ``(B, 3, He, We)`` log-encoded env map
            (:func:`relight_video.envmap.encode_for_model`), or None.
        vae: an ``AutoencoderKL`` for latent space (composite encoded, alpha resized), or None.
    """
    if vae is not None:
        latents = vae.encode(composite).latent_dist.mode() * vae.config.scaling_factor
        a = torch.nn.functional.interpolate(alpha, size=latents.shape[-2:], mode="area")
        return Conditioning(torch.cat([latents, a], 1), background, env_map)
    return Conditioning(torch.cat([composite, alpha], 1), background, env_map)


def clean_sample(target: torch.Tensor, composite: torch.Tensor, vae=None) -> torch.Tensor:
    """What is diffused, for a training pair: the scaled residual ``(target − composite)`` in
    pixel space, or the target's latent in latent space (InstructPix2Pix)."""
    if vae is not None:
        return vae.encode(target).latent_dist.mode() * vae.config.scaling_factor
    return (target - composite) * RESIDUAL_SCALE


def decode_sample(
    x: torch.Tensor, composite: torch.Tensor, alpha: torch.Tensor, vae=None
) -> torch.Tensor:
    """The inverse of :func:`clean_sample`, kept to the foreground: ``(B, 3, H, W)`` in [-1, 1]."""
    if vae is not None:
        change = vae.decode(x / vae.config.scaling_factor).sample - composite
    else:
        change = x / RESIDUAL_SCALE
    return (composite + change * alpha).clamp(-1, 1)


def build_env_branch(unet, cfg: DenoiserConfig):
    """The env-map branch (stage 2): a ControlNet like the background branch, fed the
    log-encoded equirectangular map (:func:`relight_video.envmap.encode_for_model`), resampled
    to the background's size; a turn of the light is a roll of the map's columns."""
    return build_background_branch(unet, cfg, conditioning_channels=3)


def residual_channels(unet) -> tuple[list[int], int]:
    """Channel counts of a ControlNet's down residuals (in order) and of its mid residual, for
    a UNet built like :func:`build_denoiser` / SD (``layers_per_block`` per level, a downsampler
    after every level but the last)."""
    boc = list(unet.config.block_out_channels)
    layers = unet.config.layers_per_block
    chans = [boc[0]]
    for i, c in enumerate(boc):
        chans += [c] * layers
        if i < len(boc) - 1:
            chans.append(c)
    return chans, boc[-1]


class LightingAligner(ModelMixin, ConfigMixin):
    """Maps the background branch's features onto the env-map branch's (stage 2, the paper's
    alignment network): per residual, ``r + conv(SiLU(conv(r)))`` with the last conv
    zero-initialised, so an untrained aligner is the identity.

    ``forward(down, mid)`` takes and returns the lists a ControlNet returns.
    """

    @register_to_config
    def __init__(self, down_channels: tuple[int, ...] = (32,), mid_channels: int = 32):
        super().__init__()
        chans = [*down_channels, mid_channels]
        self.blocks = nn.ModuleList(_align_block(c) for c in chans)

    def forward(self, down: list[torch.Tensor], mid: torch.Tensor):
        if len(down) + 1 != len(self.blocks):
            raise ValueError(f"down: expected {len(self.blocks) - 1} residuals, got {len(down)}")
        out = [r + blk(r) for r, blk in zip(down, self.blocks[:-1])]
        return out, mid + self.blocks[-1](mid)


def _align_block(c: int) -> nn.Sequential:
    last = nn.Conv2d(c, c, 3, padding=1)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.SiLU(), last)


def build_aligner(unet) -> LightingAligner:
    down, mid = residual_channels(unet)
    return LightingAligner(down_channels=tuple(down), mid_channels=mid)


class LightEncoder(ModelMixin, ConfigMixin):
    """A global light code from the whole frame: ``background ‖ composite ‖ α`` through a
    strided conv stack, pooled to a ``grid × grid`` layout (so where the light comes from
    survives) and projected to ``out_dim``. The denoiser and its branches add it to their time
    embedding (diffusers' ``class_embed_type="projection"``), so every residual block sees the
    light of the whole plate, not just what its receptive field covers."""

    @register_to_config
    def __init__(self, in_channels: int = 7, channels: int = 32, grid: int = 4, out_dim: int = 128):
        super().__init__()
        c = channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(c, c, 3, stride=2, padding=1),
            nn.SiLU(),
            nn.Conv2d(c, 2 * c, 3, stride=2, padding=1),
            nn.SiLU(),
            nn.AdaptiveAvgPool2d(grid),
            nn.Flatten(),
            nn.Linear(2 * c * grid * grid, out_dim),
        )

    def forward(self, composite, alpha, background) -> torch.Tensor:
        return self.features(torch.cat([background, composite, alpha], 1))


class RelightNet(nn.Module):
    """Denoiser + lighting branches; one forward used by training and by the pipeline.

    ``forward(x_t, t, cond)`` predicts the clean scaled residual ``x_0`` (diffusers
    ``prediction_type="sample"``).
    """

    def __init__(self, unet, background_branch, env_branch=None, aligner=None, light_encoder=None):
        super().__init__()
        self.unet = unet
        self.background_branch = background_branch
        self.env_branch = env_branch
        self.aligner = aligner
        self.light_encoder = light_encoder

    def light_code(self, cond: Conditioning) -> torch.Tensor | None:
        """The global light code (None without a :class:`LightEncoder`)."""
        if self.light_encoder is None:
            return None
        comp, alpha = cond.concat[:, :-1], cond.concat[:, -1:]
        return self.light_encoder(comp, alpha, cond.control)

    def env_residuals(self, sample, t, cond: Conditioning):
        """Down and mid residuals of the env-map branch."""
        if self.env_branch is None or cond.env is None:
            raise ValueError("env_map: this model has no env-map branch or no map was given")
        ehs = self.null_tokens(sample.shape[0], sample.device, sample.dtype)
        env = torch.nn.functional.interpolate(
            cond.env, size=cond.control.shape[-2:], mode="bilinear", align_corners=False
        )
        down, mid = self.env_branch(
            sample, t, ehs, env, class_labels=self.light_code(cond), return_dict=False
        )
        return list(down), mid

    def background_residuals(self, sample, t, cond: Conditioning, align: bool = True):
        """Down and mid residuals of the background branch, through the aligner when there is
        one and ``align``."""
        ehs = self.null_tokens(sample.shape[0], sample.device, sample.dtype)
        down, mid = self.background_branch(
            sample, t, ehs, cond.control, class_labels=self.light_code(cond), return_dict=False
        )
        down = list(down)
        if align and self.aligner is not None:
            down, mid = self.aligner(down, mid)
        return down, mid

    def branch_residuals(self, sample, t, cond: Conditioning, use_env: bool = False):
        """Down and mid residuals from the env-map branch (when ``use_env``) or the background
        branch (through the aligner, when there is one)."""
        if use_env:
            return self.env_residuals(sample, t, cond)
        return self.background_residuals(sample, t, cond)

    def denoise(self, x_t, t, cond: Conditioning, down, mid) -> torch.Tensor:
        """The UNet on ``x_t ‖ concat`` with given branch residuals."""
        sample = torch.cat([x_t, cond.concat], 1)
        ehs = self.null_tokens(x_t.shape[0], x_t.device, x_t.dtype)
        return self.unet(
            sample,
            t,
            ehs,
            class_labels=self.light_code(cond),
            down_block_additional_residuals=down,
            mid_block_additional_residual=mid,
        ).sample

    def null_tokens(self, batch: int, device, dtype) -> torch.Tensor:
        dim = self.unet.config.cross_attention_dim
        return torch.zeros(batch, 1, dim, device=device, dtype=dtype)

    def forward(self, x_t, t, cond: Conditioning, use_env: bool = False) -> torch.Tensor:
        sample = torch.cat([x_t, cond.concat], 1)
        down, mid = self.branch_residuals(sample, t, cond, use_env)
        return self.denoise(x_t, t, cond, down, mid)


def config_dict(cfg: DenoiserConfig) -> dict:
    d = asdict(cfg)
    d["block_out_channels"] = list(cfg.block_out_channels)
    d["conditioning_embedding_out_channels"] = list(cfg.conditioning_embedding_out_channels)
    return d
