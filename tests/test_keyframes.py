import numpy as np
import pytest
from click.testing import CliRunner

from relight_video import io
from relight_video.cli import main
from relight_video.errors import InputError
from relight_video.keyframes import Keyframes, Lighting, blackbody_rgb, parse_time


def kf(items, fps=24, n=100):
    return Keyframes.from_list(items, fps, n)


def test_values_at_and_between_keys():
    k = kf(
        [
            {"frame": 0, "intensity": 1.0, "yaw_deg": 0},
            {"frame": 10, "intensity": 0.5, "yaw_deg": 90},
            {"frame": 20, "intensity": 2.0, "interpolation": "hold"},
            {"frame": 30, "intensity": 1.0, "interpolation": "smooth"},
        ]
    )
    assert k.at(0).intensity == 1.0 and k.at(-5).intensity == 1.0
    assert k.at(5).intensity == pytest.approx(0.75)  # linear halfway
    assert k.at(5).yaw_deg == pytest.approx(45)
    assert k.at(10).intensity == pytest.approx(0.5)
    assert k.at(15).intensity == pytest.approx(0.5)  # hold into the key at 20
    assert k.at(20).intensity == pytest.approx(2.0)
    assert k.at(20).yaw_deg == pytest.approx(90)  # carried forward
    assert k.at(22).intensity == pytest.approx(2.0 - 1.0 * (0.2**2 * (3 - 0.4)))  # smoothstep
    assert k.at(25).intensity == pytest.approx(1.5)  # smoothstep(0.5) = 0.5
    assert k.at(99).intensity == pytest.approx(1.0)
    assert k.at(50).strength == 1.0  # not keyed: the run's strength, unchanged


def test_keyed_strength_fades_the_relight_in(tmp_path, clip, background_png):
    """strength 0 gives the plain composite; keyed from 0 to 1 the relight fades in, and its
    last frame is the unkeyed run's."""
    keys = tmp_path / "keys.yaml"
    keys.write_text("- {frame: 0, strength: 0}\n- {frame: 11, strength: 1}\n")
    args = ["run", str(clip), "-b", str(background_png), "--engine", "classical", "-q"]
    outs = {}
    for name, extra in (
        ("faded", ["--keyframes", str(keys)]),
        ("plain", []),
        ("composite", ["--engine", "composite"]),
    ):
        out = tmp_path / name  # PNG frames: lossless, so frame 0 does not depend on the rest
        r = CliRunner().invoke(main, [*args, "-o", str(out), *extra])
        assert r.exit_code == 0, r.output
        frames = sorted(out.glob("*.png"))
        outs[name] = np.stack([io.read_image(f) for f in frames]).astype(int)
    faded, plain, comp = outs["faded"], outs["plain"], outs["composite"]
    assert np.abs(faded[0] - comp[0]).max() <= 1  # frame 0: nothing of the relight
    assert np.abs(plain[0] - comp[0]).mean() > 2  # ...which does change the unkeyed run
    assert np.abs(faded[-1] - plain[-1]).max() <= 1  # the last key: all of it
    d = [np.abs(faded[i] - comp[i]).mean() for i in range(len(faded))]
    assert d[0] < d[len(d) // 2] < d[-1]


def test_time_codes():
    assert parse_time("00:00:02.5", 24, "k") == 60
    assert parse_time("01:00.0", 10, "k") == 600
    assert parse_time(1.5, 30, "k") == 45
    k = kf([{"time": "00:00:01.0", "intensity": 0.2}, {"frame": 0, "intensity": 1.0}])
    assert [key.frame for key in k.keys] == [0, 24]


def test_temperature_warms_and_cools():
    warm = Lighting(temperature_k=2500).colour()
    cool = Lighting(temperature_k=12000).colour()
    assert warm[0] > warm[2] and cool[2] > cool[0]
    assert np.allclose(Lighting().colour(), 1.0, atol=1e-6)
    assert np.all(blackbody_rgb(6500) > 0.9)


@pytest.mark.parametrize(
    "items,message",
    [
        ([{"frame": 0, "brightness": 2}], "unknown key"),
        ([{"intensity": 2}], "exactly one of 'frame' or 'time'"),
        ([{"frame": 500}], "out of range"),
        ([{"frame": -1}], "out of range"),
        ([{"frame": 0, "interpolation": "cubic"}], "interpolation must be"),
        ([{"frame": 0, "intensity": "high"}], "expected a number"),
        ([{"frame": 0, "intensity": float("nan")}], "expected a number, got nan"),
        ([{"time": float("inf")}], "time: expected a number"),
        ([{"frame": 0, "temperature_k": 100}], "temperature_k"),
        ([{"frame": 0, "strength": -0.5}], "strength must be within 0..3"),
        ([{"frame": 0, "strength": 4}], "strength must be within 0..3"),
        ([{"frame": 0}, {"frame": 0}], "same frame"),
        ([{"frame": 0, "background": "nope.png"}], "background not found"),
        ([{"time": "soon"}], "bad time"),
        ([], "no keys"),
    ],
)
def test_bad_keyframes(items, message):
    with pytest.raises(InputError, match=message):
        kf(items)


def test_bad_keyframe_file(tmp_path):
    p = tmp_path / "k.yaml"
    p.write_text("- {frame: 0\n")
    with pytest.raises(InputError, match="bad YAML"):
        Keyframes.load(p, 24)
    p.write_text("keys: [{frame: 0}]\nextra: 1\n")
    with pytest.raises(InputError, match="unknown top-level"):
        Keyframes.load(p, 24)
    p.write_text("- {frame: 0, intensity: 5e-1}\n")  # YAML 1.1 reads 5e-1 as text
    assert Keyframes.load(p, 24).at(0).intensity == 0.5
    p.write_text("- {frame: 0}\n- {time: 5e-1, intensity: 2}\n")  # a time, too
    assert [k.frame for k in Keyframes.load(p, 24).keys] == [0, 12]
    with pytest.raises(InputError, match="fps must be positive"):
        Keyframes.load(p, 0)


def test_run_with_keyframes_changes_light_over_time(tmp_path, clip, background_png):
    keys = tmp_path / "keys.yaml"
    keys.write_text("- {frame: 0, temperature_k: 6500}\n- {frame: 11, temperature_k: 2000}\n")
    out = tmp_path / "out.mp4"
    r = CliRunner().invoke(
        main,
        [
            "run",
            str(clip),
            "-b",
            str(background_png),
            "-o",
            str(out),
            "--keyframes",
            str(keys),
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    frames = list(io.read_frames(out))
    plain = tmp_path / "plain.mp4"
    CliRunner().invoke(main, ["run", str(clip), "-b", str(background_png), "-o", str(plain), "-q"])
    ref = list(io.read_frames(plain))
    # first frame: same light; last frame: the subject is warmer (red up, blue down)
    centre = (slice(25, 40), slice(40, 56))
    d0 = frames[0][centre].astype(int) - ref[0][centre].astype(int)
    d1 = frames[-1][centre].astype(int) - ref[-1][centre].astype(int)
    assert np.abs(d0).mean() < 2
    assert d1[..., 0].mean() - d1[..., 2].mean() > 5


def test_time_keys_on_a_variable_frame_rate_clip_land_on_the_frame_shown_then():
    times = np.array([0, 0.033, 0.066, 0.2, 0.233, 0.266, 0.5, 0.55, 0.6, 0.9, 0.95, 1.0])
    fps = (len(times) - 1) / times[-1]  # 11 fps on average: time 0.9 would be frame 10
    keys = Keyframes.from_list(
        [{"frame": 0}, {"time": 0.7, "intensity": 0.5}, {"time": 0.9, "intensity": 2.0}],
        fps,
        len(times),
        times=times,
    )
    assert [k.frame for k in keys.keys] == [0, 8, 9]  # 0.7 s still shows the frame from 0.6 s
    with pytest.raises(InputError, match="out of range"):
        Keyframes.from_list([{"time": 1.5}], fps, len(times), times=times)


def test_keyframes_object_beyond_the_clip_is_an_error(tmp_path, clip, background_png):
    from relight_video.harmonize import harmonize_video

    keys = Keyframes.from_list([{"frame": 0}, {"time": 10.0, "temperature_k": 2000}], fps=24)
    with pytest.raises(InputError, match="out of range"):
        harmonize_video(clip, background_png, tmp_path / "o.mp4", keyframes=keys, progress=False)
    assert not (tmp_path / "o.mp4").exists()


def test_intensity_key_dims_the_subject_not_just_the_plate_the_engine_reads(
    tmp_path, clip, background_png
):
    from relight_video.harmonize import harmonize_video

    means = {}
    for name, keys in (("plain", None), ("dim", [{"frame": 0}, {"frame": 11, "intensity": 0.25}])):
        out = tmp_path / f"{name}.mp4"
        options = {"engine": "classical", "key": "green", "keyframes": keys, "progress": False}
        harmonize_video(clip, background_png, out, **options)
        frames = list(io.read_frames(out))
        means[name] = [f[25:40, 40:56].astype(float).mean() for f in (frames[0], frames[-1])]
    assert abs(means["dim"][0] - means["plain"][0]) < 3  # key 1: the same light
    # a quarter of the light: linear radiance x0.25, about x0.53 once sRGB-encoded
    assert means["dim"][1] / means["plain"][1] == pytest.approx(0.25 ** (1 / 2.2), abs=0.05)


def test_api_arguments_of_the_wrong_type_are_clear_errors(tmp_path, clip, background_png):
    import numpy as np

    from relight_video.harmonize import harmonize_video

    out = tmp_path / "o.mp4"
    with pytest.raises(InputError, match="keyframes: expected a Keyframes"):
        harmonize_video(clip, background_png, out, keyframes={"frame": 0}, progress=False)
    with pytest.raises(InputError, match="background: expected a file path, got ndarray"):
        harmonize_video(clip, np.zeros((4, 4, 3), np.uint8), out, progress=False)
    with pytest.raises(InputError, match="Keyframes.from_list"):
        Keyframes([{"frame": 0}])
    assert not out.exists()


def test_keyed_yaw_from_a_plate_warns_that_the_model_will_not_turn_the_light(
    tmp_path, clip, background_png, capsys
):
    from relight_video.harmonize import harmonize_video

    keys = [{"frame": 0}, {"frame": 11, "yaw_deg": 60}]
    harmonize_video(clip, background_png, tmp_path / "a.mp4", keyframes=keys, progress=False)
    assert "keyed yaw_deg without an env map" in capsys.readouterr().err
    keys = [{"frame": 0}, {"frame": 11, "temperature_k": 3000}]  # no yaw: no warning
    harmonize_video(clip, background_png, tmp_path / "b.mp4", keyframes=keys, progress=False)
    assert "warning" not in capsys.readouterr().err
