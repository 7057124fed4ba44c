"""End-to-end CLI runs and every bad input of the foundation issue: one line, exit 2, no output."""

import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import leftovers, synthetic_greenscreen, write_clip

from relight_video import io
from relight_video.cli import main


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_run_writes_harmonized_clip_with_audio_and_alpha(tmp_path, clip, background_png):
    out, fg = tmp_path / "out.mp4", tmp_path / "fg.mov"
    r = invoke(
        "run", clip, "-b", background_png, "-o", out, "--key", "green", "--output-alpha", fg, "-q"
    )
    assert r.exit_code == 0, r.output
    src, got, fgi = io.probe(clip), io.probe(out), io.probe(fg)
    assert (got.num_frames, got.fps, got.width, got.height) == (
        src.num_frames,
        src.fps,
        src.width,
        src.height,
    )
    assert got.has_audio and fgi.has_alpha and fgi.num_frames == src.num_frames
    # the subject was composited onto the background: no green left in the output
    frame = next(io.read_frames(out)).astype(int)
    assert (frame[..., 1] - np.maximum(frame[..., 0], frame[..., 2]) > 40).mean() < 0.01
    assert leftovers(tmp_path) == []


def test_phone_clip_with_display_rotation_comes_out_upright(tmp_path, background_png):
    """A portrait phone clip (frames stored landscape + a 90° display rotation) is keyed and
    written upright, the size it plays at, with no rotation left in the output."""
    import cv2
    from conftest import synthetic_greenscreen

    frames = [synthetic_greenscreen(48, 80, i / 5) for i in range(4)]  # portrait 48 x 80
    coded = [cv2.rotate(f, cv2.ROTATE_90_CLOCKWISE) for f, _ in frames]  # stored as 80 x 48
    clip = write_clip(tmp_path / "phone.mp4", coded, rotation=90)
    out, matte = tmp_path / "out.mp4", tmp_path / "matte.mov"
    r = invoke(
        "run", clip, "-b", background_png, "-o", out, "--engine", "composite",
        "--output-alpha", matte, "-q",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    got = io.probe(out)
    assert (got.width, got.height, got.rotation, got.num_frames) == (48, 80, 0, 4)
    # the key found the subject where it stands upright, not turned on its side
    rgba = next(io.read_frames(matte, alpha=True))
    assert rgba.shape == (80, 48, 4)
    keyed, truth = rgba[..., 3] > 128, frames[0][1] > 0.5
    assert (keyed == truth).mean() > 0.95


def test_anamorphic_clip_keeps_its_pixel_aspect(tmp_path, background_png):
    src = write_clip(tmp_path / "hdv.mp4", n=4, size=(72, 54), sar=Fraction(4, 3))
    assert io.probe(src).sar == Fraction(4, 3)
    out = tmp_path / "out.mp4"
    r = invoke("run", src, "-b", background_png, "-o", out, "--engine", "classical", "-q")
    assert r.exit_code == 0, r.output
    assert io.probe(out).sar == Fraction(4, 3)


def test_engines_differ(tmp_path, clip, background_png):
    outs = {}
    for engine in ("composite", "classical"):
        out = tmp_path / f"{engine}.mp4"
        assert (
            invoke("run", clip, "-b", background_png, "-o", out, "--engine", engine, "-q").exit_code
            == 0
        )
        outs[engine] = next(io.read_frames(out)).astype(int)
    assert np.abs(outs["composite"] - outs["classical"]).mean() > 1.0


def test_strength_dials_the_relight(tmp_path, background_png):
    """--strength 0 is the composite; 2 doubles the change the engine makes, in stops."""
    rgba = np.zeros((60, 80, 4), np.uint8)
    rgba[..., :3] = (90, 140, 200)
    rgba[15:45, 20:60, 3] = 255
    fg = tmp_path / "fg.png"
    io.write_image(fg, rgba)
    outs = {}
    for name, extra in (
        ("comp", ["--engine", "composite"]),
        ("s0", ["--strength", "0"]),
        ("s1", []),
        ("s2", ["--strength", "2"]),
    ):
        out = tmp_path / f"{name}.png"
        r = invoke("image", fg, "-b", background_png, "-o", out, "--engine", "classical", *extra)
        assert r.exit_code == 0, r.output
        outs[name] = io.read_image(out)[20:40, 25:55].astype(np.float64)
    comp = outs["comp"]
    assert np.abs(outs["s0"] - comp).max() <= 1
    log1 = np.log((outs["s1"] + 1) / (comp + 1))
    log2 = np.log((outs["s2"] + 1) / (comp + 1))
    assert np.abs(log1).mean() > 0.05  # the engine does change the subject
    np.testing.assert_allclose(log2.mean((0, 1)), 2 * log1.mean((0, 1)), rtol=0.1, atol=0.01)
    r = invoke("image", fg, "-b", background_png, "-o", tmp_path / "x.png", "--strength", "5")
    assert r.exit_code == 2 and "strength: expected 0..3" in r.output
    assert not (tmp_path / "x.png").exists()


def mask_folder(tmp_path, clip, subject_frames=None):
    """A folder of masks for ``clip``: a box on the frames in ``subject_frames`` (default all),
    empty on the others."""
    info = io.probe(clip)
    masks = tmp_path / "masks"
    masks.mkdir()
    for i in range(info.num_frames):
        m = np.zeros((info.height, info.width), np.uint8)
        if subject_frames is None or i in subject_frames:
            m[10:50, 20:70] = 255
        io.write_image(masks / f"{i:04d}.png", m)
    return masks


def test_alpha_folder_and_png_output(tmp_path, clip, background_png):
    info, masks = io.probe(clip), mask_folder(tmp_path, clip)
    out = tmp_path / "seq"
    r = invoke("run", clip, "-b", background_png, "-o", out, "--alpha", masks, "-q")
    assert r.exit_code == 0, r.output
    assert len(list(out.glob("*.png"))) == info.num_frames


def test_frames_with_an_empty_matte_are_reported(tmp_path, clip, background_png):
    """A matte that holds nothing on some frames still writes the clip, and says so."""
    info = io.probe(clip)
    masks = mask_folder(tmp_path, clip, subject_frames=(0, 1))  # the subject on two frames only
    out = tmp_path / "out.mp4"
    r = invoke("run", clip, "-b", background_png, "-o", out, "--alpha", masks, "-q")
    assert r.exit_code == 0, r.output
    assert f"no subject in {info.num_frames - 2} of {info.num_frames} frames" in r.output
    assert "(first: frame 2)" in r.output
    r = invoke("run", clip, "-b", background_png, "-o", out, "--key", "green", "-q")
    assert r.exit_code == 0 and "no subject" not in r.output, r.output


def test_image_command_rgba(tmp_path, background_png):
    rgba = np.zeros((60, 80, 4), np.uint8)
    rgba[..., :3] = 150
    rgba[15:45, 20:60, 3] = 255
    fg = tmp_path / "fg.png"
    io.write_image(fg, rgba)
    out = tmp_path / "o.png"
    r = invoke("image", fg, "-b", background_png, "-o", out)
    assert r.exit_code == 0, r.output
    img = io.read_image(out)
    bgfit = io.read_image(background_png)
    assert img.shape == (60, 80, 3)
    assert not np.array_equal(img[30, 40], bgfit[30, 40])
    assert "matte is empty" not in r.output
    rgba[..., 3] = 0  # nothing to harmonize: written, with a warning
    io.write_image(fg, rgba)
    r = invoke("image", fg, "-b", background_png, "-o", out)
    assert r.exit_code == 0 and "warning: the matte is empty" in r.output, r.output


def test_image_output_alpha_must_hold_alpha(tmp_path, background_png):
    fg = tmp_path / "fg.png"
    io.write_image(fg, np.zeros((60, 80, 4), np.uint8))
    alpha_out = tmp_path / "a.jpg"  # JPEG has no alpha channel
    r = invoke(
        "image", fg, "-b", background_png, "-o", tmp_path / "o.png", "--output-alpha", alpha_out
    )
    assert r.exit_code == 2 and ".jpg cannot hold frames with alpha" in r.output, r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bg.png", "fg.png"]


def test_image_refuses_settings_it_would_ignore(tmp_path, background_png):
    fg = tmp_path / "fg.png"
    io.write_image(fg, np.full((60, 80, 3), 120, np.uint8))
    mask = tmp_path / "m.png"
    io.write_image(mask, np.full((60, 80), 255, np.uint8))
    keys = tmp_path / "k.yaml"
    keys.write_text("- {frame: 0}\n")
    base = ["image", fg, "-b", background_png, "-o", tmp_path / "o.png"]
    r = invoke(*base, "--alpha", mask, "--key", "green")
    assert r.exit_code == 2 and "only one of --key, --alpha" in r.output, r.output
    from relight_video.errors import InputError
    from relight_video.harmonize import harmonize_image

    with pytest.raises(InputError, match="an image has one frame"):  # the Python API takes it
        harmonize_image(fg, background_png, tmp_path / "o.png", keyframes=str(keys))
    assert not (tmp_path / "o.png").exists()


def _bad_alpha_clip(tmp_path, clip, n=None, size=None):
    info = io.probe(clip)
    return write_clip(
        tmp_path / "alpha.mp4",
        n=n or info.num_frames,
        size=size or (info.width, info.height),
        audio=False,
    )


@pytest.mark.parametrize(
    "case,message",
    [
        ("missing_input", "file not found"),
        ("empty_input", "empty file"),
        ("corrupt_input", "cannot read video"),
        ("missing_background", "background not found"),
        ("alpha_count", "has 5 frames, input has 12"),
        ("alpha_size", "is 48x32, input is 96x64"),
        ("unknown_key", "unknown config key 'nonsense'"),
        ("bad_yaml", "bad YAML"),
        ("missing_folder", "output folder does not exist"),
        ("no_screen", "no green screen found"),
        ("output_is_matte", "output would overwrite the matte"),
        ("output_is_background", "output would overwrite the background"),
        ("output_twice", "two outputs are the same file"),
        ("folder_of_footage", "holds other files"),
        ("bad_preset", "encode.preset: expected one of"),
        ("bad_device", "device: expected cpu"),
        ("keyframes_nan", "intensity: expected a number, got nan"),
        ("keyframes_scientific_and_latin1", "not a UTF-8 text file"),
        ("output_is_a_folder", "is a folder; give a file name"),
        ("alpha_frames_as_jpeg", ".jpg cannot hold frames with alpha"),
        ("frames_as_exr", ".exr cannot hold frames"),
        ("unwritable_output", "cannot write /proc/"),
        ("mixed_size_masks", "is 96x32, the sequence's first frame 96x64"),
        ("keyframe_background_not_a_path", "background must be a file path"),
        ("huge_matte_blur", "keying.matte_blur: expected"),
        ("keyed_env_map_classical", "env_map (in the keyframes) needs --engine diffusion"),
    ],
)
def test_bad_input(tmp_path, clip, background_png, case, message):
    out = tmp_path / "out.mp4"
    args = [clip, "-b", background_png, "-o", out, "-q"]
    if case == "missing_input":
        args[0] = tmp_path / "nope.mp4"
    elif case == "empty_input":
        args[0] = tmp_path / "empty.mp4"
        args[0].write_bytes(b"")
    elif case == "corrupt_input":
        args[0] = tmp_path / "corrupt.mp4"
        args[0].write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    elif case == "missing_background":
        args[2] = tmp_path / "nope.png"
    elif case == "alpha_count":
        args += ["--alpha", _bad_alpha_clip(tmp_path, clip, n=5)]
    elif case == "alpha_size":
        args += ["--alpha", _bad_alpha_clip(tmp_path, clip, size=(48, 32))]
    elif case == "unknown_key":
        args += ["--set", "nonsense=1"]
    elif case == "bad_yaml":
        cfg = tmp_path / "c.yaml"
        cfg.write_text("engine: [\n")
        args += ["--config", cfg]
    elif case == "missing_folder":
        args[4] = tmp_path / "missing" / "out.mp4"
    elif case == "no_screen":
        grey = [np.full((64, 96, 3), 120, np.uint8)] * 4
        args[0] = write_clip(tmp_path / "grey.mp4", grey)
        args += ["--key", "green"]
    elif case == "output_is_matte":
        matte = _bad_alpha_clip(tmp_path, clip)
        args[4], out = matte, tmp_path / "unused.mp4"
        args += ["--alpha", matte]
    elif case == "output_is_background":
        args[4], out = background_png.with_suffix(".mp4"), tmp_path / "unused.mp4"
        args[2] = write_clip(background_png.with_suffix(".mp4"), n=3, audio=False)
    elif case == "output_twice":
        args[4] = out = tmp_path / "both.mov"
        args += ["--output-alpha", out]
    elif case == "folder_of_footage":
        args[4] = tmp_path  # the folder that holds the clip and the plate
    elif case == "bad_preset":
        args += ["--set", "encode.preset=veryfats"]
    elif case == "bad_device":
        args += ["--set", "device=gpu0"]
    elif case == "output_is_a_folder":
        (tmp_path / "shot.mp4").mkdir()
        (tmp_path / "shot.mp4" / "keep.txt").write_text("someone's work")
        args[4], out = tmp_path / "shot.mp4", tmp_path / "unused.mp4"
    elif case == "alpha_frames_as_jpeg":
        args += ["--output-alpha", tmp_path / "a_%04d.jpg"]
    elif case == "frames_as_exr":
        args[4] = tmp_path / "f_%04d.exr"
    elif case == "unwritable_output":
        args[4] = "/proc/relit.mp4"  # no file can be created there, root or not
    elif case == "mixed_size_masks":
        masks = tmp_path / "masks"
        masks.mkdir()
        for i in range(12):
            io.write_image(masks / f"{i:04d}.png", np.zeros((64 if i != 5 else 32, 96), np.uint8))
        args += ["--alpha", masks]
    elif case == "keyframe_background_not_a_path":
        keys = tmp_path / "keys.yaml"
        keys.write_text("- {frame: 0, background: 5}\n")
        args += ["--keyframes", keys]
    elif case == "huge_matte_blur":
        args += ["--set", "keying.matte_blur=1e9"]
    elif case == "keyed_env_map_classical":
        np.save(tmp_path / "sky.npy", np.ones((8, 16, 3), np.float32))
        keys = tmp_path / "keys.yaml"
        keys.write_text(f"- {{frame: 0, env_map: {tmp_path / 'sky.npy'}}}\n")
        args += ["--keyframes", keys, "--engine", "classical"]
    elif case.startswith("keyframes"):
        keys = tmp_path / "keys.yaml"
        if case == "keyframes_nan":
            keys.write_text("- {frame: 0, intensity: .nan}\n")
        else:  # 5e-1 is a number; the Latin-1 comment makes the file unreadable as UTF-8
            keys.write_bytes(b"- {frame: 0, intensity: 5e-1}  # caf\xe9\n")
        args += ["--keyframes", keys]
    before = sorted(p.name for p in tmp_path.iterdir())
    r = subprocess.run(
        [sys.executable, "-m", "relight_video.cli", "run", *map(str, args)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists()
    assert leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing read was touched


def test_interrupt_leaves_no_output(tmp_path, clip, background_png, monkeypatch):
    from relight_video import classical

    calls = {"n": 0}
    original = classical.ClassicalEngine.harmonize

    def interrupting(self, *a):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return original(self, *a)

    monkeypatch.setattr(classical.ClassicalEngine, "harmonize", interrupting)
    out, fg = tmp_path / "out.mp4", tmp_path / "fg.mov"
    r = invoke(
        "run",
        clip,
        "-b",
        background_png,
        "-o",
        out,
        "--output-alpha",
        fg,
        "-q",
        "--engine",
        "classical",
    )
    assert r.exit_code == 130
    assert calls["n"] == 5
    assert not out.exists() and not fg.exists()
    assert leftovers(tmp_path) == []


def test_sigterm_leaves_no_output(tmp_path, background_png):
    clip = write_clip(tmp_path / "long.mp4", n=600, size=(160, 96))
    out = tmp_path / "out.mp4"
    cmd = ["run", clip, "-b", background_png, "-o", out, "--engine", "classical", "-q"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "relight_video.cli", *map(str, cmd)],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not leftovers(tmp_path) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # until the writer has opened its temporary output
    assert leftovers(tmp_path), "the run ended before it could be stopped"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "interrupted" in err and "Traceback" not in err
    assert not out.exists() and leftovers(tmp_path) == []


def test_sigterm_exit_code_survives_a_library_that_swaps_the_interrupt(monkeypatch):
    """Ray's ray.wait catches the handler's Terminated and raises a plain KeyboardInterrupt in
    its place; a stopped job must still exit 143, not 130 (Ctrl-C)."""
    from relight_video import errors

    def swallowing_wait(*args, **kwargs):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises here
        except KeyboardInterrupt:
            raise KeyboardInterrupt from None

    monkeypatch.setattr(io, "describe", swallowing_wait)
    r = invoke("probe", "any.mp4")
    assert r.exit_code == 143, r.output
    assert errors.interrupt_code(KeyboardInterrupt()) == 143  # until the next command starts
    monkeypatch.undo()
    assert invoke("probe", "missing.mp4").exit_code == 2
    assert errors.interrupt_code(KeyboardInterrupt()) == 130


def test_probe_reports_what_the_tool_sees(tmp_path):
    src = write_clip(tmp_path / "a.mov", n=6, sar=Fraction(4, 3), timecode="10:00:00:00")
    r = invoke("probe", src, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert (doc["size"], doc["display_size"], doc["fps"], doc["frames"]) == (
        "96x64",
        "128x64",
        "24",
        6,
    )
    assert doc["timecode"] == "10:00:00:00" and not doc["variable_frame_rate"]
    assert [a["codec"] for a in doc["audio"]] == ["aac"] and doc["hdr"] is None
    r = invoke("probe", src)
    assert "display_size         128x64" in r.output
    r = invoke("probe", tmp_path / "missing.mp4")
    assert r.exit_code == 2 and "file not found" in r.output


def test_frames_are_not_added_to_the_input_folder(tmp_path, background_png):
    seq = tmp_path / "seq"
    seq.mkdir()
    for i in range(3):
        io.write_image(seq / f"{i:04d}.png", synthetic_greenscreen(96, 64, i / 5)[0])
    r = invoke("run", seq, "-b", background_png, "-o", seq / "relit_%04d.png", "-q")
    assert r.exit_code == 2 and "would be added to the input" in r.output, r.output
    assert sorted(p.name for p in seq.iterdir()) == ["0000.png", "0001.png", "0002.png"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["synth", "clip", "{tmp}/c", "--frames", "3", "--size", "33"], "--size: expected an even"),
        (["synth", "clip", "{tmp}/c", "--frames", "3", "--fps", "nan"], "--fps: expected"),
        (["bench", "--sizes", "48", "--frames", "6", "--plot", "{tmp}/b.txt"], "--plot"),
        (["run", "{clip}", "-b", "{bg}", "-o", "{tmp}/o.mp4", "--set", "device=mps"], "mps"),
    ],
)
def test_more_bad_arguments_are_one_line_before_any_work(
    tmp_path, clip, background_png, args, message
):
    import torch

    if "device=mps" in args and torch.backends.mps.is_available():
        pytest.skip("this machine has an Apple GPU")
    args = [a.format(tmp=tmp_path, clip=clip, bg=background_png) for a in args]
    before = sorted(p.name for p in tmp_path.iterdir())
    r = invoke(*args)
    assert r.exit_code == 2 and r.output.startswith("error: ") and message in r.output, r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_usage_errors_are_one_line_too(tmp_path, clip, background_png):
    r = invoke("run", clip, "-b", background_png)  # no -o
    assert r.exit_code == 2, r.output
    assert r.output.strip() == "error: Missing option '-o' / '--output'. (see 'main run --help')"


def test_garbage_matte_removes_what_the_key_cannot(tmp_path, background_png):
    """A grey studio wall past the screen's right edge keys as subject (it is not green); a
    garbage matte, black there, takes it out of the clip and the image without touching the
    subject. A garbage matte of another shape is refused before anything is written."""
    frames = []
    for t in range(4):
        frame, _ = synthetic_greenscreen(160, 96, 0.2 * t)
        frame[:, 140:] = 128  # the studio
        frames.append(frame)
    clip = write_clip(tmp_path / "studio.mp4", frames)
    mask = np.full((96, 160), 255, np.uint8)
    mask[:, 136:] = 0
    io.write_image(tmp_path / "garbage.png", mask)
    args = ["--key", "green", "--engine", "composite", "-b", background_png]
    for garbage, name in ((None, "plain"), (tmp_path / "garbage.png", "held")):
        extra = ["--garbage", garbage] if garbage else []
        r = invoke("run", clip, *args, *extra, "-o", tmp_path / f"{name}.mp4",
                   "--output-alpha", tmp_path / f"{name}_%03d.png", "-q")  # fmt: skip
        assert r.exit_code == 0, r.output
    plain = io.read_image(tmp_path / "plain_000.png")[..., 3]
    held = io.read_image(tmp_path / "held_000.png")[..., 3]
    assert plain[:, 145:].min() == 255 and held[:, 145:].max() == 0
    assert np.array_equal(plain[:, 40:120], held[:, 40:120])  # the subject is untouched
    io.write_image(tmp_path / "fg.png", frames[0])
    r = invoke("image", tmp_path / "fg.png", *args, "--garbage", tmp_path / "garbage.png",
               "-o", tmp_path / "one.png", "--output-alpha", tmp_path / "one_a.png")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert io.read_image(tmp_path / "one_a.png")[:, 145:, 3].max() == 0
    io.write_image(tmp_path / "square.png", np.full((96, 96), 255, np.uint8))
    out = tmp_path / "no.mp4"
    r = invoke("run", clip, *args, "--garbage", tmp_path / "square.png", "-o", out, "-q")
    assert r.exit_code == 2 and "garbage matte" in r.output and "is 96x96" in r.output
    r = invoke("run", clip, *args, "--garbage", tmp_path / "nope.png", "-o", out, "-q")
    assert r.exit_code == 2 and "garbage matte not found" in r.output, r.output
    assert not out.exists() and leftovers(tmp_path) == []


def test_a_closed_pipe_ends_quietly(tmp_path):
    """`relight-video probe clip | head -1` printed "error: [Errno 32] Broken pipe" (exit 2);
    a reader that goes away ends the command quietly with 141, as for any shell tool."""
    clip = write_clip(tmp_path / "a.mp4", n=3)
    proc = subprocess.Popen(
        [sys.executable, "-m", "relight_video.cli", "probe", str(clip)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # the reader is gone before the first line
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert proc.returncode == 141 and err == "", (proc.returncode, err)


def test_fps_sets_an_image_sequences_rate(tmp_path, background_png):
    """An image sequence was always written at 24 fps, with no way to say 25 or 23.976."""
    folder = tmp_path / "plates"
    folder.mkdir()
    for i in range(3):
        frame, _ = synthetic_greenscreen(96, 64, 0.2 * i)
        io.write_image(folder / f"plate.{i:04d}.png", frame)
    args = ["-b", background_png, "--key", "green", "--engine", "composite", "-q"]
    r = invoke("run", folder, *args, "--fps", "23.976", "-o", tmp_path / "a.mp4")
    assert r.exit_code == 0, r.output
    assert io.probe(tmp_path / "a.mp4").fps == Fraction(24000, 1001)
    clip = write_clip(tmp_path / "c.mp4", n=3)
    r = invoke("run", clip, *args, "--fps", "25", "-o", tmp_path / "b.mp4")
    assert r.exit_code == 2 and "is a clip (24 fps, kept)" in r.output, r.output
    r = invoke("run", folder, *args, "--fps", "fast", "-o", tmp_path / "b.mp4")
    assert r.exit_code == 2 and "fps: expected a frame rate" in r.output, r.output
    assert not (tmp_path / "b.mp4").exists()
