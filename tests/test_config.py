from fractions import Fraction

import pytest

from relight_video.config import load_run_config, parse_rate
from relight_video.errors import InputError


def test_yaml_then_set_then_flags(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("engine: composite\nclassical:\n  light_strength: 0.3\nworking_size: 128\n")
    cfg = load_run_config(
        p, ["classical.light_strength=0.5", "working_size=200"], engine="classical"
    )
    assert cfg.engine == "classical"
    assert cfg.classical.light_strength == 0.5
    assert cfg.working_size == 200
    assert cfg.classical.color_strength == 0.6  # default kept


@pytest.mark.parametrize(
    "text,message",
    [
        ("engin: classical\n", "unknown config key 'engin'"),
        ("classical:\n  light: 1\n", "unknown config key 'classical.light'"),
        ("working_size: big\n", "working_size: expected an integer"),
        ("engine: [unclosed\n", "bad YAML"),
        ("- a\n- b\n", "mapping at the top level"),
        ("engine: neural\n", "engine: expected one of"),
        ("classical:\n  light_strength: strong\n", "light_strength: expected a number"),
        ("classical:\n  light_strength: .nan\n", "light_strength: expected a number"),
    ],
)
def test_bad_config(tmp_path, text, message):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(InputError, match=message):
        load_run_config(p)


def test_exponent_without_dot_is_a_number():
    # YAML 1.1 reads 5e-1 as a string; a number field still takes it
    cfg = load_run_config(None, ["classical.light_strength=5e-1"])
    assert cfg.classical.light_strength == 0.5


def test_bad_override():
    with pytest.raises(InputError, match="unknown config key 'nope'"):
        load_run_config(None, ["nope=1"])
    with pytest.raises(InputError, match="key=value"):
        load_run_config(None, ["engine"])


def test_only_one_matte_source():
    with pytest.raises(InputError, match="only one of"):
        load_run_config(None, (), key="green", alpha="a.mp4")


@pytest.mark.parametrize(
    "value,rate",
    [(25, Fraction(25)), ("23.976", Fraction(24000, 1001)), (29.97, Fraction(30000, 1001)),
     ("24000/1001", Fraction(24000, 1001)), ("12.5", Fraction(25, 2)), (24, Fraction(24))],
)  # fmt: skip
def test_parse_rate_reads_ntsc_decimals_as_ntsc(value, rate):
    assert parse_rate(value) == rate


@pytest.mark.parametrize("value", ["fast", 0, -24, True, "1/0", float("inf"), 5000])
def test_parse_rate_refuses_what_is_not_a_rate(value):
    with pytest.raises(InputError, match="fps: expected"):
        parse_rate(value)


def test_working_size_defaults_by_engine_and_an_explicit_one_wins():
    from relight_video.config import load_run_config

    assert load_run_config(None, ()).working_px == 256  # diffusion, the default engine
    assert load_run_config(None, (), engine="classical").working_px == 128
    assert load_run_config(None, (), engine="composite").working_px == 128
    assert load_run_config(None, ("working_size=160",)).working_px == 160
    assert load_run_config(None, (), engine="classical", working_size=96).working_px == 96
