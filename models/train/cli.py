"""``relight-video train stage1|stage2|stage3`` (attached lazily by the product's CLI)."""

from __future__ import annotations

import time

import click


def _run(stage: str, run, config_path, overrides, **kwargs) -> None:
    from models.train.config import load_train_config

    cfg = load_train_config(config_path, overrides)
    start = time.perf_counter()
    folder = run(cfg, **kwargs)
    click.echo(f"{stage}: exported {folder} ({time.perf_counter() - start:.0f} s)", err=True)


@click.group()
def train():
    """Train the lighting-aware diffusion model, one stage at a time."""


@train.command()
@click.option("--config", "config_path", required=True, help="YAML, e.g. configs/train/stage1.yaml")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a value.")
def stage1(config_path, overrides):
    """Stage 1: denoiser + background lighting branch on light-stage pairs."""
    from models.train.stage1 import run

    _run("stage1", run, config_path, overrides)


@train.command()
@click.option("--config", "config_path", required=True, help="YAML, e.g. configs/train/stage2.yaml")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a value.")
def stage2(config_path, overrides):
    """Stage 2: env-map branch (denoiser frozen), then the aligner of background features."""
    from models.train.stage2 import run

    _run("stage2", run, config_path, overrides)


@train.command()
@click.option("--config", "config_path", required=True, help="YAML, e.g. configs/train/stage3.yaml")
@click.option(
    "--photos",
    default=None,
    help="Folder of photos: with NAME.mask.png masks, RGBA, or plain with --matte person.",
)
@click.option("--matte", type=click.Choice(["person"]), default=None, help="Matte plain photos.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a value.")
def stage3(config_path, photos, matte, overrides):
    """Stage 3: simulate pairs from natural photos with the stage-2 model, then finetune."""
    from models.train.stage3 import run

    _run("stage3", run, config_path, overrides, photos=photos, matte=matte)
