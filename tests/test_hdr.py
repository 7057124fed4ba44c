"""HDR footage (HLG from phones, PQ) is decoded tone-mapped to SDR BT.709, not read as SDR."""

from __future__ import annotations

import subprocess
import sys

import av
import numpy as np
import pytest
from conftest import mux_video

from relight_video import hdr, io

# HLG signal → expected SDR code, by hand from BT.2100 (1000 cd/m², gamma 1.2) and BT.2408:
# 0.5 → E = 1/12, Y_d = 1000 (1/12)^1.2 = 50.7 cd/m² → /203 = 0.250 → 0.250^(1/2.4) → 143
# 0.75 (reference white) → 203 cd/m² → 1.0 → rolled off to 0.9 → 0.9^(1/2.4) → 244
# (read as if SDR, the same signals would show as 128 and 191)
HLG_PATCHES = {0.5: 143, 0.75: 244}


def hlg_clip(path, signals, n=3):
    """A 10-bit ProRes clip tagged BT.2020 / HLG with neutral vertical bands at ``signals``."""
    w, h = 32 * len(signals), 32
    with av.open(str(path), "w", format="mov") as c:
        s = c.add_stream("prores_ks", rate=24)
        s.width, s.height, s.pix_fmt = w, h, "yuv444p10le"
        cc = s.codec_context
        cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range = 9, 9, 18, 1
        y = np.zeros((h, w), np.uint16)
        for i, v in enumerate(signals):
            y[:, 32 * i : 32 * (i + 1)] = round(64 + 876 * v)  # 10-bit video range, neutral
        frames = [av.VideoFrame(w, h, "yuv444p10le") for _ in range(n)]
        for f in frames:
            for plane, value in zip(f.planes, (y, 512, 512)):
                arr = np.broadcast_to(np.asarray(value, np.uint16), (h, w))
                plane.update(np.ascontiguousarray(arr).tobytes())
        mux_video(c, s, frames)
    return path


def test_hlg_and_pq_curves_match_bt2100():
    # HLG: the inverse OETF is continuous at 0.5 (1/12) and reaches 1 at signal 1
    np.testing.assert_allclose(hdr.hlg_inverse_oetf(np.array([0.5, 1.0])), [1 / 12, 1], atol=1e-4)
    # PQ: signal 0.58 is ~203 cd/m² (BT.2408 reference white), 1.0 is 10000
    np.testing.assert_allclose(hdr.pq_eotf(np.array([0.5807, 1.0])), [203, 10000], rtol=0.01)


def test_hlg_clip_is_tone_mapped_not_read_as_sdr(tmp_path):
    clip = hlg_clip(tmp_path / "phone.mov", list(HLG_PATCHES))
    assert io.probe(clip).transfer == "hlg"
    frame = next(io.read_frames(clip))
    for i, want in enumerate(HLG_PATCHES.values()):
        got = frame[16, 32 * i + 16]
        assert np.abs(got.astype(int) - want).max() <= 3, (i, got, want)
        assert np.ptp(got) <= 1  # neutral stays neutral through the 2020 → 709 matrix


def test_pq_highlights_roll_off_instead_of_clipping():
    nits = np.array([100.0, 203.0, 300.0, 400.0, 1000.0])
    codes = np.linspace(0, 1, 200001)  # the EOTF inverted numerically: each luminance's code
    pq = np.interp(nits, hdr.pq_eotf(codes), codes)
    rgb = np.repeat(pq[None, :, None], 3, axis=2).astype(np.float32)
    sdr = hdr.to_sdr(rgb, "pq")[0, :, 0].astype(int)
    assert np.all(np.diff(sdr) > 0), sdr  # brighter stays brighter: gradation up to 1000 cd/m²
    assert sdr[1] >= 240  # reference white is near SDR white


def test_hdr_clip_runs_end_to_end_in_sdr(tmp_path, background_png):
    clip = hlg_clip(tmp_path / "phone.mov", list(HLG_PATCHES), n=4)
    masks = tmp_path / "masks"  # the whole frame is foreground: the output shows the subject
    masks.mkdir()
    for i in range(4):
        io.write_image(masks / f"{i:04d}.png", np.full((32, 64), 255, np.uint8))
    out = tmp_path / "out.mov"
    cmd = ["run", clip, "-b", background_png, "-o", out, "--engine", "composite", "-q"]
    r = subprocess.run(
        [sys.executable, "-m", "relight_video.cli", *map(str, cmd), "--alpha", masks],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert "is HDR (HLG); it is tone-mapped to SDR" in r.stderr
    assert io.probe(out).transfer == "sdr"
    frame = next(io.read_frames(out))
    for i, want in enumerate(HLG_PATCHES.values()):
        assert abs(int(frame[16, 32 * i + 16, 1]) - want) <= 3


@pytest.mark.parametrize("transfer", ["hlg", "pq"])
def test_black_stays_black(transfer):
    assert hdr.to_sdr(np.zeros((2, 2, 3), np.float32), transfer).max() == 0
