"""Tests for ``relight_video.person_matte``.

The model tests need the LiteRT runtime (``[matte]`` extra) and the selfie-segmentation model;
they use an installed model (``find_model()``) or, offline, extract it from a mediapipe 0.10.21
wheel already on disk (``$RELIGHT_MEDIAPIPE_WHEEL`` or ``/tmp/mp/*.whl``), and skip otherwise.
Nothing is downloaded.
"""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from relight_video import person_matte
from relight_video.errors import InputError
from relight_video.person_matte import (
    ENV_VAR,
    INSTALL_COMMAND,
    MODEL_NAME,
    MODEL_SHA256,
    find_model,
    guided_upsample,
    install_model,
)

FACE = (slice(90, 190), slice(190, 270))  # rows, cols of the face in skimage's astronaut
TOP_RIGHT = (slice(0, 100), slice(412, 512))  # wall and the shuttle model: background


def _local_wheel() -> Path | None:
    candidates = [os.environ.get("RELIGHT_MEDIAPIPE_WHEEL", "")]
    candidates += sorted(str(p) for p in Path("/tmp/mp").glob("mediapipe-0.10.21-*.whl"))
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


@pytest.fixture(scope="session")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("ai_edge_litert", reason="needs the [matte] extra (ai-edge-litert)")
    try:
        return find_model()
    except InputError:
        pass
    wheel = _local_wheel()
    if wheel is None:
        pytest.skip(
            f"no {MODEL_NAME}: run `{INSTALL_COMMAND}`, set ${ENV_VAR}, "
            "or put a mediapipe 0.10.21 wheel at $RELIGHT_MEDIAPIPE_WHEEL"
        )
    return install_model(dest_dir=tmp_path_factory.mktemp("matte-model"), wheel=wheel)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    data = pytest.importorskip("skimage.data")
    return data.astronaut()  # (512, 512, 3) uint8 RGB portrait


# -- model lookup and install: no runtime or model needed ------------------------------------


@pytest.fixture
def no_installed_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An environment with no model anywhere; returns the XDG data home it points to."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(person_matte, "_mediapipe_model", lambda: None)
    return tmp_path / "xdg"


def test_find_model_lookup_order(
    no_installed_model: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    installed = no_installed_model / "relight-video" / MODEL_NAME
    installed.parent.mkdir(parents=True)
    installed.write_bytes(b"x")
    assert find_model() == installed

    from_env = tmp_path / "env.tflite"
    from_env.write_bytes(b"x")
    monkeypatch.setenv(ENV_VAR, str(from_env))
    assert find_model() == from_env

    from_arg = tmp_path / "arg.tflite"
    from_arg.write_bytes(b"x")
    assert find_model(from_arg) == from_arg


def test_find_model_falls_back_to_mediapipe(
    no_installed_model: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundled = tmp_path / MODEL_NAME
    bundled.write_bytes(b"x")
    monkeypatch.setattr(person_matte, "_mediapipe_model", lambda: bundled)
    assert find_model() == bundled


def test_missing_model_says_how_to_install(no_installed_model: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=INSTALL_COMMAND) as info:
        find_model()
    assert "\n" not in str(info.value)
    # an explicit path that is missing is an error, not a fall-back to another model
    (no_installed_model / "relight-video").mkdir(parents=True)
    (no_installed_model / "relight-video" / MODEL_NAME).write_bytes(b"x")
    with pytest.raises(InputError, match="missing.tflite"):
        find_model(tmp_path / "missing.tflite")


def test_missing_runtime_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    with pytest.raises(InputError, match=r"pip install 'relight-video\[matte\]'"):
        person_matte.PersonMatte()


def test_install_model_rejects_other_wheels(tmp_path: Path) -> None:
    fake = tmp_path / "mediapipe-0.10.21-py3-none-any.whl"
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr("mediapipe/__init__.py", "")
    with pytest.raises(InputError, match="not a mediapipe"):
        install_model(dest_dir=tmp_path / "out", wheel=fake)
    assert not (tmp_path / "out" / MODEL_NAME).exists()


def test_install_model_from_local_wheel(tmp_path: Path) -> None:
    wheel = _local_wheel()
    if wheel is None:
        pytest.skip("no mediapipe 0.10.21 wheel on disk ($RELIGHT_MEDIAPIPE_WHEEL or /tmp/mp)")
    path = install_model(dest_dir=tmp_path, wheel=wheel)
    assert path == tmp_path / MODEL_NAME
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [*MODEL_SHA256, "selfie_segmentation.LICENSE"]
    )
    assert "Apache License" in (tmp_path / "selfie_segmentation.LICENSE").read_text()


# -- guided upsampling: no model needed --------------------------------------------------------


@pytest.mark.parametrize("offset", [0, 3])
def test_guided_upsample_puts_the_edge_on_the_guide_edge(offset: int) -> None:
    # A coarse mask whose boundary is blurred (and here and there a few pixels off, as a
    # 256-px network's is) gets its steepest step moved onto the image edge, and steeper.
    cv2 = pytest.importorskip("cv2")
    size, edge = 256, 101
    grey = np.zeros((size, size), np.uint8)
    grey[:, edge:] = 200
    mask = np.zeros((size, size), np.float32)
    mask[:, edge + offset :] = 1.0
    coarse = cv2.resize(mask, (64, 64), interpolation=cv2.INTER_AREA)

    bilinear = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_LINEAR)
    guided = guided_upsample(coarse, grey, radius=4, eps=1e-3, work_size=size)

    assert guided.shape == (size, size) and guided.dtype == np.float32
    assert guided.min() >= 0.0 and guided.max() <= 1.0
    step_bilinear = np.diff(bilinear, axis=1).mean(axis=0)
    step_guided = np.diff(guided, axis=1).mean(axis=0)
    assert int(step_guided.argmax()) + 1 == edge
    assert int(step_bilinear.argmax()) + 1 != edge
    assert step_guided.max() > 1.3 * step_bilinear.max()


# -- the matte ------------------------------------------------------------------------------


def test_astronaut_face_is_person_and_corner_is_background(
    model_path: Path, astronaut: np.ndarray
) -> None:
    alpha = person_matte.PersonMatte(model_path, smooth=0.0)(astronaut)
    assert alpha.shape == (512, 512) and alpha.dtype == np.float32
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0
    assert alpha[FACE].mean() > 0.8
    assert alpha[TOP_RIGHT].mean() < 0.2


def test_full_resolution_on_a_wide_frame(model_path: Path, astronaut: np.ndarray) -> None:
    # The portrait on the left of a 16:9 frame with a flat grey right side: the matte has the
    # frame's size and finds the face where it was put.
    frame = np.full((512, 910, 3), 128, np.uint8)
    frame[:, :512] = astronaut
    alpha = person_matte.PersonMatte(model_path, smooth=0.0)(frame)
    assert alpha.shape == (512, 910)
    assert alpha[FACE].mean() > 0.8
    assert alpha[:, 600:].mean() < 0.2


def test_temporal_smoothing_reduces_flicker(model_path: Path, astronaut: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    noise = rng.normal(0.0, 25.0, size=(10, *astronaut.shape))
    frames = [np.clip(astronaut + n, 0, 255).astype(np.uint8) for n in noise]

    def flicker(smooth: float) -> float:
        matte = person_matte.PersonMatte(model_path, smooth=smooth)
        alphas = [matte(f) for f in frames]
        return float(np.mean([np.abs(b - a).mean() for a, b in zip(alphas, alphas[1:])]))

    raw, smoothed = flicker(0.0), flicker(0.6)
    assert raw > 0.0
    assert smoothed < 0.7 * raw, (smoothed, raw)


def test_reset_starts_a_new_clip(model_path: Path, astronaut: np.ndarray) -> None:
    other = np.ascontiguousarray(astronaut[:, ::-1])
    matte = person_matte.PersonMatte(model_path, smooth=0.9)
    for _ in range(3):
        matte(astronaut)
    matte.reset()
    fresh = person_matte.PersonMatte(model_path, smooth=0.0)(other)
    np.testing.assert_allclose(matte(other), fresh, atol=1e-6)


def test_bad_inputs(model_path: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing.tflite"):
        person_matte.PersonMatte(tmp_path / "missing.tflite")
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer" * 64)
    with pytest.raises(InputError, match="cannot load"):
        person_matte.PersonMatte(junk)
    with pytest.raises(ValueError, match="smooth"):
        person_matte.PersonMatte(model_path, smooth=1.0)
    matte = person_matte.PersonMatte(model_path)
    with pytest.raises(ValueError, match="uint8"):
        matte(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        matte(np.zeros((8, 8, 4), np.uint8))


def test_loading_prints_no_runtime_notice(model_path: Path, capfd: pytest.CaptureFixture) -> None:
    # LiteRT's C++ logger announces its XNNPACK delegate on fd 2 at every load; `-q` runs
    # must stay silent, and anything else native code writes there must still get through.
    person_matte.PersonMatte(model_path)
    assert "XNNPACK" not in capfd.readouterr().err
    with person_matte._native_stderr_without(person_matte._XNNPACK_NOTE):
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\nreal warning\n")
    err = capfd.readouterr().err
    assert "real warning" in err and "XNNPACK" not in err
