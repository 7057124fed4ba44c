"""Training configuration: one dataclass schema per run, filled from YAML, then ``--set``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from relight_video.config import from_dict, merge, parse_override, read_yaml


@dataclass
class ModelConfig:
    sample_size: int = 64
    block_out_channels: list[int] = field(default_factory=lambda: [32, 64, 128])
    layers_per_block: int = 1
    norm_num_groups: int = 8
    init_from: str | None = None  # local Stable Diffusion 1.5 / InstructPix2Pix folder


@dataclass
class DataConfig:
    pairs: str | None = None  # a `relight-video synth pairs` folder
    val_pairs: str | None = None
    flip: bool = True


@dataclass
class TrainConfig:
    output_dir: str = "runs/stage1"
    steps: int = 2000
    batch_size: int = 16
    lr: float = 3e-4
    weight_decay: float = 0.0
    warmup_steps: int = 50
    ema_decay: float = 0.995
    seed: int = 0
    log_every: int = 25
    save_every: int = 250
    num_workers: int = 0
    mixed_precision: str = "no"
    background_loss_weight: float = 0.05
    init_checkpoint: str | None = None  # a previous stage's pipeline folder
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)


def load_train_config(path: str | Path | None, overrides=()) -> TrainConfig:
    data = read_yaml(path) if path else {}
    for text in overrides:
        merge(data, *parse_override(text))
    return from_dict(TrainConfig, data)
