"""Folder formats and determinism of `synth pairs`, `synth clip` and `synth sheet`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from models.cli import synth
from models.data.clips import write_clip
from models.data.envmaps import load_env
from models.data.pairs import PairConfig, make_pair, write_pairs
from relight_video.errors import InputError
from relight_video.io import probe, read_image

PAIR_FILES = {
    "composite.png",
    "mask.png",
    "background.png",
    "target.png",
    "env_src.hdr",
    "env_tgt.hdr",
    "meta.json",
}
TINY = PairConfig(size=32, n_lights=8, env_height=16, pairs_per_subject=2)


def _files(root):
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_pairs_folder_format(tmp_path):
    write_pairs(tmp_path / "out", 3, 32, seed=5, config=TINY, progress=False)
    dirs = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert dirs == ["000", "001", "002"]
    for d in dirs:
        folder = tmp_path / "out" / d
        assert {p.name for p in folder.iterdir()} == PAIR_FILES
        for name in ("composite", "background", "target"):
            assert read_image(folder / f"{name}.png").shape == (32, 32, 3)
        assert read_image(folder / "mask.png").shape == (32, 32)
        for name in ("env_src", "env_tgt"):
            env = load_env(folder / f"{name}.hdr")
            assert env.shape == (16, 32, 3) and env.max() > 0
        meta = json.loads((folder / "meta.json").read_text())
        assert meta["kind"] in ("relight", "tint", "identity")
        assert {"subject", "env_src", "env_tgt", "light_src", "light_tgt"} <= meta.keys()
        assert len(meta["light_tgt"]["dominant_direction"]) == 3
    assert not list((tmp_path / "out").glob(".*partial*"))


def test_same_seed_same_files_different_seed_different(tmp_path):
    write_pairs(tmp_path / "a", 2, 32, seed=7, config=TINY, progress=False)
    write_pairs(
        tmp_path / "b", 2, 32, seed=7, config=TINY, cache_dir=tmp_path / "cache", progress=False
    )
    write_pairs(tmp_path / "c", 2, 32, seed=8, config=TINY, progress=False)
    a, b, c = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert a == b
    assert a.keys() == c.keys()
    assert a["000/composite.png"] != c["000/composite.png"]
    assert a["000/meta.json"] != c["000/meta.json"]


@pytest.mark.parametrize("kind", ["identity", "tint"])
def test_pair_kinds(kind):
    fractions = {"identity": (0, 0, 1), "tint": (0, 1, 0)}[kind]
    import dataclasses

    pair = make_pair(3, 0, dataclasses.replace(TINY, fractions=fractions))
    assert pair.meta["kind"] == kind
    if kind == "identity":
        np.testing.assert_array_equal(pair.composite, pair.target)
    else:  # same exposure, only the colour of the light differs
        assert pair.meta["exposure_src"] == pair.meta["exposure_tgt"]
        assert not np.array_equal(pair.composite, pair.target)
    covered = pair.mask == 255
    np.testing.assert_array_equal(pair.composite[~(pair.mask > 0)], pair.target[~(pair.mask > 0)])
    assert covered.any()


def test_clip_folder_format(tmp_path):
    out = write_clip(
        tmp_path / "clip", frames=3, size=32, seed=2, n_lights=8, env_height=16, progress=False
    )
    names = {p.name for p in out.iterdir()}
    assert {
        "greenscreen.mp4",
        "alpha",
        "target",
        "background.png",
        "env_src.hdr",
        "env_tgt.hdr",
        "meta.json",
    } <= names
    assert probe(out / "greenscreen.mp4").num_frames == 3
    assert sorted(p.name for p in (out / "alpha").iterdir()) == ["0000.png", "0001.png", "0002.png"]
    assert len(list((out / "target").iterdir())) == 3
    assert read_image(out / "target" / "0001.png").shape == (32, 32, 3)
    assert read_image(out / "alpha" / "0001.png").shape == (32, 32)
    meta = json.loads((out / "meta.json").read_text())
    assert len(meta["per_frame"]) == 3
    offsets = [f["offset_world"][0] for f in meta["per_frame"]]
    assert len(set(offsets)) == 3  # the subject moves
    a0, a2 = read_image(out / "alpha" / "0000.png"), read_image(out / "alpha" / "0002.png")
    assert not np.array_equal(a0, a2)


def test_keyframed_clip_turns_the_target(tmp_path):
    out = write_clip(
        tmp_path / "k",
        frames=2,
        size=32,
        seed=4,
        n_lights=8,
        env_height=16,
        keyframed=True,
        progress=False,
    )
    assert len(list((out / "background").iterdir())) == 2
    meta = json.loads((out / "meta.json").read_text())
    yaws = [f["env_tgt_yaw"] for f in meta["per_frame"]]
    assert yaws[1] - yaws[0] == pytest.approx(90.0)


def test_cli_pairs_sheet_and_bad_arguments(tmp_path):
    runner = CliRunner()
    r = runner.invoke(
        synth,
        [
            "pairs",
            str(tmp_path / "p"),
            "--n",
            "1",
            "--size",
            "32",
            "--lights",
            "8",
            "--env-kinds",
            "studio",
        ],
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "p" / "000" / "target.png").is_file()
    r = runner.invoke(synth, ["sheet", str(tmp_path / "s"), "--n", "2", "--size", "32"])
    assert r.exit_code == 0, r.output
    sheet = read_image(tmp_path / "s" / "sheet.png")
    assert sheet.shape[1] == 5 * 32
    for args in (
        ["pairs", str(tmp_path / "x"), "--n", "0"],
        ["pairs", str(tmp_path / "x"), "--fractions", "1,2"],
        ["pairs", str(tmp_path / "x"), "--env-kinds", "moon"],
        ["clip", str(tmp_path / "y"), "--frames", "0"],
        ["pairs", str(tmp_path / "x"), "--size", "8"],
    ):
        r = runner.invoke(synth, args)
        assert isinstance(r.exception, InputError), (args, r.output)
