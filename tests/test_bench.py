"""`relight-video bench` on a tiny configuration: well-formed JSON and PNG, consistent numbers."""

import json

import pytest
from click.testing import CliRunner

from relight_video import io
from relight_video.bench import SyntheticGreenScreen, clip_size, write_synthetic_clip
from relight_video.cli import main

MEASUREMENT_KEYS = {
    "seconds",
    "frames",
    "fps",
    "ms_per_frame",
    "stages",
    "stages_ms_per_frame",
    "cpu_seconds",
    "peak_rss_mib",
    "rss_growth_mib",
    "cuda_peak_mib",
    "fps_trials",
}


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_bench_tiny_run_writes_json_and_plot(tmp_path):
    js, png = tmp_path / "bench.json", tmp_path / "bench.png"
    r = invoke(
        "bench",
        "--sizes",
        "64",
        "--frames",
        "6",
        "--engine",
        "classical,composite",
        "--repeat",
        "2",
        "--json",
        js,
        "--plot",
        png,
        "-q",
    )
    assert r.exit_code == 0, r.output
    assert "io floor" in r.output and "classical" in r.output

    doc = json.loads(js.read_text())
    assert doc["device"] == "cpu" and doc["engines"] == ["classical", "composite"]
    assert {"platform", "cpu_count", "decoder"} <= set(doc["system"])
    (run,) = doc["runs"]
    assert (run["width"], run["height"], run["frames"]) == (114, 64, 6)
    floor = run["io_floor"]
    assert set(floor) == MEASUREMENT_KEYS and floor["frames"] == 6
    assert set(floor["stages"]) == {"decode", "encode"}
    for res in [floor, *run["engines"].values()]:  # two interleaved runs, the upper median kept
        assert len(res["fps_trials"]) == 2 and res["fps"] == max(res["fps_trials"])
    assert "median of 2 runs" in r.output
    assert set(run["engines"]) == {"classical", "composite"}
    for res in run["engines"].values():
        assert set(res) == MEASUREMENT_KEYS | {"ratio_to_io_floor"}
        assert res["frames"] == 6 and res["cuda_peak_mib"] is None
        stages = res["stages"]
        assert {"decode", "key", "resize", "model", "detail", "encode"} <= set(stages)
        assert stages["decode"] + stages["key"] == pytest.approx(stages["decode+matte"])
        # the loop's own stages are sequential; "detail" is timed on two threads (the gain on
        # the loop, the full-resolution pass on the finisher thread), so it overlaps them
        timed = sum(stages[k] for k in ("decode+matte", "resize", "model", "encode"))
        assert 0 < timed <= res["seconds"] * 1.001
        assert 0 < stages["detail"] <= 2 * res["seconds"] * 1.001
        assert res["fps"] == pytest.approx(6 / res["seconds"])
        assert res["ratio_to_io_floor"] == pytest.approx(res["fps"] / floor["fps"])
        assert res["peak_rss_mib"] > 10 and res["rss_growth_mib"] >= 0

    img = io.read_image(png)
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 600


def test_synthetic_clip_is_a_keyable_moving_subject(tmp_path):
    from relight_video.keying import ChromaKeyer

    assert clip_size(1080) == (1920, 1080) and clip_size(64) == (114, 64)
    w, h = clip_size(72)
    scene = SyntheticGreenScreen(w, h)
    first, last = scene.frame(0, 5), scene.frame(4, 5)
    keyer = ChromaKeyer("green")
    a0, a1 = keyer(first)[0] > 0.5, keyer(last)[0] > 0.5
    assert 0.1 < a0.mean() < 0.4  # the subject is there, and the screen around it
    assert (a0 & a1).sum() / (a0 | a1).sum() < 0.7  # it moved
    clip = write_synthetic_clip(tmp_path / "c.mp4", 72, 5)
    info = io.probe(clip)
    assert (info.width, info.height, info.num_frames) == (w, h, 5)


@pytest.mark.parametrize(
    "args, message",
    [
        (("--engine", "classical,nope"), "engine"),
        (("--sizes", "64,x"), "--sizes"),
        (("--frames", "1"), "--frames"),
        (("--json", "/nonexistent/dir/b.json"), "does not exist"),
    ],
)
def test_bench_bad_input_is_one_line_exit_2(args, message):
    r = invoke("bench", "--sizes", "64", "--frames", "4", *args, "-q")
    assert r.exit_code == 2 and r.output.startswith("error:") and message in r.output


def test_bench_cuda_without_gpu_is_an_input_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    r = invoke("bench", "--sizes", "64", "--frames", "4", "--device", "cuda", "-q")
    assert r.exit_code == 2 and "cuda" in r.output.lower()


def test_peak_rss_of_a_spawned_child_is_its_own():
    # Linux keeps ru_maxrss across execve: a spawn child must not report the parent's peak
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import numpy as np

    from relight_video.bench import _peak_rss_bytes

    ballast = np.ones(400 * 2**20 // 8)  # 400 MiB touched in this process
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        child_peak = pool.submit(_peak_rss_bytes).result()
    assert ballast.sum() > 0
    assert _peak_rss_bytes() > 400 * 2**20
    assert child_peak < 300 * 2**20, child_peak / 2**20
