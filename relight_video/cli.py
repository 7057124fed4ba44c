"""The ``relight-video`` command line.

Every command turns a user error (:class:`InputError`, or an ``OSError`` such as a full disk or a
folder it may not write) into one line on stderr and exit code 2;
Ctrl-C exits with 130 and leaves no partial output (the writers clean up after themselves).
Commands that live in heavier modules, or in the training package ``models``, are imported only
when they are invoked.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

import click

from relight_video.errors import InputError, Terminated, interrupt_code, on_sigterm

# name -> "module:attribute" of a click command, imported on first use
LAZY_COMMANDS = {
    "synth": "models.cli:synth",
    "train": "models.train.cli:train",
    "eval": "relight_video.evaluate:eval_command",
    "eval-video": "relight_video.evaluate:eval_video_command",
    "bench": "relight_video.bench:bench_command",
    "batch": "relight_video.batch:batch_command",
}


class LazyGroup(click.Group):
    """A click group with lazily imported commands and one-line user errors."""

    def list_commands(self, ctx):
        present = {n for n, target in LAZY_COMMANDS.items() if _module_exists(target)}
        return sorted(set(super().list_commands(ctx)) | present)

    def get_command(self, ctx, name):
        cmd = super().get_command(ctx, name)
        if cmd is not None or name not in LAZY_COMMANDS:
            return cmd
        module, attr = LAZY_COMMANDS[name].split(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            return _unavailable(name)

    def invoke(self, ctx):
        import signal
        import threading

        # SIGTERM (kill, a render farm's job stop) unwinds like Ctrl-C, so the partial output
        # is deleted instead of being left behind under its hidden temporary name
        main_thread = threading.current_thread() is threading.main_thread()
        Terminated.received = False
        previous = signal.signal(signal.SIGTERM, on_sigterm) if main_thread else None
        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # `relight-video probe clip | head`: the reader has gone
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes at exit
            ctx.exit(141)  # 128 + SIGPIPE, as a shell tool killed by the pipe
        except (InputError, OSError) as e:  # OSError: a full disk, a folder we may not write
            click.echo(f"error: {' '.join(str(e).split())}", err=True)  # always one line
            ctx.exit(2)
        except click.UsageError as e:  # a missing -o, --workers 0, ...: one line as well
            command = e.ctx.command_path if e.ctx is not None else ctx.command_path
            message = " ".join(e.format_message().split())
            click.echo(f"error: {message} (see '{command} --help')", err=True)
            ctx.exit(2)
        except KeyboardInterrupt as e:
            click.echo("interrupted: no output was written", err=True)
            ctx.exit(interrupt_code(e))
        finally:
            if main_thread:
                signal.signal(signal.SIGTERM, previous)


def _module_exists(target: str) -> bool:
    try:
        return importlib.util.find_spec(target.split(":")[0]) is not None
    except ModuleNotFoundError:
        return False


def _unavailable(name: str) -> click.Command:
    @click.command(name, context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def cmd(args):
        raise InputError(f"'{name}' is not available in this installation")

    return cmd


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="relight-video")
def main():
    """Re-light a filmed subject to sit in a new background (Relightful Harmonization, video)."""


def _common_options(f):
    options = [
        click.option("-b", "--background", help="Background image or clip."),
        click.option("-o", "--output", required=True, help="Output path."),
        click.option(
            "--engine",
            type=click.Choice(["composite", "classical", "diffusion"]),
            default=None,
            help="Harmonization engine (default: from config, diffusion with the bundled model).",
        ),
        click.option(
            "--key",
            type=click.Choice(["green", "blue", "auto"]),
            default=None,
            help="Chroma key the input (key colour estimated from the frame border).",
        ),
        click.option(
            "--fit",
            type=click.Choice(["cover", "contain", "stretch"]),
            default=None,
            help="How the background is fitted to the frame (default cover).",
        ),
        click.option(
            "--garbage",
            default=None,
            help="Garbage matte: a mask image, black where the subject can never be (the studio "
            "past the screen's edge, rigs); it multiplies the matte.",
        ),
        click.option(
            "--output-alpha",
            default=None,
            help="Also write the harmonized foreground with straight alpha (.mov/.png).",
        ),
        click.option(
            "--working-size",
            type=int,
            default=None,
            help="Long side in px the engine works at (default 256 for the diffusion engine, 128 for the others).",
        ),
        click.option(
            "--strength",
            type=float,
            default=None,
            help="How much of the relight to apply: 0 = plain composite, 1 = as the engine gives "
            "it (default), up to 3 = exaggerated (its gain raised to this power).",
        ),
        click.option("--checkpoint", default=None, help="Model checkpoint folder (diffusion)."),
        click.option(
            "--env-map",
            default=None,
            help="Light from this HDR environment map (.exr/.hdr/.npy; diffusion engine, stage-2 "
            "checkpoint). Without -b the background is a view of the map.",
        ),
        click.option(
            "--env-yaw",
            type=float,
            default=None,
            help="Turn the env map's light around the subject (degrees; + moves what is behind "
            "the subject towards image right, a light in front of it towards the left).",
        ),
        click.option("--config", "config_path", default=None, help="YAML config file."),
        click.option(
            "--set",
            "overrides",
            multiple=True,
            metavar="KEY=VALUE",
            help="Override a config value, e.g. --set classical.light_strength=0.5.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@main.command()
@click.argument("input")
@_common_options
@click.option(
    "--alpha",
    default=None,
    help="Alpha: a clip, a folder of PNGs, or 'self' (the input's own alpha channel).",
)
@click.option(
    "--matte",
    type=click.Choice(["person"]),
    default=None,
    help="Pull a person matte (no green screen needed; needs the [matte] extra).",
)
@click.option(
    "--matte-model",
    default=None,
    help="Person segmenter .tflite (default: the one fetch-matte-model installed).",
)
@click.option(
    "--temporal",
    type=click.Choice(["flow", "none"]),
    default=None,
    help="Diffusion engine: flow-guided video stability (default; it also steadies the "
    "subject's grain along its motion, --set temporal.stabilize=0 keeps the grain) or per-frame "
    "without guidance (the clip still shares one noise; --set temporal.noise=per_frame draws "
    "anew per frame).",
)
@click.option(
    "--flow-weights",
    default=None,
    help="RAFT weights file; use with --set temporal.flow_backend=raft_small|raft_large.",
)
@click.option("--keyframes", default=None, help="Keyframed lighting YAML (see README).")
@click.option(
    "--fps",
    default=None,
    help="Frame rate of an image-sequence INPUT: 25, 23.976 (= 24000/1001), 30000/1001 "
    "(default 24).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def run(input, output, config_path, overrides, temporal, flow_weights, quiet, **options):
    """Harmonize the clip INPUT into a background and write OUTPUT (.mp4, .m4v, .mkv, .mov or a
    folder of PNG frames)."""
    from relight_video.config import load_run_config
    from relight_video.harmonize import harmonize_video

    if temporal:
        overrides = (*overrides, f"temporal.mode={temporal}")
    if flow_weights:
        overrides = (*overrides, f"temporal.flow_weights={flow_weights}")
    cfg = load_run_config(config_path, overrides, **options)
    stats = harmonize_video(input, None, output, config=cfg, progress=not quiet)
    shots = ""
    if stats.cuts:
        listed = ", ".join(map(str, stats.cuts[:8])) + (", ..." if len(stats.cuts) > 8 else "")
        shots = f"; {len(stats.cuts) + 1} shots, cuts at frames {listed}"
    click.echo(
        f"wrote {output}: {stats.frames} frames in {stats.seconds:.1f} s ({stats.fps:.1f} fps)"
        f"{shots}",
        err=True,
    )
    if warning := stats.no_subject_warning():
        click.echo(warning, err=True)


@main.command()
@click.argument("foreground")
@_common_options
@click.option("--alpha", default=None, help="Mask image (white = subject); optional for RGBA.")
def image(foreground, output, config_path, overrides, alpha, **options):
    """Harmonize one FOREGROUND image into a background and write OUTPUT (.png/.jpg)."""
    from relight_video.config import load_run_config
    from relight_video.harmonize import harmonize_image

    cfg = load_run_config(config_path, overrides, **options)
    harmonize_image(foreground, None, output, alpha=alpha, config=cfg)
    click.echo(f"wrote {output}", err=True)


@main.command()
@click.argument("input")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
def probe(input, as_json):
    """What the tool sees in the clip INPUT: size, pixel aspect, rotation, exact rate, variable
    frame times, HDR, interlacing, alpha, audio tracks, timecode."""
    import json

    from relight_video.io import describe

    doc = describe(input)
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    for key, value in doc.items():
        if key == "audio":
            value = "; ".join(f"{a['codec']} {a['layout']} {a['rate']} Hz" for a in value) or "none"
        click.echo(f"{key:20} {value}")


@main.command("fetch-matte-model")
@click.option("--dest", default=None, help="Folder to install into (default: the user data dir).")
@click.option("--wheel", default=None, help="Use this mediapipe wheel instead of pip download.")
def fetch_matte_model(dest, wheel):
    """Install the person segmenter for --matte person (an install step, through pip)."""
    from pathlib import Path

    from relight_video.person_matte import install_model

    path = install_model(Path(dest) if dest else None, Path(wheel) if wheel else None)
    click.echo(f"installed {path}", err=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
