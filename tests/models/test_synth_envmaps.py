"""Environment maps: files, kinds, sources, plates and the camera."""

from __future__ import annotations

import numpy as np
import pytest

from models.data.backgrounds import View, render_background, view_directions
from models.data.envmaps import (
    Environment,
    HdriScene,
    env_integral,
    exr_available,
    find_hdris,
    load_env,
    load_hdri,
    sample_environment,
    save_env,
    to_equirect,
)
from models.data.scene_base import Source
from models.data.sphere import equirect_directions
from models.data.tonemap import auto_exposure, tonemap


@pytest.mark.parametrize("kind", ["outdoor", "indoor", "studio"])
def test_procedural_kinds(kind):
    env = sample_environment(np.random.default_rng(11), (kind,))
    m = to_equirect(env, 16, supersample=2)
    assert env.kind == kind and m.shape == (16, 32, 3) and m.dtype == np.float32
    assert np.isfinite(m).all() and (m >= 0).all() and m.max() > 0
    plate = render_background(env, 24, View(fov=60), supersample=1)
    assert plate.shape == (24, 24, 3) and np.isfinite(plate).all() and plate.max() > 0


def test_sources_keep_their_energy():
    class Dark:
        kind = "test"

        def radiance(self, d, pix=0.0):
            return np.zeros((d.shape[0], 3), np.float32)

        def sources(self):
            return [Source((0.3, 0.5, 0.81), (5.0, 4.0, 3.0), 0.002)]

        def describe(self):
            return {}

    for h in (8, 32):
        np.testing.assert_allclose(
            env_integral(to_equirect(Environment(Dark()), h)), (5, 4, 3), rtol=1e-5
        )


def test_plate_centre_is_the_map_centre():
    # the camera looks along −z: the middle of the plate is the middle column of the map
    img = np.zeros((32, 64, 3), np.float32)
    d = equirect_directions(32)
    img[..., 0] = np.clip(-d[..., 2], 0, None)  # bright where the camera looks
    img[..., 1] = np.clip(d[..., 2], 0, None)  # behind the camera: never in the plate
    plate = render_background(Environment(HdriScene(img)), 16, View(fov=50))
    assert plate[..., 0].min() > 0.8 and plate[..., 1].max() == 0
    assert view_directions(3, View())[1, 1] == pytest.approx([0, 0, -1], abs=1e-6)


@pytest.mark.parametrize("suffix", [".npy", ".hdr", ".exr"])
def test_env_files_roundtrip(tmp_path, suffix):
    if suffix == ".exr" and not exr_available():
        pytest.skip("no OpenEXR here")
    env = np.random.default_rng(0).uniform(0.01, 50, (8, 16, 3)).astype(np.float32)
    save_env(tmp_path / f"e{suffix}", env)
    back = load_env(tmp_path / f"e{suffix}")
    assert back.shape == env.shape
    if suffix == ".hdr":  # RGBE: one shared exponent, precision relative to the brightest channel
        assert (np.abs(back - env) <= 0.01 * env.max(-1, keepdims=True)).all()
    else:
        np.testing.assert_allclose(back, env, rtol=1e-3)


def test_blender_hdris_when_present():
    hdris = find_hdris()
    if not hdris:
        pytest.skip("Blender studio lights not installed")
    scene = load_hdri(hdris[0], max_height=64)
    assert scene.image.shape == (64, 128, 3) and scene.image.max() > 0
    env = Environment(scene, yaw=30.0)
    assert to_equirect(env, 16).shape == (16, 32, 3)


def test_exposure_maps_a_white_card_to_the_key():
    dirs = np.array([[0, 0, 1], [0, 0, -1]], np.float32)
    w = np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]], np.float32)
    k = auto_exposure(w, dirs, key=0.8)
    # a white Lambertian card facing the camera: radiance E/π with E = 0.75·1 + 0.25·1/4
    assert k * (0.75 + 0.0625) / np.pi == pytest.approx(0.8)
    out = tonemap(np.array([[0.0, 1.0, 1e6]], np.float32).T.repeat(3, 1))
    assert out[0, 0] == 0 and 0 < out[1, 0] < 1 and out[2, 0] == pytest.approx(1.0)
