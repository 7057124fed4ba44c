"""scripts/direction_check.py: the subject's left/right balance and how an engine follows it."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from relight_video import io

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "direction_check.py"
spec = importlib.util.spec_from_file_location("direction_check", SCRIPT)
direction_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(direction_check)


def lit(left: int, right: int, h: int = 16, w: int = 16) -> np.ndarray:
    """A grey image whose left half is ``left`` and right half ``right`` levels."""
    img = np.full((h, w, 3), right, np.uint8)
    img[:, : w // 2] = left
    return img


def test_balance_is_the_log_ratio_of_the_halves_at_the_mask_centroid():
    mask = np.zeros((16, 16))
    mask[4:12, 4:12] = 1.0  # centroid column 7.5: columns 4-7 left, 8-11 right
    b = direction_check.balance(lit(99, 49), mask)
    assert b == pytest.approx(np.log(100 / 50))
    assert direction_check.balance(lit(49, 99), mask) == pytest.approx(-b)
    assert direction_check.balance(lit(80, 80), mask) == pytest.approx(0.0)
    with pytest.raises(ValueError):
        direction_check.balance(lit(80, 80), np.zeros((16, 16)))


def test_score_full_half_and_no_follow():
    t = np.array([0.5, -0.3, 0.2, -0.05, 0.0])
    full = direction_check.score(t, t)
    assert full["corr"] == pytest.approx(1.0) and full["slope"] == pytest.approx(1.0)
    assert full["sign"] == 1.0 and full["n_sign"] == 3  # |t| > 0.1: three cases
    half = direction_check.score(t, 0.5 * t)
    assert half["slope"] == pytest.approx(0.5) and half["corr"] == pytest.approx(1.0)
    none = direction_check.score(t, np.zeros_like(t))
    assert none["slope"] == 0.0 and none["corr"] == 0.0 and none["sign"] == 0.0
    wrong = direction_check.score(t, -t)
    assert wrong["corr"] == pytest.approx(-1.0) and wrong["sign"] == 0.0


def test_decompose_separates_undoing_the_old_light_from_following_the_new():
    rng = np.random.default_rng(0)
    comp, target = rng.normal(size=50), rng.normal(size=50)
    engine = 0.3 * comp + 0.6 * target + 0.1
    keeps, follows = direction_check.decompose(comp, target, engine)
    assert keeps == pytest.approx(0.3) and follows == pytest.approx(0.6)
    assert np.isnan(direction_check.decompose(np.zeros(50), target, engine)[0])


def test_cli_scores_an_eval_folder(tmp_path):
    """Two cases whose target turns the light to the left and to the right; an engine that
    reproduces the change exactly scores 1, one that copies the composite 0."""
    cases, outs = tmp_path / "cases", tmp_path / "out"
    mask = np.zeros((16, 16), np.uint8)
    mask[2:14, 2:14] = 255
    for name, target, comp in (
        ("000", lit(150, 60), lit(100, 100)),
        ("001", lit(60, 150), lit(120, 80)),
        ("002", lit(140, 90), lit(70, 110)),
        ("003", lit(90, 90), lit(100, 60)),
    ):
        (cases / name).mkdir(parents=True)
        io.write_image(cases / name / "mask.png", mask)
        io.write_image(cases / name / "composite.png", comp)
        io.write_image(cases / name / "background.png", lit(100, 100))
        io.write_image(cases / name / "target.png", target)
        for engine, out in (("exact", target), ("copy", comp)):
            (outs / engine / name).mkdir(parents=True)
            io.write_image(outs / engine / name / "harmonized.png", out)
    run = subprocess.run(
        [sys.executable, str(SCRIPT), str(cases), str(outs)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    rows = {line.split()[0]: line.split() for line in run.stdout.splitlines()[2:]}
    assert float(rows["exact"][1]) == pytest.approx(1.0, abs=1e-3)  # corr
    assert float(rows["exact"][2]) == pytest.approx(1.0, abs=1e-3)  # slope
    assert float(rows["copy"][2]) == 0.0
    # keeps / follows: the exact engine follows the new light, the copy keeps the old one
    assert [float(v) for v in rows["exact"][-2:]] == pytest.approx([0.0, 1.0], abs=1e-3)
    assert [float(v) for v in rows["copy"][-2:]] == pytest.approx([1.0, 0.0], abs=1e-3)
    missing = subprocess.run(
        [sys.executable, str(SCRIPT), str(cases), str(tmp_path)], capture_output=True, text=True
    )
    assert missing.returncode != 0 and "no NNN/harmonized.png" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1  # one error line, no traceback
