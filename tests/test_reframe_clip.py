"""scripts/reframe_clip.py: a synth clip re-framed wide with a smaller subject."""

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from relight_video import io

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "reframe_clip.py"


def test_reframed_clip_keeps_frames_and_shrinks_the_subject(tmp_path):
    from relight_video.cli import main

    clip = tmp_path / "clip"
    r = CliRunner().invoke(main, ["synth", "clip", str(clip), "--frames", "4", "--size", "32"])
    assert r.exit_code == 0, r.output
    out = tmp_path / "wide"
    run = subprocess.run(
        [sys.executable, str(SCRIPT), str(clip), str(out), "--width", "60", "--scale", "0.5"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    info = io.probe(out / "greenscreen.mp4")
    assert (info.width, info.height, info.num_frames) == (60, 32, 4)
    before = io.read_image(sorted((clip / "alpha").glob("*.png"))[0]).astype(float)
    after = io.read_image(sorted((out / "alpha").glob("*.png"))[0]).astype(float)
    assert after.shape[:2] == (32, 60)
    assert abs(after.sum() - before.sum() / 4) < 0.05 * before.sum() / 4  # a quarter the area
    assert not after[:16].any() and not after[:, :22].any() and not after[:, 38:].any()
    assert len(list((out / "target").glob("*.png"))) == 4
    again = subprocess.run(
        [sys.executable, str(SCRIPT), str(clip), str(out)], capture_output=True, text=True
    )
    assert again.returncode != 0 and "output exists" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
