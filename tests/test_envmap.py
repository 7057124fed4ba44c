"""HDR environment maps in the product: reading, turning, exposure, views, keyframed maps."""

import numpy as np
import pytest

from relight_video.envmap import (
    auto_exposure,
    directions,
    encode_for_model,
    load_env,
    perspective_view,
    rotate_env,
    solid_angles,
)
from relight_video.errors import InputError
from relight_video.keyframes import Keyframes


def sun_map(h=32, row=10, col=5, value=500.0):
    env = np.full((h, 2 * h, 3), 0.1, np.float32)
    env[row, col] = value
    return env


def test_solid_angles_cover_the_sphere_and_directions_are_unit():
    assert solid_angles(16).sum() * 32 == pytest.approx(4 * np.pi)
    d = directions(16)
    assert d.shape == (16, 32, 3)
    assert np.allclose(np.linalg.norm(d, axis=-1), 1, atol=1e-5)
    assert d[8, 16, 2] < -0.9  # the centre column looks along -z, behind the subject


def test_auto_exposure_matches_the_light_stage_rule():
    from models.data.envmaps import light_weights
    from models.data.sphere import fibonacci_sphere
    from models.data.tonemap import auto_exposure as stage_exposure

    dirs = fibonacci_sphere(256)
    for env in (sun_map(), sun_map(col=60), np.full((32, 64, 3), 2.0, np.float32)):
        ours = auto_exposure(env)
        theirs = stage_exposure(light_weights(env, dirs), dirs)
        assert ours == pytest.approx(theirs, rel=0.1)
    # a brighter world gets a proportionally smaller exposure
    assert auto_exposure(sun_map() * 4) == pytest.approx(auto_exposure(sun_map()) / 4, rel=1e-4)


def test_rotation_keeps_energy_and_a_full_turn_is_identity():
    env = sun_map()
    turned = rotate_env(env, 37.5)
    assert turned.sum() == pytest.approx(env.sum(), rel=1e-5)
    assert np.allclose(rotate_env(env, 360.0), env)
    assert np.allclose(rotate_env(env, 90.0), np.roll(env, 16, axis=1))


def test_encoding_and_view():
    env = sun_map()
    enc = encode_for_model(env, size=(8, 16))
    assert enc.shape == (3, 8, 16) and enc.min() >= 0 and enc.max() < 1.5
    view = perspective_view(env, 40, 30)
    assert view.shape == (30, 40, 3) and view.dtype == np.uint8
    # the sun behind the camera is not in view; turned 180 degrees it is (brightest pixel)
    env_front = np.full((32, 64, 3), 0.1, np.float32)
    env_front[15:17, 31:33] = 500.0
    seen = perspective_view(env_front, 40, 30, pitch_deg=0.0, exposure=1.0)
    hidden = perspective_view(rotate_env(env_front, 180), 40, 30, pitch_deg=0.0, exposure=1.0)
    assert seen.max() > 200 and hidden.max() < 100


def test_load_env_errors(tmp_path):
    with pytest.raises(InputError, match="environment map not found"):
        load_env(tmp_path / "nope.exr")
    bad = tmp_path / "bad.hdr"
    bad.write_bytes(b"not an image")
    with pytest.raises(InputError, match="cannot read"):
        load_env(bad)
    with pytest.raises(InputError, match="unsupported environment map"):
        (tmp_path / "x.txt").write_text("x")
        load_env(tmp_path / "x.txt")


def test_keyframed_env_maps_cross_fade_and_turn(tmp_path):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    np.save(a, np.full((8, 16, 3), 1.0, np.float32))
    np.save(b, np.full((8, 16, 3), 3.0, np.float32))
    keys = Keyframes.from_list(
        [
            {"frame": 0, "env_map": str(a), "yaw_deg": 0},
            {"frame": 10, "env_map": str(b), "yaw_deg": 90, "intensity": 2.0},
        ],
        24,
        20,
    )
    mid = keys.at(5)
    assert mid.env_map == str(a) and mid.env_map_next == str(b) and mid.env_mix == 0.5
    env = mid.apply_to_env(np.load(a), np.load(b))
    assert np.allclose(env.mean(), 2.0 * 1.5, rtol=1e-4)  # (1 + 3) / 2, intensity 1.5
    end = keys.at(15)
    assert end.env_map == str(b) and end.env_map_next is None
    with pytest.raises(InputError, match="sets env_map but the first key does not"):
        Keyframes.from_list([{"frame": 0}, {"frame": 5, "env_map": str(a)}], 24, 20)


def test_env_map_without_light_is_an_error_and_inf_pixels_are_dropped(tmp_path, capsys):
    for name, value in (("nan", np.nan), ("negative", -1.0), ("zero", 0.0)):
        np.save(tmp_path / f"{name}.npy", np.full((8, 16, 3), value, np.float32))
        with pytest.raises(InputError, match="holds no light"):
            load_env(tmp_path / f"{name}.npy")
    env = np.full((8, 16, 3), 0.5, np.float32)
    env[2, 3] = np.inf
    np.save(tmp_path / "inf.npy", env)
    loaded = load_env(tmp_path / "inf.npy")
    assert np.isfinite(loaded).all() and loaded.max() == 0.5 and loaded[2, 3].max() == 0
    assert "1 non-finite pixels" in capsys.readouterr().err


def test_luminance_only_exr_is_grey_light(tmp_path):
    import OpenEXR

    header, channels = {"compression": OpenEXR.ZIP_COMPRESSION}, {"Y": np.full((8, 16), 0.5)}
    with OpenEXR.File(header, {k: v.astype(np.float32) for k, v in channels.items()}) as f:
        f.write(str(tmp_path / "y.exr"))
    env = load_env(tmp_path / "y.exr")
    assert env.shape == (8, 16, 3) and np.allclose(env, 0.5)
