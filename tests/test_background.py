"""Background plates: fits, clips that loop or hold, clips at another frame rate."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
from conftest import write_clip

from relight_video.background import Background, fit_to


def numbered_clip(path, n: int, fps) -> None:
    """Frame i is a flat grey of level 20 * i + 10: its index survives H.264."""
    frames = [np.full((32, 48, 3), 20 * i + 10, np.uint8) for i in range(n)]
    write_clip(path, frames, fps=Fraction(fps), audio=False)


def indices(bg: Background, count: int) -> list[int]:
    """The clip frame shown at each of the first ``count`` output frames."""
    return [round((f.mean() - 10) / 20) for f in itertools.islice(bg.frames(), count)]


def test_fit_modes_keep_the_aspect():
    img = np.zeros((100, 200, 3), np.uint8)
    img[:, 50:150] = 255  # a white band in the middle half
    cover = fit_to(img, 50, 50, "cover")  # 100x50 crop of the middle: all white
    assert cover.shape == (50, 50, 3) and cover.min() == 255
    contain = fit_to(img, 50, 50, "contain")  # 50x25 band, letterboxed above and below
    assert contain.shape == (50, 50, 3)
    assert np.ptp(contain[:12], axis=(0, 1)).max() == 0  # flat letterbox rows
    assert fit_to(img, 50, 50, "stretch").shape == (50, 50, 3)


def test_short_clip_loops_or_holds(tmp_path):
    numbered_clip(tmp_path / "bg.mp4", 4, 24)
    looped = Background(tmp_path / "bg.mp4", 48, 32, fps=Fraction(24))
    assert indices(looped, 10) == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    held = Background(tmp_path / "bg.mp4", 48, 32, loop=False, fps=Fraction(24))
    assert indices(held, 7) == [0, 1, 2, 3, 3, 3, 3]


@pytest.mark.parametrize(
    "clip_fps, out_fps, want",
    [
        (24, 30, [0, 0, 1, 2, 3, 4, 4, 5, 6, 7]),  # 4 clip frames in every 5 output frames
        (60, 30, [0, 2, 4, 6, 8, 10, 0, 2, 4, 6]),  # every other frame; 12 frames loop in 0.2 s
        (Fraction(30000, 1001), Fraction(30), list(range(10))),  # within 0.1 %: frame for frame
    ],
)
def test_clip_at_another_rate_plays_at_its_own_speed(tmp_path, clip_fps, out_fps, want):
    numbered_clip(tmp_path / "bg.mp4", 12, clip_fps)
    assert indices(Background(tmp_path / "bg.mp4", 48, 32, fps=out_fps), 10) == want


def test_anamorphic_output_fits_the_plate_as_displayed(tmp_path):
    from relight_video import io

    plate = np.zeros((90, 160, 3), np.uint8)  # 16:9 with a white stripe over its middle quarter
    plate[:, 60:100] = 255
    io.write_image(tmp_path / "plate.png", plate)

    def stripe(bg: Background) -> float:
        return (next(bg.frames())[..., 0] > 127).mean()  # share of the width that is white

    # 72x54 stored with 4:3 pixels is 96x54 shown: 16:9, so the plate fits whole
    assert stripe(Background(tmp_path / "plate.png", 72, 54, sar=Fraction(4, 3))) == pytest.approx(
        0.25, abs=0.03
    )
    # read as square pixels (4:3) the plate's sides are cropped and the stripe widens to 1/3
    assert stripe(Background(tmp_path / "plate.png", 72, 54)) == pytest.approx(1 / 3, abs=0.03)


@pytest.mark.parametrize("suffix", [".hdr", ".exr"])
def test_linear_hdr_plate_is_shown_as_a_compositor_would(tmp_path, suffix):
    import cv2

    from relight_video import io

    linear = np.zeros((20, 30, 3), np.float32)
    linear[:, :10] = 0.5  # mid grey: sRGB 188
    linear[:, 10:20] = 4.0  # a bright sky: clips to white
    linear[:, 20:, 0] = 0.18  # 18 % red only: sRGB 118, 0, 0
    path = tmp_path / f"plate{suffix}"
    if suffix == ".exr":
        import OpenEXR  # a dependency of the project

        with OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION}, {"RGB": linear}) as f:
            f.write(str(path))
    else:
        assert cv2.imwrite(str(path), linear[..., ::-1])
    plate = next(Background(path, 30, 20).frames())
    assert plate.dtype == np.uint8 and plate.shape == (20, 30, 3)
    np.testing.assert_allclose(plate[5, 5], [188] * 3, atol=2)
    np.testing.assert_array_equal(plate[5, 15], [255] * 3)
    np.testing.assert_allclose(plate[5, 25], [118, 0, 0], atol=2)
    assert io.read_image(path).shape == (20, 30, 3)


def test_anamorphic_plate_clip_is_fitted_as_displayed(tmp_path):
    # a 32x64 clip stored with 2:1 pixels is a 64x64 picture: a disc drawn squeezed in half
    yy, xx = np.mgrid[0:64, 0:32]
    disc = (((xx - 16) * 2) ** 2 + (yy - 32) ** 2 < 28**2).astype(np.uint8) * 255
    frames = [np.repeat(disc[..., None], 3, 2)] * 3
    write_clip(tmp_path / "plate.mp4", frames, sar=Fraction(2), audio=False)
    plate = next(Background(tmp_path / "plate.mp4", 64, 64).frames())  # square output
    ys, xs = np.nonzero(plate[..., 0] > 127)
    width, height = np.ptp(xs) + 1, np.ptp(ys) + 1
    assert abs(width - height) <= 3, (width, height)  # round again, not 2:1 tall and cropped
