"""`relight-video eval` on tiny iHarmony4-style cases and `eval-video` on real MP4 clips."""

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_clip

from relight_video import io
from relight_video.cli import main
from relight_video.matte import alpha_from_image
from relight_video.metrics import case_metrics, fmse

ENGINES = ("composite", "classical")


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def make_cases(root, n=4, without_target=("004",)):
    """``n`` cases, 40x32 to 48x36: a striped subject pasted (binary mask) on a gradient plate;
    the target is the same subject re-coloured warm, as if lit by the plate."""
    rng = np.random.default_rng(0)
    for i in range(n):
        name = f"{i + 1:03d}"
        w, h = 40 + 4 * (i % 3), 32 + 2 * (i % 3)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        bg = np.stack([180 + 40 * xx / w, 120 + 30 * yy / h, 60 + 0 * xx], -1)
        fg = np.stack([90 + 20 * np.sin(xx / 3), 110 + 0 * xx, 150 - 30 * yy / h], -1)
        fg += rng.normal(0, 4, fg.shape)
        mask = ((xx - w / 2) / (0.3 * w)) ** 2 + ((yy - h / 2) / (0.35 * h)) ** 2 < 1
        m = mask[..., None]
        comp = np.where(m, fg, bg)
        target = np.where(m, fg * np.array([1.3, 1.05, 0.7]), bg)
        d = root / name
        d.mkdir(parents=True)
        io.write_image(d / "composite.png", np.clip(comp, 0, 255).astype(np.uint8))
        io.write_image(d / "mask.png", (mask * 255).astype(np.uint8))
        io.write_image(d / "background.png", np.clip(bg, 0, 255).astype(np.uint8))
        if name not in without_target:
            io.write_image(d / "target.png", np.clip(target, 0, 255).astype(np.uint8))
    return root


def test_eval_writes_outputs_reports_and_matching_metrics(tmp_path):
    cases = make_cases(tmp_path / "cases")
    out = tmp_path / "pred"
    r = invoke("eval", cases, "-o", out, "--engine", ",".join(ENGINES), "-q")
    assert r.exit_code == 0, r.output
    assert "| engine |" in r.output and "classical" in r.output

    doc = json.loads((out / "metrics.json").read_text())
    assert doc["cases"] == ["001", "002", "003", "004"]
    assert doc["cases_with_target"] == ["001", "002", "003"]
    assert list(doc["engines"]) == list(ENGINES)
    preds = {}
    for engine in ENGINES:
        res = doc["engines"][engine]
        assert set(res) == {"outputs", "mean", "cases"}
        assert sorted(res["cases"]) == ["001", "002", "003"]  # 004 has no target: no scores
        for case in doc["cases"]:
            preds[engine, case] = io.read_image(out / engine / case / "harmonized.png")
        # every number is case_metrics recomputed on the written PNGs
        for case, got in res["cases"].items():
            mask = alpha_from_image(io.read_image(cases / case / "mask.png"))
            target = io.read_image(cases / case / "target.png")
            want = case_metrics(preds[engine, case], target, mask)
            assert got == pytest.approx(want, rel=1e-9)
        for key in ("fmse", "fpsnr", "psnr", "ssim", "mse"):
            mean = np.mean([m[key] for m in res["cases"].values()])
            assert res["mean"][key] == pytest.approx(mean, rel=1e-9)

    # the composite engine is the identity: its fMSE is the composite's own
    comp = io.read_image(cases / "002" / "composite.png")
    mask = alpha_from_image(io.read_image(cases / "002" / "mask.png"))
    target = io.read_image(cases / "002" / "target.png")
    assert np.array_equal(preds["composite", "002"], comp)
    assert doc["engines"]["composite"]["cases"]["002"]["fmse"] == pytest.approx(
        fmse(comp, target, mask), abs=1e-6
    )
    # the classical engine changed the subject, and only the subject
    diff = np.abs(preds["classical", "002"].astype(int) - comp).sum(-1)
    assert diff[mask > 0.5].mean() > 3 and diff[mask < 0.5].max() == 0

    md = (out / "metrics.md").read_text()
    assert "| engine | fMSE ↓ | fPSNR ↑ | PSNR ↑ | SSIM ↑ | cases |" in md
    assert all(f"| {e} |" in md for e in ENGINES) and "| 003 |" in md
    sheet = io.read_image(out / "sheet.png")
    # 4 rows of 144-px cells (+ header), 4 columns: composite | composite | classical | target
    assert sheet.ndim == 3 and sheet.shape[0] > 4 * 144 and sheet.shape[1] > 4 * 144


def test_eval_one_engine_layout_and_no_targets(tmp_path):
    cases = make_cases(tmp_path / "cases", n=2, without_target=("001", "002"))
    out = tmp_path / "pred"
    r = invoke("eval", cases, "-o", out, "--engine", "classical", "--working-size", "16", "-q")
    assert r.exit_code == 0, r.output
    assert (out / "001" / "harmonized.png").is_file() and (out / "002" / "harmonized.png").is_file()
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["working_size"] == 16
    assert doc["engines"]["classical"] == {"outputs": ".", "mean": None, "cases": {}}
    assert (out / "sheet.png").is_file() and (out / "metrics.md").is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        # the message is the diffusion engine's own (no checkpoint here): not asserted
        (("--engine", "composite,diffusion", "--checkpoint", "/nonexistent/ckpt"), ""),
        (("--engine", "nope"), "engine"),
        (("--set", "classical.nope=1"), "unknown config key"),
    ],
)
def test_eval_bad_engine_is_one_line_exit_2_before_any_work(tmp_path, args, message):
    cases = make_cases(tmp_path / "cases", n=1)
    out = tmp_path / "pred"
    r = invoke("eval", cases, "-o", out, *args, "-q")
    assert r.exit_code == 2
    assert r.output.startswith("error:") and message in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert not out.exists()


def test_eval_missing_mask_is_an_input_error(tmp_path):
    cases = make_cases(tmp_path / "cases", n=2)
    (cases / "002" / "mask.png").unlink()
    r = invoke("eval", cases, "-o", tmp_path / "pred", "-q")
    assert r.exit_code == 2 and "002" in r.output and "mask.png" in r.output


# ----------------------------------------------------------------------------- eval-video


def decoded(path):
    return list(io.read_frames(path))


def eval_video(out, clip, tmp_path, *extra):
    js = tmp_path / f"{out.stem}.json"
    r = invoke("eval-video", out, "--input", clip, "--key", "green", "--json", js, "-q", *extra)
    assert r.exit_code == 0, r.output
    return json.loads(js.read_text()), r.output


def test_eval_video_consistent_output_scores_near_zero_and_flicker_scores_high(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", n=8, audio=False)
    frames = decoded(clip)
    same = tmp_path / "same.mp4"
    shutil.copy(clip, same)
    graded = write_clip(
        tmp_path / "graded.mp4",
        [np.clip(f * np.array([1.1, 0.9, 0.8]), 0, 255).astype(np.uint8) for f in frames],
        audio=False,
    )
    gains = [0.75 if i % 2 else 1.25 for i in range(len(frames))]
    flick = write_clip(
        tmp_path / "flicker.mp4",
        [np.clip(f * g, 0, 255).astype(np.uint8) for f, g in zip(frames, gains)],
        audio=False,
    )
    # a target folder holding exactly the decoded frames of `same`
    target = tmp_path / "target"
    target.mkdir()
    for i, f in enumerate(frames):
        io.write_image(target / f"{i:04d}.png", f)

    s, text = eval_video(same, clip, tmp_path, "--target", target)
    g, _ = eval_video(graded, clip, tmp_path)
    f, _ = eval_video(flick, clip, tmp_path)

    assert s["frames"] == 8 and s["warping_pairs"] == 7
    assert s["warping_error"] < 2e-3 and g["warping_error"] < 2e-3
    assert f["warping_error"] > 10 * max(s["warping_error"], g["warping_error"])
    assert f["flicker"] > 20 and s["flicker"] < 3 and g["flicker"] < 3
    assert s["psnr"] == s["fpsnr"] == 100.0 and s["mse"] == s["fmse"] == 0.0
    assert g["psnr"] is None and "warping error" in text and "PSNR" in text


def test_eval_video_scores_the_tools_own_output_of_an_odd_sized_clip(tmp_path):
    from conftest import synthetic_greenscreen

    src = tmp_path / "odd"  # 95x63 frames: H.264 output comes back padded to 96x64
    src.mkdir()
    for i in range(5):
        io.write_image(src / f"{i:04d}.png", synthetic_greenscreen(95, 63, i / 5)[0])
    plate = tmp_path / "plate.png"
    io.write_image(plate, np.full((63, 95, 3), 90, np.uint8))
    out = tmp_path / "out.mp4"
    r = invoke("run", src, "-b", plate, "-o", out, "--engine", "classical", "--key", "green", "-q")
    assert r.exit_code == 0, r.output
    assert (io.probe(out).width, io.probe(out).height) == (96, 64)
    doc, _ = eval_video(out, src, tmp_path)
    assert doc["frames"] == 5 and (doc["width"], doc["height"]) == (95, 63)
    assert doc["warping_error"] is not None
    wider = write_clip(tmp_path / "wider.mp4", n=5, size=(98, 64), audio=False)
    r = invoke("eval-video", wider, "--input", src, "--key", "green", "-q")
    assert r.exit_code == 2 and "is 98x64, input is 95x63" in r.output


def test_eval_video_frame_count_mismatch_is_an_input_error(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", n=6, audio=False)
    short = write_clip(tmp_path / "short.mp4", decoded(clip)[:4], audio=False)
    r = invoke("eval-video", short, "--input", clip, "--key", "green", "-q")
    assert r.exit_code == 2 and "frames" in r.output


def test_engine_specs_name_checkpoints_for_stage_comparisons():
    from relight_video.errors import InputError
    from relight_video.evaluate import parse_engine_spec

    assert parse_engine_spec("classical", None) == ("classical", "classical", None)
    assert parse_engine_spec("diffusion", "ck") == ("diffusion", "diffusion", "ck")
    assert parse_engine_spec("stage2=runs/s2", None) == ("stage2", "diffusion", "runs/s2")
    for bad in ("=x", "a=", "a b=x"):
        with pytest.raises(InputError, match="LABEL=CHECKPOINT_DIR"):
            parse_engine_spec(bad, None)


def test_eval_video_json_never_overwrites_what_it_measures(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", n=4, audio=False)
    out = tmp_path / "out.mp4"
    shutil.copy(clip, out)
    for victim in (out, clip):
        before = victim.read_bytes()
        r = invoke("eval-video", out, "--input", clip, "--key", "green", "--json", victim, "-q")
        assert r.exit_code == 2 and "would overwrite" in r.output, r.output
        assert victim.read_bytes() == before
