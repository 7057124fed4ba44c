"""``relight-video batch``: job files, the manifest, resume after kills, process pool and Ray."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import leftovers, write_clip

from relight_video import io
from relight_video.cli import main

JOBS = """\
defaults: {engine: classical, key: green, background: bg/studio.png}
jobs:
  - {input: clips/a.mp4, output: out/a.mp4}
  - {input: clips/b.mp4, output: out/b.mp4, background: bg/sunset.png}
  - {input: clips/missing.mp4, output: out/missing.mp4}
"""
GOOD_JOBS = "\n".join(JOBS.splitlines()[:-1]) + "\n"
# How long a subprocess batch, or a worker, may take before a test calls it hung (every wait
# here). A guard, not a speed check: with both cores of this machine busy elsewhere, the local
# Ray batch of test_ray_local_matches_workers_1 took over 120 s (five runs in five); idle, that
# test and its --workers 2 twin took 27 s in all.
HUNG_S = 600


def batch(*args) -> object:
    return CliRunner().invoke(main, ["batch", *map(str, args)])


def batch_subprocess(root: Path, *args) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "relight_video.cli", "batch", "jobs.yaml", "-q", *args]
    return subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def image(path: Path, rgb: tuple[int, int, int]) -> Path:
    """A small gradient background whose colour is ``rgb``."""
    xx = np.mgrid[0:60, 0:80][1].astype(np.float32)
    img = np.array(rgb, np.float32) * (0.6 + 0.4 * (xx / 80))[..., None]
    io.write_image(path, np.clip(img, 0, 255).astype(np.uint8))
    return path


def make_project(
    root: Path, jobs: str = JOBS, n: int = 6, size=(64, 48), suffix: str = ".mp4"
) -> Path:
    """clips/a.mp4, clips/b.mp4 (or another ``suffix``), bg/studio.png, bg/sunset.png,
    bg/night.png and jobs.yaml."""
    (root / "clips").mkdir(parents=True)
    (root / "bg").mkdir()
    write_clip(root / "clips" / f"a{suffix}", n=n, size=size)
    write_clip(root / "clips" / f"b{suffix}", n=n + 2, size=size)
    image(root / "bg" / "studio.png", (200, 190, 170))
    image(root / "bg" / "sunset.png", (250, 140, 40))
    image(root / "bg" / "night.png", (30, 40, 110))
    (root / "jobs.yaml").write_text(jobs)
    return root / "jobs.yaml"


def manifest(root: Path) -> dict[str, dict]:
    """The last record of every job."""
    records = {}
    for line in (root / "jobs.manifest.jsonl").read_text().splitlines():
        record = json.loads(line)
        records[record["job"]] = record
    return records


def frames(path: Path) -> np.ndarray:
    return np.stack(list(io.read_frames(path)))


def row(output: str, job: str) -> str:
    """The summary table's row of ``job``."""
    (line,) = [x for x in output.splitlines() if x.startswith(job + " ")]
    return line


def mtimes(root: Path, names=("a", "b")) -> dict[str, int]:
    return {n: (root / "out" / f"{n}.mp4").stat().st_mtime_ns for n in names}


def test_failed_job_does_not_stop_the_others(tmp_path):
    jobs = make_project(tmp_path)
    r = batch(jobs, "-q")
    assert r.exit_code == 1, r.output
    for name in ("a", "b"):
        src, out = tmp_path / "clips" / f"{name}.mp4", tmp_path / "out" / f"{name}.mp4"
        assert io.probe(out).num_frames == io.probe(src).num_frames == len(frames(out))
    assert not (tmp_path / "out" / "missing.mp4").exists()
    m = manifest(tmp_path)
    assert [m[j]["state"] for j in ("out/a.mp4", "out/b.mp4")] == ["done", "done"]
    assert m["out/a.mp4"]["frames"] == 6 and m["out/b.mp4"]["frames"] == 8
    failed = m["out/missing.mp4"]
    assert failed["state"] == "failed"
    assert "file not found" in failed["error"] and "clips/missing.mp4" in failed["error"]
    assert "failed" in row(r.output, "out/missing.mp4")
    assert "done" in row(r.output, "out/a.mp4")
    # the defaults' background for a, the job's own for b (a corner pixel: background only)
    for name, rgb in (("a", (200, 190, 170)), ("b", (250, 140, 40))):
        corner = frames(tmp_path / "out" / f"{name}.mp4")[0, 2, 2].astype(float)
        assert np.abs(corner - 0.6 * np.array(rgb)).max() < 20, (name, corner)
    assert leftovers(tmp_path) == []


def test_rerun_skips_done_jobs_and_keeps_failures_until_retry(tmp_path):
    jobs = make_project(tmp_path)
    assert batch(jobs, "-q").exit_code == 1
    before, first = mtimes(tmp_path), manifest(tmp_path)

    # 1. nothing changed: done jobs skipped, the failure reported again without rerunning
    r = batch(jobs, "-q")
    assert r.exit_code == 1, r.output
    assert mtimes(tmp_path) == before
    again = manifest(tmp_path)
    assert again == first  # no job was started: no record changed
    assert "skipped" in row(r.output, "out/a.mp4") and "skipped" in row(r.output, "out/b.mp4")
    assert "--retry-failed" in row(r.output, "out/missing.mp4")

    # 2. --retry-failed reruns the failure (and only it)
    assert batch(jobs, "-q", "--retry-failed").exit_code == 1
    retried = manifest(tmp_path)
    assert retried["out/missing.mp4"]["run"] != first["out/missing.mp4"]["run"]
    assert retried["out/a.mp4"] == first["out/a.mp4"] and mtimes(tmp_path) == before

    # 3. the missing input appears: its hash changed, so it runs without --retry-failed
    write_clip(tmp_path / "clips" / "missing.mp4", n=6, size=(64, 48))
    r = batch(jobs, "-q")
    assert r.exit_code == 0, r.output
    assert manifest(tmp_path)["out/missing.mp4"]["state"] == "done"
    assert io.probe(tmp_path / "out" / "missing.mp4").num_frames == 6
    assert mtimes(tmp_path) == before


def test_changed_background_reruns_only_that_job(tmp_path):
    jobs = make_project(tmp_path, GOOD_JOBS)
    assert batch(jobs, "-q").exit_code == 0
    before, first = mtimes(tmp_path), manifest(tmp_path)
    b_before = frames(tmp_path / "out" / "b.mp4")

    # 1. another background for job b in the job file
    jobs.write_text(GOOD_JOBS.replace("bg/sunset.png", "bg/night.png"))
    r = batch(jobs, "-q")
    assert r.exit_code == 0, r.output
    after = manifest(tmp_path)
    assert after["out/a.mp4"] == first["out/a.mp4"]
    assert after["out/b.mp4"]["run"] != first["out/b.mp4"]["run"]
    assert mtimes(tmp_path)["a"] == before["a"] and mtimes(tmp_path)["b"] != before["b"]
    assert "skipped" in row(r.output, "out/a.mp4") and "done" in row(r.output, "out/b.mp4")
    assert np.abs(frames(tmp_path / "out" / "b.mp4").astype(int) - b_before).mean() > 5

    # 2. the same path, new content (size + mtime are hashed): job a reruns
    image(tmp_path / "bg" / "studio.png", (90, 200, 90))
    assert batch(jobs, "-q").exit_code == 0
    last = manifest(tmp_path)
    assert last["out/a.mp4"]["run"] != after["out/a.mp4"]["run"]
    assert last["out/b.mp4"] == after["out/b.mp4"]


def test_bad_settings_corrupt_clip_and_empty_glob_fail_only_their_job(tmp_path):
    jobs = make_project(
        tmp_path,
        """\
defaults: {key: green, background: bg/studio.png}
jobs:
  - {input: clips/a.mp4, output: out/a.mp4}
  - {input: clips/b.mp4, output: out/b.mp4, keyframes: keys/missing.yaml}
  - {input: clips/b.mp4, output: out/c.mp4, engine: nonsense}
  - {glob: "nowhere/*.mp4", output_dir: out/none}
  - {input: clips/corrupt.mp4, output: out/d.mp4}
""",
    )
    (tmp_path / "clips" / "corrupt.mp4").write_bytes(os.urandom(4000))
    r = batch(jobs, "-q")
    assert r.exit_code == 1, r.output
    m = manifest(tmp_path)
    assert m["out/a.mp4"]["state"] == "done"
    assert m["out/b.mp4"]["state"] == "failed" and "keys/missing.yaml" in m["out/b.mp4"]["error"]
    assert "engine" in m["out/c.mp4"]["error"] and "nonsense" in m["out/c.mp4"]["error"]
    assert "matches no files" in row(r.output, "line 6: nowhere/*.mp4")
    assert m["out/d.mp4"]["state"] == "failed" and "corrupt.mp4" in m["out/d.mp4"]["error"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.mp4"]


def test_keyframes_are_relative_to_the_job_file_and_hashed(tmp_path):
    jobs = make_project(
        tmp_path,
        """\
defaults: {key: green, background: bg/studio.png}
jobs:
  - {input: clips/a.mp4, output: out/a.mp4}
  - {input: clips/a.mp4, output: out/warm.mp4, keyframes: keys/warm.yaml}
""",
    )
    (tmp_path / "keys").mkdir()
    keys = tmp_path / "keys" / "warm.yaml"
    keys.write_text("- {frame: 0, temperature_k: 2500}\n")
    assert batch(jobs, "-q").exit_code == 0
    plain, warm = frames(tmp_path / "out/a.mp4"), frames(tmp_path / "out/warm.mp4")
    centre = (slice(None), slice(18, 34), slice(24, 40))  # the subject
    d = warm[centre].astype(int) - plain[centre].astype(int)
    assert d[..., 0].mean() - d[..., 2].mean() > 5  # warmer light: red up, blue down
    first = manifest(tmp_path)

    # editing the keyframe file (or a plate it names) reruns only that job
    keys.write_text(
        "- {frame: 0, temperature_k: 2500}\n- {frame: 5, background: ../bg/night.png}\n"
    )
    assert batch(jobs, "-q").exit_code == 0
    second = manifest(tmp_path)
    assert second["out/a.mp4"] == first["out/a.mp4"]
    assert second["out/warm.mp4"]["run"] != first["out/warm.mp4"]["run"]
    image(tmp_path / "bg" / "night.png", (10, 10, 200))
    assert batch(jobs, "-q").exit_code == 0
    assert manifest(tmp_path)["out/warm.mp4"]["run"] != second["out/warm.mp4"]["run"]


def test_dry_run_plans_and_writes_nothing(tmp_path):
    jobs = make_project(tmp_path)
    r = batch(jobs, "--dry-run")
    assert r.exit_code == 0, r.output
    assert r.output.count("would run") == 3
    assert not (tmp_path / "out").exists() and not (tmp_path / "jobs.manifest.jsonl").exists()
    batch(jobs, "-q")
    r = batch(jobs, "--dry-run")
    assert "would skip" in row(r.output, "would skip  out/a.mp4")
    assert r.output.count("would skip") == 2 and r.output.count("would run") == 0


@pytest.mark.parametrize(
    "text, expected",
    [
        (  # unknown key in a block-style job: its own line and the job's
            "defaults: {key: green}\njobs:\n  - {input: a.mp4, output: out/a.mp4}\n"
            "  - input: b.mp4\n    output: out/b.mp4\n    brightnes: 2\n",
            ["line 6:", "unknown key 'brightnes'", "job 2 (line 4)"],
        ),
        (
            "jobs:\n  - input: a.mp4\n    output: out/a.mp4\n    classical: {strenght: 1}\n",
            ["line 4:", "unknown key 'classical.strenght'"],
        ),
        ("defaults: {engin: classical}\njobs:\n  - {input: a.mp4}\n", ["line 1:", "'engin'"]),
        ("jobs:\n  - {input: a.mp4, output: out/a.mp4\n", ["bad YAML", "line 3"]),
        ("defaults: {key: green}\n", ["no 'jobs' list"]),
        ("jobs: []\n", ["line 1:", "non-empty list"]),
        ("jobs:\n  - {output: out/a.mp4}\n", ["line 2:", "exactly one of 'input' or 'glob'"]),
        ("jobs:\n  - {input: a.mp4}\n", ["line 2:", "needs 'output'"]),
        ("job:\n  - {input: a.mp4}\n", ["line 1:", "unknown top-level key 'job'"]),
        (
            "jobs:\n  - {input: a.mp4, output: o.mp4}\n  - {input: b.mp4, output: o.mp4}\n",
            ["line 3:", "o.mp4 is also written by the job on line 2"],
        ),
        (  # two patterns that make the same file names
            "jobs:\n  - {input: a.mp4, output: o/f_%04d.png}\n"
            "  - {input: b.mp4, output: o/f_%06d.png}\n",
            ["line 3:", "f_#.png is also written by the job on line 2"],
        ),
    ],
)
def test_bad_job_file_is_one_line_exit_2_before_anything_runs(tmp_path, text, expected):
    jobs = make_project(tmp_path, text)
    r = batch(jobs, "-q")
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    for part in expected:
        assert part in lines[0]
    assert not (tmp_path / "out").exists() and not (tmp_path / "jobs.manifest.jsonl").exists()


def test_two_patterns_can_share_a_folder(tmp_path):
    jobs = make_project(
        tmp_path,
        "defaults: {engine: classical, key: green, background: bg/studio.png}\njobs:\n"
        "  - {input: clips/a.mp4, output: shots/a_%04d.png}\n"
        "  - {input: clips/b.mp4, output: shots/b_%04d.png}\n",
    )
    (tmp_path / "shots").mkdir()
    r = batch(jobs, "-q")
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in (tmp_path / "shots").iterdir())
    assert len([n for n in names if n.startswith("a_0")]) == 6  # and a_audio.mka beside them
    assert len([n for n in names if n.startswith("b_0")]) == 8
    assert "a_audio.mka" in names and "b_audio.mka" in names


@pytest.mark.parametrize("target", ["bg/studio.png", "clips/a.mp4", "jobs.yaml", "out/a.mp4"])
def test_manifest_may_not_be_a_file_the_batch_uses(tmp_path, target):
    jobs = make_project(tmp_path, GOOD_JOBS)
    before = (tmp_path / target).read_bytes() if (tmp_path / target).exists() else None
    r = batch(jobs, "-q", "--manifest", tmp_path / target)
    assert r.exit_code == 2 and r.output.startswith("error: --manifest"), r.output
    after = (tmp_path / target).read_bytes() if (tmp_path / target).exists() else None
    assert after == before
    notes = tmp_path / "notes.txt"
    notes.write_text("someone's notes\n")
    r = batch(jobs, "-q", "--manifest", notes)
    assert r.exit_code == 2 and "is not a manifest" in r.output
    assert notes.read_text() == "someone's notes\n"


def test_frame_outputs_are_made_and_rerun_when_deleted(tmp_path):
    jobs = make_project(
        tmp_path,
        "defaults: {engine: classical, key: green, background: bg/studio.png}\njobs:\n"
        "  - {input: clips/a.mp4, output: renders/a/}\n"
        "  - {input: clips/b.mp4, output: shots/new/b_%04d.png}\n",  # shots/new/ made here
    )
    assert batch(jobs, "-q").exit_code == 0
    assert len(list((tmp_path / "shots" / "new").glob("b_*.png"))) == 8
    for f in [*(tmp_path / "renders" / "a").glob("*.png"), *(tmp_path / "shots").rglob("*.png")]:
        f.unlink()
    r = batch(jobs, "-q")
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "renders" / "a").glob("*.png"))) == 6
    assert len(list((tmp_path / "shots" / "new").glob("b_*.png"))) == 8


def test_env_map_is_read_from_the_job_folder_and_hashed(tmp_path, monkeypatch):
    import cv2

    from relight_video.batch import load_job_file

    jobs = make_project(
        tmp_path,
        "defaults: {key: green, env_map: light.hdr}\njobs:\n"
        "  - {input: clips/a.mp4, output: out/a.mp4}\n",
    )
    env = np.full((16, 32, 3), 0.2, np.float32)
    cv2.imwrite(str(tmp_path / "light.hdr"), env)
    monkeypatch.chdir("/")  # paths in a job file are relative to it, not to the shell
    (job,) = load_job_file(jobs)
    assert job.config.env_map == str(tmp_path / "light.hdr")
    env[:4] = 30.0
    cv2.imwrite(str(tmp_path / "light.hdr"), env)
    os.utime(tmp_path / "light.hdr", ns=(1, 1))  # a new size or mtime: the job reruns
    (again,) = load_job_file(jobs)
    assert again.hash != job.hash


def test_missing_job_file_is_an_input_error(tmp_path):
    r = batch(tmp_path / "nope.yaml")
    assert r.exit_code == 2 and r.output.startswith("error: job file not found")


def _wait_for(predicate, timeout: float = HUNG_S) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def _running(root: Path) -> bool:
    path = root / "jobs.manifest.jsonl"
    return path.exists() and '"state": "running"' in path.read_text()


def _partials(root: Path) -> list[Path]:
    out = root / "out"
    return sorted(out.glob(".*.partial-*")) if out.is_dir() else []


def test_killed_run_resumes_with_valid_outputs_and_no_partials(tmp_path):
    jobs = make_project(tmp_path, GOOD_JOBS, n=90, size=(320, 240))
    proc = batch_subprocess(tmp_path)
    try:
        _wait_for(lambda: _running(tmp_path) and _partials(tmp_path) or proc.poll() is not None)
        assert proc.poll() is None, proc.stdout.read().decode()
        # a second run on the same manifest while this one lives is refused
        r = batch(jobs, "-q")
        assert r.exit_code == 2 and "another relight-video batch" in r.output, r.output
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    # killed mid-job: a hidden partial file, the job 'running', no incomplete final file
    assert _partials(tmp_path)
    assert any(r["state"] == "running" for r in manifest(tmp_path).values())
    for out in (tmp_path / "out").glob("[!.]*.mp4"):
        assert io.probe(out).num_frames == 90

    r = batch(jobs, "-q")
    assert r.exit_code == 0, r.output
    for name, n in (("a", 90), ("b", 92)):
        assert len(frames(tmp_path / "out" / f"{name}.mp4")) == n
    assert {r["state"] for r in manifest(tmp_path).values()} == {"done"}
    assert leftovers(tmp_path) == []


def test_killed_worker_is_retried_in_a_fresh_pool(tmp_path):
    psutil = pytest.importorskip("psutil")
    make_project(tmp_path, GOOD_JOBS, n=90, size=(320, 240))
    proc = batch_subprocess(tmp_path, "--workers", "2")

    def writing_worker():
        for child in psutil.Process(proc.pid).children(recursive=True):
            try:
                if any(".partial-" in f.path for f in child.open_files()):
                    return child
            except psutil.Error:
                continue
        return None

    try:
        _wait_for(lambda: writing_worker() is not None or proc.poll() is not None)
        victim = writing_worker()
        assert victim is not None, proc.stdout.read().decode()
        os.kill(victim.pid, signal.SIGKILL)
        output = proc.communicate(timeout=HUNG_S)[0].decode()
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, output
    m = manifest(tmp_path)
    assert {r["state"] for r in m.values()} == {"done"}
    assert max(r["attempt"] for r in m.values()) == 2
    for name, n in (("a", 90), ("b", 92)):
        assert len(frames(tmp_path / "out" / f"{name}.mp4")) == n
    assert leftovers(tmp_path) == []


# MOV clips, so the glob's outputs are MOV too: ProRes, which encodes the same frames to the
# same file every time. x264 here does not: the same frames gave another (equally good) H.264
# encode on some runs, which made exact comparisons of two batch runs fail now and then.
GLOB_JOBS = """\
defaults: {key: green, background: bg/studio.png}
jobs:
  - {glob: "clips/*.mov", output_dir: out}
  - {input: clips/a.mov, output: out/a_sunset.mov, background: bg/sunset.png}
"""
TWIN_OUTPUTS = ["a.mov", "b.mov", "a_sunset.mov"]


def _twin_projects(tmp_path: Path, jobs: str) -> tuple[Path, Path]:
    """The same job file and clips in two folders."""
    one = make_project(tmp_path / "one", jobs, suffix=".mov")
    two = tmp_path / "two"
    shutil.copytree(tmp_path / "one", two)
    return one, two / "jobs.yaml"


def _same_outputs(one: Path, two: Path, names: list[str]) -> None:
    for name in names:
        a, b = frames(one.parent / "out" / name), frames(two.parent / "out" / name)
        assert a.shape == b.shape, (name, a.shape, b.shape)
        if not np.array_equal(a, b):  # say how they differ, to tell rounding from a real bug
            d = np.abs(a.astype(int) - b.astype(int))
            bad = np.flatnonzero(d.reshape(len(d), -1).max(1))
            raise AssertionError(
                f"{name}: frames {bad.tolist()} differ; max |diff| {d.max()}, "
                f"{(d > 0).sum()} of {d.size} values"
            )


def test_workers_2_matches_workers_1(tmp_path):
    one, two = _twin_projects(tmp_path, GLOB_JOBS)
    r1, r2 = batch(one, "-q"), batch(two, "-q", "--workers", "2")
    assert r1.exit_code == 0 and r2.exit_code == 0, r2.output
    m = manifest(two.parent)
    assert sorted(m) == ["out/a.mov", "out/a_sunset.mov", "out/b.mov"]
    assert len({r["pid"] for r in m.values()} - {os.getpid()}) >= 1  # ran in worker processes
    _same_outputs(one, two, TWIN_OUTPUTS)


@pytest.mark.ray
def test_ray_local_matches_workers_1(tmp_path):
    pytest.importorskip("ray")
    one, two = _twin_projects(tmp_path, GLOB_JOBS)
    assert batch(one, "-q").exit_code == 0
    proc = batch_subprocess(two.parent, "--ray", "local")
    try:
        output = proc.communicate(timeout=HUNG_S)[0].decode()
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, output
    m = manifest(two.parent)
    assert {r["state"] for r in m.values()} == {"done"} and len(m) == 3
    assert proc.pid not in {r["pid"] for r in m.values()}  # run by Ray workers
    _same_outputs(one, two, TWIN_OUTPUTS)


@pytest.mark.ray
def test_sigterm_stops_a_ray_batch_cleanly(tmp_path):
    """Ray takes over SIGTERM in the driver; a render farm's stop must still unwind like
    Ctrl-C: jobs back to pending, no partial files, Ray shut down."""
    pytest.importorskip("ray")
    make_project(tmp_path, GOOD_JOBS, n=90, size=(320, 240))
    proc = batch_subprocess(tmp_path, "--ray", "local")
    try:
        _wait_for(lambda: _partials(tmp_path) or proc.poll() is not None)
        assert proc.poll() is None, proc.stdout.read().decode()
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=HUNG_S)[0].decode()
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 143, output  # as `run` exits on SIGTERM
    assert leftovers(tmp_path) == []
    states = {r["state"] for r in manifest(tmp_path).values()}
    assert "running" not in states and "pending" in states, states


def test_recursive_glob_leaves_out_its_own_outputs(tmp_path):
    jobs = make_project(
        tmp_path,
        "defaults: {engine: classical, key: green, background: bg/studio.png}\njobs:\n"
        "  - {glob: 'clips/**/*.mp4', output_dir: clips/relit}\n",
    )
    assert batch(jobs, "-q").exit_code == 0
    assert sorted(p.name for p in (tmp_path / "clips" / "relit").iterdir()) == ["a.mp4", "b.mp4"]
    r = batch(jobs)  # the outputs now match the glob too: still the same two jobs, skipped
    assert r.exit_code == 0, r.output
    assert "2 jobs: 2 skipped." in r.output, r.output


def test_a_jobs_own_matte_replaces_the_defaults_key(tmp_path):
    jobs = make_project(
        tmp_path,
        "defaults: {engine: classical, key: green, background: bg/studio.png}\njobs:\n"
        "  - {input: clips/a.mp4, output: out/a.mp4}\n"
        "  - {input: clips/a.mp4, output: out/masked.mp4, alpha: masks}\n",
    )
    (tmp_path / "masks").mkdir()
    for i in range(6):
        io.write_image(tmp_path / "masks" / f"{i:04d}.png", np.full((48, 64), 255, np.uint8))
    r = batch(jobs, "-q")
    assert r.exit_code == 0, r.output
    keyed, masked = frames(tmp_path / "out" / "a.mp4"), frames(tmp_path / "out" / "masked.mp4")
    assert np.abs(keyed.astype(int) - masked).mean() > 5  # the full-frame matte was used


def test_yaml_merge_keys_share_settings_between_jobs(tmp_path):
    jobs = make_project(
        tmp_path,
        "jobs:\n"
        "  - &a {input: clips/a.mp4, output: out/a.mp4, engine: classical, key: green,"
        " background: bg/studio.png}\n"
        "  - {<<: *a, output: out/a_sunset.mp4, background: bg/sunset.png}\n",
    )
    r = batch(jobs, "-q")
    assert r.exit_code == 0, r.output
    studio, sunset = frames(tmp_path / "out" / "a.mp4"), frames(tmp_path / "out" / "a_sunset.mp4")
    assert len(studio) == len(sunset) == 6
    assert np.abs(studio.astype(int) - sunset).mean() > 5  # the job's own background won


def test_pool_workers_share_the_cores(monkeypatch):
    """Each worker process's PyTorch started a thread per core, so two workers on two cores
    ran four spinning OpenMP threads: 4 diffusion jobs took 164 s instead of 23 s. Each
    worker now gets its share of the cores."""
    import torch

    from relight_video.batch import PoolBackend

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)  # read by the parent, passed to the workers
    backend = PoolBackend(2)
    try:
        threads = backend._executor().submit(torch.get_num_threads).result(timeout=HUNG_S)
    finally:
        backend.close()
    assert threads == 1


def test_garbage_matte_is_read_from_the_job_folder_and_hashed(tmp_path, monkeypatch):
    from relight_video.batch import load_job_file

    jobs = make_project(
        tmp_path,
        "defaults: {key: green, garbage: mask.png}\njobs:\n"
        "  - {input: clips/a.mp4, output: out/a.mp4}\n",
    )
    io.write_image(tmp_path / "mask.png", np.full((48, 64), 255, np.uint8))
    monkeypatch.chdir("/")
    (job,) = load_job_file(jobs)
    assert job.config.garbage == str(tmp_path / "mask.png")
    io.write_image(tmp_path / "mask.png", np.zeros((48, 64), np.uint8))
    os.utime(tmp_path / "mask.png", ns=(1, 1))
    (again,) = load_job_file(jobs)
    assert again.hash != job.hash


def test_a_job_whose_matte_finds_nothing_says_so(tmp_path):
    """A clip of bare green screen is written (the background alone), and its manifest record
    and summary row say that the matte was empty."""
    jobs = make_project(tmp_path, jobs=GOOD_JOBS)
    bare = [np.full((48, 64, 3), (40, 200, 60), np.uint8) for _ in range(5)]
    write_clip(tmp_path / "clips" / "a.mp4", bare, size=(64, 48))
    r = batch(jobs, "-q")
    assert r.exit_code == 0, r.output
    m = manifest(tmp_path)
    assert (m["out/a.mp4"]["empty_frames"], m["out/a.mp4"]["first_empty"]) == (5, 0)
    assert "empty_frames" not in m["out/b.mp4"]
    assert "no subject in 5 frames" in row(r.output, "out/a.mp4")
    assert "no subject" not in row(r.output, "out/b.mp4")
