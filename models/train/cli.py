"""``relight-video train stage1|stage2|stage3`` (attached lazily by the product's CLI)."""

from __future__ import annotations

import time

import click


@click.group()
def train():
    """Train the lighting-aware diffusion model, one stage at a time."""


@train.command()
@click.option("--config", "config_path", required=True, help="YAML, e.g. configs/train/stage1.yaml")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a value.")
def stage1(config_path, overrides):
    """Stage 1: denoiser + background lighting branch on light-stage pairs."""
    from models.train.config import load_train_config
    from models.train.stage1 import run

    cfg = load_train_config(config_path, overrides)
    start = time.perf_counter()
    folder = run(cfg)
    click.echo(f"stage1: exported {folder} ({time.perf_counter() - start:.0f} s)", err=True)
