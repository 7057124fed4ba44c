"""scripts/wide_frames.py: held-out cases re-framed wide, scored with and without the window."""

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "wide_frames.py"


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    from relight_video.cli import main

    out = tmp_path_factory.mktemp("wide") / "cases"
    args = ["synth", "pairs", str(out), "--n", "2", "--size", "48", "--seed", "3"]
    r = CliRunner().invoke(main, [*args, "--fractions", "1,0,0", "--lights", "16"])
    assert r.exit_code == 0, r.output
    return out


def test_square_framing_is_the_same_run_with_or_without_the_window(cases):
    run = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            str(cases),
            "--width",
            "84",
            "--offsets",
            "18,0",
            "--scales",
            "1,0.5",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    rows = {}
    for line in run.stdout.splitlines()[1:]:
        framing, value = line.rsplit(None, 1)
        rows[" ".join(framing.split())] = float(value)
    # a square frame of a bust-sized subject is its own window
    assert rows["square window"] == rows["square whole frame"] == rows["square no zoom"]
    for framing in ("84 wide, at 18", "84 wide, at 0"):
        assert rows[f"{framing} composite"] == pytest.approx(rows["square composite"], abs=0.3)
        assert {f"{framing} window", f"{framing} whole frame", f"{framing} no zoom"} <= set(rows)
    # a half-size subject in a square frame: zoomed in, the window differs from the frame
    assert rows["square, subject x0.5 no zoom"] == rows["square, subject x0.5 whole frame"]
    assert rows["square, subject x0.5 window"] != rows["square, subject x0.5 whole frame"]


def test_an_offset_outside_the_frame_is_one_error_line(cases):
    run = subprocess.run(
        [sys.executable, str(SCRIPT), str(cases), "--width", "84", "--offsets", "60"],
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0 and "--offsets: 60 is outside 0..36" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
