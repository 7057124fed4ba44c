"""Optical flow: DIS accuracy on a known shift, RAFT loading from local files, warping, occlusion."""

from __future__ import annotations

import numpy as np
import pytest

from relight_video import flow
from relight_video.errors import InputError


def astronaut_crop(size: int = 128) -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[40 : 40 + size, 160 : 160 + size])


# ----------------------------------------------------------------------------- warp


def test_warp_zero_flow_is_identity():
    img = astronaut_crop(48)
    zero = np.zeros((2, 48, 48), np.float32)
    np.testing.assert_array_equal(flow.warp(img, zero), img)
    as_float = img.astype(np.float32) / 255
    np.testing.assert_allclose(flow.warp(as_float, zero), as_float, atol=1e-5)


def test_warp_integer_shift_samples_the_right_pixel():
    img = np.arange(20 * 30, dtype=np.float32).reshape(20, 30)
    f = np.zeros((2, 20, 30), np.float32)
    f[0], f[1] = 2.0, -1.0  # sample b at (x + 2, y - 1)
    out = flow.warp(img, f)
    np.testing.assert_allclose(out[1:, :-2], img[:-1, 2:], atol=1e-3)
    # border padding: samples beyond the right edge repeat the last column
    np.testing.assert_allclose(out[1:, -1], img[:-1, -1], atol=1e-3)


def test_warp_tensor_matches_numpy():
    import torch

    rng = np.random.default_rng(0)
    img = rng.random((16, 24, 3), dtype=np.float32)
    f = rng.normal(0, 2, (2, 16, 24)).astype(np.float32)
    expected = flow.warp(img, f)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].repeat(2, 1, 1, 1)
    out = flow.warp(x, torch.from_numpy(f)[None].repeat(2, 1, 1, 1))
    assert isinstance(out, torch.Tensor) and out.shape == (2, 3, 16, 24)
    np.testing.assert_allclose(out[1].permute(1, 2, 0).numpy(), expected, atol=1e-5)


# ----------------------------------------------------------------------------- DIS


def test_dis_recovers_a_known_translation():
    a = astronaut_crop(128)
    b = np.roll(a, (-2, 3), axis=(0, 1))  # b[y, x] = a[y + 2, x - 3] → a(x, y) = b(x + 3, y - 2)
    f = flow.estimate(a, b, "dis")
    assert f.shape == (2, 128, 128) and f.dtype == np.float32
    interior = f[:, 16:-16, 16:-16]
    epe = np.hypot(interior[0] - 3.0, interior[1] + 2.0)
    assert epe.mean() < 0.5
    # the convention: warp(b, flow a→b) reproduces a
    back = flow.warp(b, f).astype(np.float32)
    assert np.abs(back - a)[16:-16, 16:-16].mean() < 3.0


def test_dis_flow_does_not_depend_on_what_the_process_did_before(tmp_path):
    """A clip's output must not depend on whether a batch worker processed other sizes first."""
    import subprocess
    import sys

    a = astronaut_crop(64)[:48]
    b = np.roll(a, (1, 2), axis=(0, 1))
    paths = [tmp_path / f"{n}.npy" for n in ("a", "b", "flow")]
    np.save(paths[0], a)
    np.save(paths[1], b)
    code = (
        "import sys, numpy as np; from relight_video import flow; "
        "a, b = np.load(sys.argv[1]), np.load(sys.argv[2]); "
        "np.save(sys.argv[3], flow.estimate(a, b, 'dis'))"
    )
    subprocess.run([sys.executable, "-c", code, *map(str, paths)], check=True)  # fresh process
    for size in (40, 96, 33):  # other sizes first, as earlier jobs in the same worker would
        other = astronaut_crop(size)
        flow.estimate(other, np.roll(other, 1, axis=1), "dis")
    np.testing.assert_array_equal(flow.estimate(a, b, "dis"), np.load(paths[2]))


def test_dis_on_a_thin_strip_does_not_crash_and_tracks():
    """A very wide clip at working size is a strip a few px high, where OpenCV's DIS segfaults;
    it runs on an enlarged copy instead (run in a child process, so a crash fails the test)."""
    import subprocess
    import sys

    code = (
        "import numpy as np; from relight_video import flow\n"
        "rng = np.random.default_rng(0)\n"
        "a = (rng.random((10, 128, 3)) * 255).astype(np.uint8)\n"
        "import cv2; a = cv2.GaussianBlur(a, (0, 0), 1.5)\n"
        "b = np.roll(a, 2, axis=1)\n"
        "f = flow.estimate(a, b, 'dis')\n"
        "assert f.shape == (2, 10, 128), f.shape\n"
        "print(float(np.median(f[0, :, 20:-20])))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert abs(float(r.stdout) - 2.0) < 0.5  # b[x] = a[x - 2]: a's content moved 2 px right


def test_estimate_rejects_bad_input():
    a = astronaut_crop(32)
    with pytest.raises(InputError, match="backend"):
        flow.estimate(a, a, "farneback")
    with pytest.raises(InputError, match="must match"):
        flow.estimate(a, a[:16], "dis")
    with pytest.raises(InputError, match="RGB"):
        flow.estimate(a[..., 0], a[..., 0], "dis")


# ----------------------------------------------------------------------------- RAFT


@pytest.fixture(scope="module")
def raft_small_weights(tmp_path_factory):
    import torch
    from torchvision.models.optical_flow import raft_small

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("raft") / "raft_small.pth"
    torch.save(raft_small(weights=None, progress=False).state_dict(), path)
    return path


def test_raft_small_from_local_weights(raft_small_weights):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    b = np.roll(a, 2, axis=1)
    f = flow.estimate(a, b, "raft_small", weights=raft_small_weights)
    assert f.shape == (2, 64, 64) and f.dtype == np.float32
    assert np.isfinite(f).all()
    # sizes that are not multiples of 8 are padded and cropped back
    f2 = flow.estimate(a[:60, :52], b[:60, :52], "raft_small", weights=raft_small_weights)
    assert f2.shape == (2, 60, 52) and np.isfinite(f2).all()


def test_raft_safetensors_weights_give_the_same_flow(raft_small_weights, tmp_path):
    import torch
    from safetensors.torch import save_file

    state = torch.load(raft_small_weights, weights_only=True)
    st = tmp_path / "raft_small.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(st))
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    b = np.roll(a, 1, axis=0)
    f_pth = flow.estimate(a, b, "raft_small", weights=raft_small_weights)
    f_st = flow.estimate(a, b, "raft_small", weights=st)
    np.testing.assert_allclose(f_st, f_pth, atol=1e-5)


def test_raft_weight_errors(tmp_path, raft_small_weights):
    import torch
    from torchvision.models.optical_flow import raft_large

    a = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(InputError, match="no such file"):
        flow.estimate(a, a, "raft_small", weights=tmp_path / "missing.pth")
    with pytest.raises(InputError, match="needs weights"):
        flow.estimate(a, a, "raft_small")

    one_key = tmp_path / "one_key.pth"
    torch.save({"foo": torch.zeros(3)}, one_key)
    with pytest.raises(InputError, match="not a torchvision raft_small state dict"):
        flow.estimate(a, a, "raft_small", weights=one_key)

    large = tmp_path / "raft_large.pth"
    torch.save(raft_large(weights=None, progress=False).state_dict(), large)
    with pytest.raises(InputError, match="not a torchvision raft_small state dict") as err:
        flow.estimate(a, a, "raft_small", weights=large)
    assert "\n" not in str(err.value)
    # and the right file for the other backend is rejected the same way
    with pytest.raises(InputError, match="not a torchvision raft_large state dict"):
        flow.estimate(a, a, "raft_large", weights=raft_small_weights)


# ----------------------------------------------------------------------------- occlusion


def square_moving_right(h: int = 40, w: int = 60, x0: int = 20, size: int = 10, dx: int = 4):
    """Flows of a square (rows 15..24, columns x0..x0+size-1) moving ``dx`` px right."""
    fwd = np.zeros((2, h, w), np.float32)  # a → b
    bwd = np.zeros((2, h, w), np.float32)  # b → a
    fwd[0, 15 : 15 + size, x0 : x0 + size] = dx
    bwd[0, 15 : 15 + size, x0 + dx : x0 + dx + size] = -dx
    return fwd, bwd


def test_occlusion_mask_marks_the_disoccluded_band():
    fwd, bwd = square_moving_right()
    visible_in_b = flow.occlusion_mask(bwd, fwd)  # b's frame: uncovered band is new there
    assert visible_in_b.shape == (40, 60) and visible_in_b.dtype == bool
    assert not visible_in_b[15:25, 20:24].any()  # background uncovered behind the square
    assert visible_in_b[15:25, 24:34].all()  # the square itself is tracked
    assert visible_in_b[:, 40:].all() and visible_in_b[:8].all()  # far background

    visible_in_a = flow.occlusion_mask(fwd, bwd)  # a's frame: background about to be covered
    assert not visible_in_a[15:25, 30:34].any()
    assert visible_in_a[15:25, 20:30].all()
    assert visible_in_a[:, 40:].all()


def test_occlusion_mask_flags_targets_outside_the_frame():
    fwd = np.zeros((2, 20, 20), np.float32)
    fwd[0] = 3.0  # a global shift right: the last 3 columns leave the frame
    visible = flow.occlusion_mask(fwd, -fwd)
    assert visible[:, :17].all()
    assert not visible[:, 17:].any()


def test_flow_pair_on_a_translation():
    a = astronaut_crop(96)
    b = np.roll(a, (0, 2), axis=(0, 1))
    fwd, bwd, visible = flow.flow_pair(a, b)
    assert fwd.shape == bwd.shape == (2, 96, 96) and visible.shape == (96, 96)
    inner = (slice(12, -12), slice(12, -12))
    assert abs(float(np.median(fwd[0][inner])) - 2.0) < 0.25
    assert abs(float(np.median(bwd[0][inner])) + 2.0) < 0.25
    assert visible[inner].mean() > 0.95
