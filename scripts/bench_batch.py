"""Jobs per minute of ``relight-video batch``: one worker, two workers, and a local Ray.

Makes ``--clips`` short green-screen clips (default 8 clips, 160x90, 24 frames) in a temporary
folder, then runs the same job file once per mode, each with a fresh manifest and output folder.
Two rates are printed:

- *wall*: jobs / the whole command's time (process start, worker or Ray start-up included),
- *jobs*: jobs / the span from the first job's start to the last job's end (from the manifest).

    python scripts/bench_batch.py [--clips 8] [--frames 24] [--size 160x90] [--no-ray]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from relight_video import io
from relight_video.batch import format_table


def greenscreen_clip(path: Path, frames: int, width: int, height: int, seed: int) -> None:
    """A moving textured disc on a shaded green screen (H.264, no audio)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    screen = np.stack([30 + 30 * xx / width, 160 + 50 * yy / height, 50 + 0 * xx], -1)
    subject = np.stack(
        [190 - 50 * yy / height, 140 + 20 * np.sin(xx / 7), 115 + 25 * xx / width], -1
    )
    with io.VideoWriter(path, Fraction(24), width, height) as writer:
        for i in range(frames):
            cx = width * (0.5 + 0.15 * np.sin(i / 5 + seed))
            inside = (xx - cx) ** 2 / (0.25 * width) ** 2 + (yy - 0.55 * height) ** 2 / (
                0.3 * height
            ) ** 2 < 1
            a = inside[..., None].astype(np.float32)
            img = subject * a + screen * (1 - a) + rng.normal(0, 3, screen.shape)
            writer.write(np.clip(img, 0, 255).astype(np.uint8))


def run_mode(root: Path, clips: Path, name: str, args: list[str]) -> dict[str, float]:
    """Run the batch in ``root/name`` with ``args``; wall seconds, job span, mean job seconds."""
    folder = root / name.replace(" ", "_")
    folder.mkdir()
    jobs = folder / "jobs.yaml"
    defaults = {"engine": "classical", "key": "green", "background": str(clips / "bg.png")}
    job = {"glob": str(clips / "*.mp4"), "output_dir": "out"}
    jobs.write_text(json.dumps({"defaults": defaults, "jobs": [job]}))  # JSON is YAML
    cmd = [sys.executable, "-m", "relight_video.cli", "batch", str(jobs), "-q", *args]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{proc.stdout}\n{proc.stderr}")
    records = [json.loads(x) for x in (folder / "jobs.manifest.jsonl").read_text().splitlines()]
    done = [r for r in records if r["state"] == "done"]
    start = min(dt.datetime.fromisoformat(r["started"]) for r in done)
    end = max(dt.datetime.fromisoformat(r["ended"]) for r in done)
    return {
        "jobs": len(done),
        "wall": wall,
        "span": (end - start).total_seconds(),
        "mean": sum(r["seconds"] for r in done) / len(done),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--size", default="160x90", help="WxH of each clip")
    parser.add_argument("--no-ray", action="store_true", help="skip the --ray local run")
    opts = parser.parse_args()
    width, height = map(int, opts.size.split("x"))

    modes = [("workers 1", ["--workers", "1"]), ("workers 2", ["--workers", "2"])]
    if not opts.no_ray:
        try:
            import ray  # noqa: F401

            modes.append(("ray local", ["--ray", "local"]))
        except ImportError:
            print("ray is not installed: skipping --ray local", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="bench_batch_") as tmp:
        root = Path(tmp)
        clips = root / "clips"
        clips.mkdir()
        for i in range(opts.clips):
            greenscreen_clip(clips / f"clip{i:02d}.mp4", opts.frames, width, height, seed=i)
        yy, xx = np.mgrid[0:height, 0:width]
        io.write_image(
            clips / "bg.png", np.stack([200 - xx, 120 + 0 * xx, 60 + yy], -1).astype(np.uint8)
        )

        rows = []
        for name, args in modes:
            r = run_mode(root, clips, name, args)
            rows.append(
                [
                    name,
                    str(int(r["jobs"])),
                    f"{r['wall']:.1f}",
                    f"{60 * r['jobs'] / r['wall']:.0f}",
                    f"{60 * r['jobs'] / r['span']:.0f}",
                    f"{r['mean']:.2f}",
                ]
            )
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{opts.clips} clips of {width}x{height}, {opts.frames} frames; "
        f"{os.cpu_count()} CPUs, load average {load}"
    )
    header = ["mode", "jobs", "wall s", "jobs/min (wall)", "jobs/min (jobs)", "s/job"]
    print(format_table(rows, header))


if __name__ == "__main__":
    main()
