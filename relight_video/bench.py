"""``relight-video bench``: time and memory of the video loop against the IO floor.

For every (height, clip length) asked for, a synthetic green-screen clip (a textured subject
moving over a shaded screen, 16:9) and a background plate are written to a temporary folder.
Then, each in a fresh child process so peak memory belongs to that measurement alone:

- the **IO floor**: the same clip decoded (:func:`relight_video.io.read_frames`) and encoded
  (:class:`relight_video.io.VideoWriter`, the run's encoder settings) with nothing in between;
  nothing built on this loop can be faster;
- each **engine**: :func:`relight_video.harmonize.harmonize_video` with ``key="green"``, its
  per-stage seconds (:class:`RunStats.stages`), frames per second and ``fps / fps_io_floor``.

Peak memory is the child's peak resident set size (``getrusage(RUSAGE_SELF).ru_maxrss``, or
psutil's peak working set where ``resource`` does not exist) and its growth over the RSS after
imports; with ``--device cuda``, also ``torch.cuda.max_memory_allocated()``. The key's own time is
``decode+matte`` of the engine run less the decode time of the IO-floor run of the same clip.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

from relight_video.errors import InputError

FPS = 24
# stages reported per frame, in the order of the data path
STAGES = ("decode", "key", "resize", "model", "detail", "encode")


# ------------------------------------------------------------------------- synthetic clips


def clip_size(height: int) -> tuple[int, int]:
    """``(width, height)`` of a 16:9 clip ``height`` px high, both even (H.264 4:2:0)."""
    h = height + height % 2
    w = round(h * 16 / 9)
    return w + w % 2, h


class SyntheticGreenScreen:
    """A textured subject (an upright ellipse, like a torso and head) crossing a green screen.

    The subject's texture (smooth colour field + cloth-like seeded noise + stripes) and its soft
    matte are built once; :meth:`frame` pastes them at a moving offset, so frames cost little
    even at 4K. Frames are ``(height, width, 3) uint8`` RGB.
    """

    def __init__(self, width: int, height: int, seed: int = 0):
        import cv2

        rng = np.random.default_rng(seed)
        self.width, self.height = width, height
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        u, v = xx / width, yy / height
        # a green screen, unevenly lit (brighter in the middle, falling off to the corners)
        falloff = 1.0 - 0.35 * ((u - 0.5) ** 2 + (v - 0.45) ** 2)
        self.screen = np.stack([35 + 25 * u, 175 * falloff, 60 + 15 * v], -1).astype(np.float32)
        # the subject: ellipse 0.3 w x 0.8 h, soft edge (~1.5 px at 1080p)
        ph, pw = max(8, int(0.8 * height)), max(8, int(0.3 * width))
        py, px = np.mgrid[0:ph, 0:pw].astype(np.float32)
        inside = ((px - pw / 2) / (pw / 2)) ** 2 + ((py - ph / 2) / (ph / 2)) ** 2 < 0.95
        sigma = max(0.7, height / 700)
        self.alpha = cv2.GaussianBlur(inside.astype(np.float32), (0, 0), sigma)[..., None]
        noise = rng.normal(0, 1, (max(2, ph // 24), max(2, pw // 24), 3)).astype(np.float32)
        cloth = cv2.resize(noise, (pw, ph), interpolation=cv2.INTER_CUBIC)
        fine = rng.normal(0, 5, (ph, pw, 3)).astype(np.float32)
        stripes = 12 * np.sin(py / max(2.0, height / 90))[..., None]
        base = np.array([185, 135, 110], np.float32) - 40 * (py / ph)[..., None]
        self.subject = np.clip(base + 14 * cloth + fine + stripes, 0, 255)
        self.patch = (ph, pw)

    def frame(self, i: int, n: int) -> np.ndarray:
        """Frame ``i`` of ``n``: the subject moves left → right across the middle and bobs."""
        ph, pw = self.patch
        t = i / max(1, n - 1)
        x0 = int(round((0.1 + 0.5 * t) * self.width))
        y0 = int(round(0.15 * self.height + 0.02 * self.height * np.sin(2 * np.pi * t)))
        x1, y1 = min(self.width, x0 + pw), min(self.height, y0 + ph)
        out = self.screen.copy()
        a = self.alpha[: y1 - y0, : x1 - x0]
        region = out[y0:y1, x0:x1]
        blended = self.subject[: y1 - y0, : x1 - x0] * a + region * (1 - a)
        blended[..., 1] += 60 * a[..., 0] * (1 - a[..., 0])  # green spill on the edge
        out[y0:y1, x0:x1] = blended
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def write_synthetic_clip(path: Path, height: int, frames: int, seed: int = 0) -> Path:
    """Write a ``frames``-long 16:9 H.264 green-screen clip ``height`` px high to ``path``."""
    from relight_video import io

    w, h = clip_size(height)
    scene = SyntheticGreenScreen(w, h, seed)
    with io.VideoWriter(path, FPS, w, h, crf=16, preset="veryfast") as writer:
        for i in range(frames):
            writer.write(scene.frame(i, frames))
    return path


def write_background(path: Path, height: int) -> Path:
    """A warm outdoor-like plate ``(h, w, 3)`` at the clip's size: sky gradient over ground."""
    from relight_video import io

    w, h = clip_size(height)
    v = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    u = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    sky = np.stack([230 - 40 * v + 0 * u, 170 - 60 * v + 0 * u, 110 + 60 * u - 60 * v], -1)
    ground = np.stack([90 + 30 * u + 0 * v, 70 + 10 * u + 0 * v, 50 + 0 * u + 0 * v], -1)
    img = np.where((v > 0.62)[..., None], ground, sky)
    io.write_image(path, np.clip(img, 0, 255).astype(np.uint8))
    return path


# ------------------------------------------------------------------------- measurements


def _peak_rss_bytes() -> int:
    """Peak resident set size of this process so far, in bytes.

    On Linux this is ``VmHWM`` from ``/proc/self/status``, the high-water mark of this process's
    own memory. Not ``getrusage``: Linux keeps ``ru_maxrss`` across ``execve``, so a ``spawn``
    child would report its parent's peak (the bench parent, grown by writing the test clips).
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows
        import psutil

        return int(psutil.Process().memory_info().peak_wset)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _measure(
    kind: str,
    clip: str,
    background: str,
    output: str,
    engine: str | None,
    device: str,
    checkpoint: str | None = None,
) -> dict[str, Any]:
    """One measurement, run in a fresh child process (see :func:`run_isolated`).

    ``kind``: ``"io"`` (decode → encode) or ``"engine"`` (``harmonize_video``). Returns seconds,
    frames, per-stage seconds, CPU seconds (user + system, all threads; less sensitive than wall
    time to other load on the machine), peak RSS and its growth over the RSS after imports in MiB,
    and the CUDA peak (MiB, ``None`` on CPU).
    """
    import av  # noqa: F401  (import cost is not part of the measurement)
    import cv2  # noqa: F401
    import psutil
    import tqdm  # noqa: F401

    from relight_video import classical, io, keying, matte  # noqa: F401
    from relight_video.config import RunConfig
    from relight_video.harmonize import BackgroundEncoder, harmonize_video

    torch = None
    if device == "cuda":
        import torch

        torch.cuda.init()
        torch.cuda.reset_peak_memory_stats()
    proc = psutil.Process()
    base_rss = proc.memory_info().rss
    cpu0 = sum(proc.cpu_times()[:2])
    enc = RunConfig().encode
    if kind == "io":
        info = io.probe(clip)
        stages = {"decode": 0.0, "encode": 0.0}
        start = t = time.perf_counter()
        frames = 0
        # the same background encode thread as harmonize_video, so the floor is a fair one
        with (
            io.VideoWriter(output, info.fps, info.width, info.height, **_enc(enc)) as writer,
            BackgroundEncoder() as encoder,
        ):
            for frame in io.read_frames(clip):
                t1 = time.perf_counter()
                stages["decode"] += t1 - t
                encoder.submit(writer.write, frame)
                frames += 1
                t = time.perf_counter()
                stages["encode"] += t - t1
        stages["encode"] += time.perf_counter() - t  # drain, flush + close
        seconds = time.perf_counter() - start
    else:
        stats = harmonize_video(
            clip,
            background,
            output,
            engine=engine,
            key="green",
            device=device,
            checkpoint=checkpoint,
            progress=False,
        )
        seconds, frames, stages = stats.seconds, stats.frames, dict(stats.stages)
    cpu_seconds = sum(proc.cpu_times()[:2]) - cpu0
    cuda_peak = None
    if torch is not None:
        torch.cuda.synchronize()
        cuda_peak = torch.cuda.max_memory_allocated() / 2**20
    peak = _peak_rss_bytes()
    return {
        "seconds": seconds,
        "frames": frames,
        "stages": stages,
        "cpu_seconds": cpu_seconds,
        "peak_rss_mib": peak / 2**20,
        "rss_growth_mib": max(0.0, (peak - base_rss) / 2**20),
        "cuda_peak_mib": cuda_peak,
    }


def _enc(enc) -> dict[str, Any]:
    return {"crf": enc.crf, "preset": enc.preset}


def run_isolated(*args: Any) -> dict[str, Any]:
    """Run :func:`_measure` in a fresh ``spawn`` child, so its peak RSS is its own."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(_measure, *args).result()


def _summarise(raw: dict[str, Any]) -> dict[str, Any]:
    n = max(1, raw["frames"])
    fps = raw["frames"] / raw["seconds"] if raw["seconds"] > 0 else 0.0
    return {
        **raw,
        "fps": fps,
        "ms_per_frame": 1000 * raw["seconds"] / n,
        "stages_ms_per_frame": {k: 1000 * v / n for k, v in raw["stages"].items()},
    }


def benchmark(
    sizes: list[int],
    lengths: list[int],
    engines: list[str],
    device: str = "cpu",
    checkpoint: str | None = None,
    progress: bool = True,
    repeat: int = 1,
) -> dict[str, Any]:
    """Measure the IO floor and every engine for each (height, clip length), ``repeat`` times
    each (interleaved); each kind reports its median run by fps (:func:`_median_run`).

    Returns the JSON document ``bench`` writes: ``{"device", "system", "engines", "runs": [
    {"width", "height", "frames", "io_floor": {...}, "engines": {name: {..., "ratio_to_io_floor"
    }}}]}``; each measurement has ``seconds, frames, fps, ms_per_frame, stages`` (seconds),
    ``stages_ms_per_frame``, ``cpu_seconds``, ``peak_rss_mib``, ``rss_growth_mib``,
    ``cuda_peak_mib``, and ``fps_trials`` (every run's fps).
    """
    from tqdm import tqdm

    runs = []
    total = len(sizes) * len(lengths) * (1 + len(engines)) * repeat
    with (
        tempfile.TemporaryDirectory(prefix="relight-bench-") as tmp,
        tqdm(total=total, unit="run", disable=not progress, desc="bench") as bar,
    ):
        tmp = Path(tmp)
        for height in sizes:
            background = write_background(tmp / f"plate_{height}.png", height)
            for n in lengths:
                w, h = clip_size(height)
                bar.set_postfix_str(f"{w}x{h}, {n} frames: writing clip")
                clip = write_synthetic_clip(tmp / f"clip_{height}_{n}.mp4", height, n)
                out = tmp / f"out_{height}_{n}.mp4"
                trials: dict[str, list[dict[str, Any]]] = {"io": []} | {e: [] for e in engines}
                for k in range(repeat):  # interleaved, so drift in machine load hits every kind
                    tag = f" ({k + 1}/{repeat})" if repeat > 1 else ""
                    bar.set_postfix_str(f"{w}x{h}, {n} frames: io floor{tag}")
                    raw = run_isolated("io", str(clip), "", str(out), None, device)
                    trials["io"].append(_summarise(raw))
                    bar.update(1)
                    for name in engines:
                        bar.set_postfix_str(f"{w}x{h}, {n} frames: {name}{tag}")
                        raw = run_isolated(
                            "engine", str(clip), str(background), str(out), name, device, checkpoint
                        )
                        trials[name].append(_summarise(raw))
                        bar.update(1)
                io_floor = _median_run(trials["io"])
                results = {}
                for name in engines:
                    r = _median_run(trials[name])
                    r["stages"] = _split_key(r["stages"], io_floor["stages"]["decode"])
                    r["stages_ms_per_frame"] = {
                        k: 1000 * v / max(1, r["frames"]) for k, v in r["stages"].items()
                    }
                    r["ratio_to_io_floor"] = r["fps"] / io_floor["fps"] if io_floor["fps"] else 0
                    results[name] = r
                for p in (clip, out):
                    p.unlink(missing_ok=True)
                runs.append(
                    {"width": w, "height": h, "frames": n, "io_floor": io_floor, "engines": results}
                )
    return {"device": device, "system": system_info(device), "engines": engines, "runs": runs}


def _median_run(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median fps (the upper median for an even count), with every run's fps
    kept as ``fps_trials``: one whole run, so its stages, CPU and memory belong together."""
    ranked = sorted(trials, key=lambda r: r["fps"])
    return {**ranked[len(ranked) // 2], "fps_trials": [r["fps"] for r in trials]}


def _split_key(stages: dict[str, float], decode: float) -> dict[str, float]:
    """``RunStats.stages`` with ``decode+matte`` split into ``decode`` (timed alone in the IO-floor
    run of the same clip) and ``key`` (the rest); the original entry is kept."""
    out = dict(stages)
    both = stages.get("decode+matte", 0.0)
    out["decode"] = min(decode, both)
    out["key"] = max(0.0, both - decode)
    return out


def system_info(device: str) -> dict[str, Any]:
    """CPU count, platform, library versions, and the GPU's name when ``device == "cuda"``."""
    import os
    import platform

    import av
    import cv2

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "pyav": av.__version__,
        "decoder": "pyav",
    }
    if hasattr(os, "sched_getaffinity"):
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    if device == "cuda":
        import torch

        info["gpu"] = torch.cuda.get_device_name(0)
        info["torch"] = torch.__version__
    return info


# ------------------------------------------------------------------------------- reports


def format_table(doc: dict[str, Any]) -> str:
    """A plain-text table: one row per (size, length, IO floor | engine), stages in ms/frame."""
    head = (
        f"{'size':>10} {'frames':>6} {'run':>10} {'fps':>7} {'ms/frame':>9} {'x IO':>5} "
        f"{'cpu s':>6} {'peak MiB':>8} " + " ".join(f"{s:>7}" for s in STAGES)
    )
    lines = [head, "-" * len(head)]
    for run in doc["runs"]:
        size = f"{run['width']}x{run['height']}"
        rows = [("io floor", run["io_floor"])] + list(run["engines"].items())
        for name, r in rows:
            ratio = f"{r['ratio_to_io_floor']:.2f}" if "ratio_to_io_floor" in r else "1.00"
            st = r["stages_ms_per_frame"]
            cells = " ".join(f"{st[s]:7.1f}" if s in st else f"{'':>7}" for s in STAGES)
            lines.append(
                f"{size:>10} {run['frames']:>6} {name:>10} {r['fps']:7.1f} "
                f"{r['ms_per_frame']:9.1f} {ratio:>5} {r['cpu_seconds']:6.1f} {r['peak_rss_mib']:8.0f} "
                f"{cells}"
            )
    lines.append(
        "stages in ms per frame; key = decode+matte of the run less the IO floor's decode; decode,"
        " key and encode run on their own threads, as does detail's full-resolution half"
    )
    trials = next(iter(doc["runs"]), {}).get("io_floor", {}).get("fps_trials", [])
    if len(trials) > 1:
        lines.append(f"each row: the median of {len(trials)} runs by fps (interleaved)")
    return "\n".join(lines)


def plot(doc: dict[str, Any], path: Path) -> None:
    """Write a PNG with three panels: ms per frame against clip length (one line per run kind
    and size), total seconds against megapixels (one line per run kind and length), and the
    per-stage cost at the longest clip (stacked bars per size and run kind)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = ["io floor"] + list(doc["engines"])
    heights = sorted({r["height"] for r in doc["runs"]})
    lengths = sorted({r["frames"] for r in doc["runs"]})

    def pick(run: dict[str, Any], kind: str) -> dict[str, Any]:
        return run["io_floor"] if kind == "io floor" else run["engines"][kind]

    styles = ("-", "--", ":", "-.")
    fig, (ax0, ax1, ax2) = plt.subplots(1, 3, figsize=(16, 4.8))
    for c, kind in enumerate(kinds):
        for i, h in enumerate(heights):  # colour = run kind, line style = size
            runs = sorted((r for r in doc["runs"] if r["height"] == h), key=lambda r: r["frames"])
            ax0.plot(
                [r["frames"] for r in runs],
                [pick(r, kind)["ms_per_frame"] for r in runs],
                color=f"C{c}",
                ls=styles[i % len(styles)],
                marker="o",
                label=f"{kind}, {h}p",
            )
        for i, n in enumerate(lengths):
            runs = sorted((r for r in doc["runs"] if r["frames"] == n), key=lambda r: r["height"])
            ax1.plot(
                [r["width"] * r["height"] / 1e6 for r in runs],
                [pick(r, kind)["seconds"] for r in runs],
                color=f"C{c}",
                ls=styles[i % len(styles)],
                marker="o",
                label=f"{kind}, {n} frames",
            )
    ax0.set(xlabel="clip length (frames)", ylabel="ms per frame", title="cost per frame")
    ax1.set(xlabel="resolution (megapixels)", ylabel="total seconds", title="total time")
    for ax in (ax0, ax1):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)

    longest = [r for r in doc["runs"] if r["frames"] == lengths[-1]]
    labels, x = [], 0
    bars: list[tuple[float, dict[str, float]]] = []
    for r in sorted(longest, key=lambda r: r["height"]):
        for kind in kinds:
            labels.append(f"{kind}\n{r['height']}p")
            bars.append((x, pick(r, kind)["stages_ms_per_frame"]))
            x += 1
    bottoms = np.zeros(len(bars))
    for stage in STAGES:
        vals = np.array([b[1].get(stage, 0.0) for b in bars])
        ax2.bar([b[0] for b in bars], vals, bottom=bottoms, label=stage)
        bottoms += vals
    ax2.set_xticks(range(len(labels)), labels, fontsize=7)
    ax2.set(ylabel="ms per frame", title=f"stages, {lengths[-1]} frames")
    ax2.legend(fontsize=7)
    fig.suptitle(f"relight-video bench ({doc['device']}, {doc['system'].get('cpu_count')} CPUs)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------------------------- CLI


def parse_ints(option: str, text: str, low: int, high: int) -> list[int]:
    """``"256,1080"`` → ``[256, 1080]``; values outside ``low..high`` raise :class:`InputError`."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"{option}: expected comma-separated integers, got {text!r}") from None
    if not values:
        raise InputError(f"{option}: expected at least one value")
    for v in values:
        if not low <= v <= high:
            raise InputError(f"{option}: expected values in {low}..{high}, got {v}")
    return values


def check_inputs(
    engines: list[str], device: str, checkpoint: str | None, paths: list[Path | None]
) -> None:
    """Fail before any work: engines that cannot be built, CUDA asked for and absent, output
    folders that do not exist."""
    from relight_video.config import load_run_config
    from relight_video.engines import make_engine

    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise InputError("--device cuda: no CUDA device is available (use --device cpu)")
    for name in engines:
        make_engine(load_run_config(engine=name, device=device, checkpoint=checkpoint))
    for p in paths:
        if p is not None and not p.parent.is_dir():
            raise InputError(f"output folder does not exist: {p.parent}")


@click.command("bench")
@click.option("--sizes", default="256,1080", show_default=True, help="Clip heights (16:9).")
@click.option("--frames", default="24,96", show_default=True, help="Clip lengths in frames.")
@click.option("--engine", "engines", default="classical,composite", show_default=True)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--checkpoint", default=None, help="Model checkpoint folder (diffusion).")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None)
@click.option("--plot", "plot_path", type=click.Path(path_type=Path), default=None)
@click.option(
    "--repeat",
    default=1,
    show_default=True,
    type=click.IntRange(1, 99),
    help="Runs of each kind (interleaved); the median run by fps is reported.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def bench_command(
    sizes: str,
    frames: str,
    engines: str,
    device: str,
    checkpoint: str | None,
    json_path: Path | None,
    plot_path: Path | None,
    repeat: int,
    quiet: bool,
) -> None:
    """Time the video loop per stage against the decode+encode floor on synthetic clips."""
    # 1. check inputs
    heights = parse_ints("--sizes", sizes, 16, 4320)
    lengths = parse_ints("--frames", frames, 2, 100_000)
    names = [e.strip() for e in engines.split(",") if e.strip()]
    if not names:
        raise InputError("--engine: expected at least one engine")
    check_inputs(names, device, checkpoint, [json_path, plot_path])
    if plot_path is not None and plot_path.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise InputError(f"--plot {plot_path}: expected a .png, .pdf or .svg file")

    # 2. measure
    doc = benchmark(heights, lengths, names, device, checkpoint, progress=not quiet, repeat=repeat)

    # 3. report
    click.echo(format_table(doc))
    if json_path is not None:
        json_path.write_text(json.dumps(doc, indent=2))
        click.echo(f"wrote {json_path}", err=True)
    if plot_path is not None:
        plot(doc, plot_path)
        click.echo(f"wrote {plot_path}", err=True)
