"""Command line of the training package; the product attaches these groups lazily
(``relight-video synth …``).

``synth``: the virtual light stage — ``pairs``, ``clip``, ``sheet`` (contact sheet of pairs) and
``bench`` (throughput figures). Bad arguments raise :class:`relight_video.errors.InputError`.
"""

from __future__ import annotations

from pathlib import Path

import click

from relight_video.errors import InputError


def _floats(text: str, n: int, name: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"{name} must be {n} comma-separated numbers, got {text!r}") from None
    if len(vals) != n:
        raise InputError(f"{name} must be {n} comma-separated numbers, got {text!r}")
    return vals


def _kinds(text: str) -> tuple[str, ...]:
    from models.data.envmaps import ENV_KINDS

    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    bad = [k for k in kinds if k not in ENV_KINDS]
    if bad or not kinds:
        raise InputError(f"--env-kinds must be among {','.join(ENV_KINDS)}, got {text!r}")
    return kinds


def _positive(value: int, name: str, low: int = 1) -> int:
    if value < low:
        raise InputError(f"{name} must be >= {low}, got {value}")
    return value


@click.group("synth")
def synth() -> None:
    """Virtual light stage: synthetic relighting pairs and clips with ground truth."""


@synth.command("pairs")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--n", "n", default=16, show_default=True, help="Number of pairs.")
@click.option("--size", default=128, show_default=True, help="Image size (pixels).")
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--cache",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder caching OLAT stacks between runs.",
)
@click.option("--lights", default=64, show_default=True, help="Light-stage directions.")
@click.option("--pairs-per-subject", default=4, show_default=True)
@click.option(
    "--fractions",
    default="0.7,0.15,0.15",
    show_default=True,
    help="Shares of relight,tint,identity pairs.",
)
@click.option("--env-kinds", default="outdoor,indoor,studio,hdri", show_default=True)
@click.option(
    "--hdri-split",
    type=click.Choice(["train", "val"]),
    default=None,
    help="Use only a split's share of the captured HDRIs (val: never seen in training).",
)
def pairs_command(
    out, n, size, seed, cache, lights, pairs_per_subject, fractions, env_kinds, hdri_split
):
    """Write N pairs as OUT/NNN/{composite,mask,background,target}.png, env_*.hdr, meta.json."""
    from models.data.pairs import PairConfig, write_pairs

    config = PairConfig(
        size=size,
        n_lights=lights,
        fractions=_floats(fractions, 3, "--fractions"),
        pairs_per_subject=_positive(pairs_per_subject, "--pairs-per-subject"),
        env_kinds=_kinds(env_kinds),
        hdri_split=hdri_split,
    )
    write_pairs(out, _positive(n, "--n"), size, seed, cache_dir=cache, config=config)
    click.echo(f"wrote {n} pairs to {out}")


@synth.command("clip")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--frames", default=24, show_default=True)
@click.option("--size", default=128, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--fps", default=24.0, show_default=True)
@click.option("--lights", default=64, show_default=True)
@click.option("--keyframed", is_flag=True, help="Turn the target environment over the clip.")
def clip_command(out, frames, size, seed, fps, lights, keyframed):
    """Write a green-screen clip with alpha, relit targets and per-frame motion into OUT."""
    import math

    from models.data.clips import write_clip

    if size < 16 or size % 2:  # H.264 4:2:0 needs even sizes; alpha and targets must match
        raise InputError(f"--size: expected an even size of at least 16, got {size}")
    if not (math.isfinite(fps) and 0 < fps <= 1000):
        raise InputError(f"--fps: expected 0 < fps <= 1000, got {fps}")
    write_clip(
        out,
        _positive(frames, "--frames"),
        size,
        seed,
        fps=fps,
        n_lights=lights,
        keyframed=keyframed,
    )
    click.echo(f"wrote a {frames}-frame clip to {out}")


@synth.command("sheet")
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--n", "n", default=16, show_default=True)
@click.option("--size", default=128, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--cache", type=click.Path(path_type=Path), default=None)
def sheet_command(out_dir, n, size, seed, cache):
    """Write OUT_DIR/sheet.png: composite | target | background | mask | env maps per pair."""
    from models.data.pairs import PairConfig
    from models.data.sheet import write_sheet

    PairConfig(size=size).check()
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"output is not a folder: {out_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = write_sheet(out_dir / "sheet.png", _positive(n, "--n"), size, seed, cache_dir=cache)
    click.echo(f"wrote {path}")


@synth.command("bench")
@click.option("--size", default=128, show_default=True)
@click.option("--lights", default=64, show_default=True)
@click.option("--pairs", "n_pairs", default=200, show_default=True)
@click.option("--workers", default=0, show_default=True)
def bench_command(size, lights, n_pairs, workers):
    """Print OLAT stacks per minute and pairs per second."""
    from models.data.bench import format_throughput, measure_throughput

    _positive(size, "--size", 16)
    _positive(lights, "--lights", 4)
    r = measure_throughput(
        size=size,
        n_lights=lights,
        n_pairs=_positive(n_pairs, "--pairs"),
        workers=_positive(workers, "--workers", 0),
        progress=True,
    )
    click.echo(format_throughput(r))
