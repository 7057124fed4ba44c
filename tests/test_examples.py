"""The keyframed-sunset example's Lambertian reference: the yardstick its README table uses."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from relight_video.envmap import directions, rotate_env

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "keyframed_sunset.py"


@pytest.fixture(scope="module")
def sunset():
    spec = importlib.util.spec_from_file_location("keyframed_sunset", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ellipse() -> np.ndarray:
    yy, xx = np.mgrid[:96, :64]
    return (((xx - 32) / 20) ** 2 + ((yy - 48) / 40) ** 2 < 1).astype(np.float32)


def _sun(towards) -> np.ndarray:
    d = directions(32)
    env = np.full((32, 64, 3), 0.05, np.float32)
    env[d @ np.asarray(towards, np.float32) > 0.95] = 20.0
    return env


def test_reference_is_brighter_on_the_side_the_light_comes_from(sunset):
    alpha = _ellipse()
    left = sunset.reference_ratio(alpha, sunset.env_sh(_sun([-1, 0, 0])))
    right = sunset.reference_ratio(alpha, sunset.env_sh(_sun([1, 0, 0])))
    front = sunset.reference_ratio(alpha, sunset.env_sh(_sun([0, 0, 1])))
    assert left > 2 and right < 0.5 and abs(front - 1) < 0.05


def test_turning_the_map_moves_the_reference_the_way_env_yaw_says(sunset):
    """+yaw turns the map about the vertical axis so that what is behind the subject (the part
    a background view shows) moves towards image right, and a light in front of it (camera
    side) towards image left."""
    alpha = _ellipse()
    behind = sunset.reference_ratio(alpha, sunset.env_sh(rotate_env(_sun([0, 0, -1]), 90)))
    front = sunset.reference_ratio(alpha, sunset.env_sh(rotate_env(_sun([0, 0, 1]), 90)))
    assert behind < 0.5 and front > 2
    # the SH projection of a uniform map is uniform light: both halves alike
    flat = sunset.reference_ratio(alpha, sunset.env_sh(np.ones((32, 64, 3), np.float32)))
    assert abs(flat - 1) < 0.01
