"""Training configuration: one dataclass schema per run, filled from YAML, then ``--set``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from relight_video.config import from_dict, merge, merge_sections, parse_override, read_yaml
from relight_video.errors import InputError


@dataclass
class ModelConfig:
    sample_size: int = 64
    block_out_channels: list[int] = field(default_factory=lambda: [32, 64, 128])
    layers_per_block: int = 1
    norm_num_groups: int = 8
    init_from: str | None = None  # local Stable Diffusion 1.5 / InstructPix2Pix folder
    light_code_dim: int = 0  # > 0: a global light encoder feeds the time embedding (pixel space)

    def __post_init__(self):
        blocks = self.block_out_channels
        if not blocks or any(not isinstance(c, int) or c < 1 for c in blocks):
            raise InputError(f"model.block_out_channels: expected positive sizes, got {blocks}")
        if self.norm_num_groups < 1 or any(c % self.norm_num_groups for c in blocks):
            raise InputError(
                f"model.norm_num_groups: {self.norm_num_groups} must divide every block's "
                f"channels {blocks}"
            )
        multiple = 2 ** (len(blocks) - 1)
        if self.sample_size < multiple or self.sample_size % multiple:
            raise InputError(
                f"model.sample_size: expected a positive multiple of {multiple} (the UNet halves "
                f"it {len(blocks) - 1} times), got {self.sample_size}"
            )
        if self.layers_per_block < 1 or self.light_code_dim < 0:
            raise InputError("model.layers_per_block must be >= 1 and light_code_dim >= 0")


@dataclass
class DataConfig:
    """Where training pairs come from.

    ``source: lightstage`` draws pairs on the fly from cached OLAT stacks
    (:class:`models.data.dataset.LightStageDataset`, cached under ``root``); ``source: folder``
    reads a ``relight-video synth pairs`` folder (``pairs``). Stage 2 needs ``lightstage``: only
    it carries the environment maps.
    """

    source: str = "lightstage"  # lightstage | folder
    root: str = "data/lightstage"  # OLAT stack and env-bank cache (lightstage)
    render_size: int = 64  # size the stacks and plates are rendered at (lightstage)
    n_subjects: int = 64
    n_envs: int = 256
    pairs_per_epoch: int | None = None
    n_lights: int = 64
    pairs: str | None = None  # a `relight-video synth pairs` folder (folder)
    flip: bool = True
    cache_workers: int = 0  # processes that render missing caches (lightstage); 0: one per core


@dataclass
class Stage3Config:
    """Stage 3: pairs simulated from natural photos (see :mod:`models.train.stage3`)."""

    photos: str | None = None  # folder: photos with masks, RGBA images, or photos to matte
    matte: str | None = None  # person: matte photos that have no mask
    pairs_per_photo: int = 24  # simulated relightings of each photo
    sim_share: float = 0.5  # share of simulated pairs in each batch (rest: light stage)
    sim_steps: int = 8  # sampling steps when the stage-2 model relights a photo
    train_aligner: bool = True  # finetune the aligner with the background branch


@dataclass
class TrainConfig:
    output_dir: str = "runs/stage1"
    steps: int = 2000
    batch_size: int = 16
    lr: float = 3e-4
    weight_decay: float = 0.0
    warmup_steps: int = 50
    lr_schedule: str = "constant"  # constant | cosine (to 0 at the stage's last step)
    ema_decay: float = 0.995
    seed: int = 0
    log_every: int = 25
    save_every: int = 250
    num_workers: int = 0
    mixed_precision: str = "no"
    background_loss_weight: float = 0.05
    # share of each batch drawn at the top timestep, the one few-step sampling starts from
    # (default sampling is 1 step, where the x0 prediction from pure noise *is* the output)
    top_timestep_share: float = 0.0
    init_checkpoint: str | None = None  # a previous stage's pipeline folder
    # stage 2: ``steps`` train the env-map branch, then ``align_steps`` the aligner
    align_steps: int = 0
    feature_loss_weight: float = 1.0
    stage3: Stage3Config = field(default_factory=lambda: Stage3Config())
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)

    def __post_init__(self):
        if self.lr_schedule not in ("constant", "cosine"):
            raise InputError(f"lr_schedule: expected constant or cosine, got {self.lr_schedule!r}")
        if not 0.0 <= self.top_timestep_share <= 1.0:
            raise InputError(f"top_timestep_share: expected 0..1, got {self.top_timestep_share}")
        at_least = {
            "steps": (self.steps, 1),
            "batch_size": (self.batch_size, 1),
            "log_every": (self.log_every, 1),
            "save_every": (self.save_every, 1),
            "warmup_steps": (self.warmup_steps, 0),
            "align_steps": (self.align_steps, 0),
            "num_workers": (self.num_workers, 0),
            "data.cache_workers": (self.data.cache_workers, 0),
            "weight_decay": (self.weight_decay, 0),
        }
        for name, (value, low) in at_least.items():
            if value < low:
                raise InputError(f"{name}: expected at least {low}, got {value}")
        if not self.lr > 0:
            raise InputError(f"lr: expected a positive learning rate, got {self.lr}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise InputError(f"ema_decay: expected 0 <= value < 1, got {self.ema_decay}")
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise InputError(
                f"mixed_precision: expected no, fp16 or bf16, got {self.mixed_precision!r}"
            )


def read_train_yaml(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict:
    """A training config's mapping with its ``base:`` chain resolved.

    ``base: other.yaml`` (relative to the file that names it) loads that file first; this file's
    keys then override it, section by section (``data: {n_envs: …}`` changes one data key and
    keeps the rest). Bases may have bases; a cycle or a missing base is an :class:`InputError`.
    """
    path = Path(path)
    if path.resolve() in _seen:
        chain = " -> ".join(p.name for p in (*_seen, path.resolve()))
        raise InputError(f"{path}: 'base' chain loops ({chain})")
    data = read_yaml(path)
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str) or not base.strip():
        raise InputError(f"{path}: 'base' must name another config file, got {base!r}")
    base_path = path.parent / base
    if not base_path.is_file():
        raise InputError(f"{path}: base config not found: {base_path}")
    inherited = read_train_yaml(base_path, (*_seen, path.resolve()))
    return merge_sections(inherited, data)


def load_train_config(path: str | Path | None, overrides=()) -> TrainConfig:
    """YAML file (with its ``base:`` chain), then ``--set`` overrides; validated."""
    data = read_train_yaml(path) if path else {}
    for text in overrides:
        merge(data, *parse_override(text))
    return from_dict(TrainConfig, data)
