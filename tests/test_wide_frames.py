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
        [sys.executable, str(SCRIPT), str(cases), "--width", "84", "--offsets", "18,0"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    rows = {}
    for line in run.stdout.splitlines()[1:]:
        framing, value = line.rsplit(None, 1)
        rows[" ".join(framing.split())] = float(value)
    assert rows["square window"] == rows["square whole frame"]  # a square frame is its window
    for framing in ("84 wide, subject at 18", "84 wide, subject at 0"):
        assert rows[f"{framing} composite"] == pytest.approx(rows["square composite"], abs=0.3)
        assert {f"{framing} window", f"{framing} whole frame"} <= set(rows)


def test_an_offset_outside_the_frame_is_one_error_line(cases):
    run = subprocess.run(
        [sys.executable, str(SCRIPT), str(cases), "--width", "84", "--offsets", "60"],
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0 and "--offsets: 60 is outside 0..36" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
