"""Person matte for clips without a green screen (``--matte person``).

The segmenter is MediaPipe Selfie Segmentation (Google), a ~250 kB TFLite network that gives a
per-pixel person probability at 256x256 (general model) or 144x256 (landscape model). It runs
on the CPU through the LiteRT interpreter (``ai-edge-litert``, the ``[matte]`` extra); the
``mediapipe`` package itself is not needed at run time (it pins ``numpy<2``).

Model file and licence: ``selfie_segmentation.tflite`` ships inside the ``mediapipe==0.10.21``
wheel on PyPI (``mediapipe/modules/selfie_segmentation/``), the last release that bundles it.
That wheel, the model included, is licensed Apache-2.0 (its ``LICENSE`` file); the model card
is "MediaPipe Selfie Segmentation" by Google. Nothing is downloaded at run time: the model is
installed once by :func:`install_model` (``relight-video fetch-matte-model``), which runs
``pip download mediapipe==0.10.21 --no-deps`` into a temporary folder, keeps only the two
``.tflite`` files and the licence, and checks their SHA-256 against :data:`MODEL_SHA256`.

Lookup order (:func:`find_model`): the ``model_path`` argument, then ``$RELIGHT_MATTE_MODEL``,
then the user data dir (``$XDG_DATA_HOME/relight-video``, default
``~/.local/share/relight-video``), then an installed ``mediapipe`` package. A path that is given
but missing, or no model anywhere, is an :class:`~relight_video.errors.InputError`.

Per frame (:class:`PersonMatte`): stretch the frame to the model input (as MediaPipe's
``ImageToTensorCalculator`` does for this graph: no aspect-ratio padding, RGB float in [0, 1]),
run the network (its single output channel is already a sigmoid person probability), smooth that
low-res probability over time with an exponential moving average, then upsample it to the
frame's resolution with a fast guided filter on the grey frame so the edge follows the image.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import math
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from relight_video.errors import InputError

MODEL_NAME = "selfie_segmentation.tflite"
LANDSCAPE_MODEL_NAME = "selfie_segmentation_landscape.tflite"
MEDIAPIPE_VERSION = "0.10.21"
ENV_VAR = "RELIGHT_MATTE_MODEL"
INSTALL_COMMAND = "relight-video fetch-matte-model"
# The files inside the mediapipe 0.10.21 wheel; a different hash means the registry content changed.
MODEL_SHA256 = {
    MODEL_NAME: "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
    LANDSCAPE_MODEL_NAME: "a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd",
}
_WHEEL_MODEL_DIR = "mediapipe/modules/selfie_segmentation"
_WHEEL_LICENSE = f"mediapipe-{MEDIAPIPE_VERSION}.dist-info/LICENSE"
# Any platform's wheel holds the same .tflite files; pinning one makes the download work from any
# Python version (0.10.21 has no wheels for 3.13+).
_WHEEL_TARGET = [
    "--platform",
    "manylinux_2_28_x86_64",
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
    "--abi",
    "cp311",
]


# LiteRT's C++ logger prints this to file descriptor 2 on every load, even under -q
_XNNPACK_NOTE = "INFO: Created TensorFlow Lite XNNPACK delegate"


@contextlib.contextmanager
def _native_stderr_without(prefix: str):
    """Catch what native code writes to file descriptor 2 meanwhile and pass it on to
    ``sys.stderr``, less the lines starting with ``prefix`` (warnings and errors still show)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            for line in caught.read().decode(errors="replace").splitlines():
                if not line.startswith(prefix):
                    print(line, file=sys.stderr)


def user_model_dir() -> Path:
    """Where :func:`install_model` puts the model: ``$XDG_DATA_HOME/relight-video``.

    ``XDG_DATA_HOME`` defaults to ``~/.local/share``; a relative value is ignored, as the XDG
    Base Directory spec asks.
    """
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "relight-video"


def _mediapipe_model() -> Path | None:
    """The model inside an installed ``mediapipe`` package, found without importing it."""
    try:
        spec = importlib.util.find_spec("mediapipe")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root) / "modules" / "selfie_segmentation" / MODEL_NAME
        if path.is_file():
            return path
    return None


def find_model(model_path: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the segmenter's ``.tflite`` file.

    Order: ``model_path`` → ``$RELIGHT_MATTE_MODEL`` → :func:`user_model_dir` → an installed
    ``mediapipe`` package. An explicit path (argument or env var) must exist; it is never
    silently replaced by another model.

    Raises:
        InputError: the explicit path does not exist, or no model was found anywhere; the
            message says how to install it.
    """
    for given, source in ((model_path, "matte model"), (os.environ.get(ENV_VAR), f"${ENV_VAR}")):
        if given:
            path = Path(given).expanduser()
            if not path.is_file():
                raise InputError(
                    f"{source} {str(path)!r} does not exist; install the default model with "
                    f"`{INSTALL_COMMAND}` or point to a selfie_segmentation .tflite file"
                )
            return path
    installed = user_model_dir() / MODEL_NAME
    if installed.is_file():
        return installed
    bundled = _mediapipe_model()
    if bundled is not None:
        return bundled
    raise InputError(
        f"person-matte model not found (looked in ${ENV_VAR}, {installed}, an installed "
        f"mediapipe); install it once with `{INSTALL_COMMAND}` (pip-downloads "
        f"mediapipe=={MEDIAPIPE_VERSION} and keeps only {MODEL_NAME}, Apache-2.0), "
        f"or pass --matte-model PATH"
    )


def _download_wheel(dest: Path) -> Path:
    """``pip download mediapipe==0.10.21 --no-deps`` into ``dest``; returns the wheel's path."""
    cmd = [sys.executable, "-m", "pip", "download", f"mediapipe=={MEDIAPIPE_VERSION}"]
    cmd += ["--no-deps", "--only-binary=:all:", *_WHEEL_TARGET, "--dest", str(dest)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(dest.glob(f"mediapipe-{MEDIAPIPE_VERSION}-*.whl"))
    if result.returncode != 0 or not wheels:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise InputError(f"`{' '.join(cmd[2:])}` failed: {last[0]}")
    return wheels[0]


def install_model(dest_dir: Path | None = None, wheel: Path | None = None) -> Path:
    """Install the selfie-segmentation models from the ``mediapipe==0.10.21`` wheel.

    Args:
        dest_dir: target folder; default :func:`user_model_dir`.
        wheel: an already downloaded mediapipe 0.10.21 wheel (offline installs); default: pip
            downloads it into a temporary folder that is deleted afterwards.

    Returns:
        The path of the installed general model (``selfie_segmentation.tflite``); the landscape
        model and the wheel's ``LICENSE`` (as ``selfie_segmentation.LICENSE``) lie beside it.

    Raises:
        InputError: the download failed, the wheel lacks the files, or a hash does not match.
    """
    dest_dir = Path(dest_dir) if dest_dir is not None else user_model_dir()
    with tempfile.TemporaryDirectory(prefix="relight-matte-") as tmp:
        # 1. get the wheel
        wheel = Path(wheel) if wheel is not None else _download_wheel(Path(tmp))
        if not wheel.is_file():
            raise InputError(f"wheel {str(wheel)!r} does not exist")
        # 2. read the model files and the licence, checking their hashes
        members = {name: f"{_WHEEL_MODEL_DIR}/{name}" for name in MODEL_SHA256}
        members["selfie_segmentation.LICENSE"] = _WHEEL_LICENSE
        contents: dict[str, bytes] = {}
        try:
            with zipfile.ZipFile(wheel) as zf:
                for name, member in members.items():
                    contents[name] = zf.read(member)
        except (KeyError, zipfile.BadZipFile) as exc:
            raise InputError(
                f"{wheel} is not a mediapipe {MEDIAPIPE_VERSION} wheel: {exc}"
            ) from exc
        for name, digest in MODEL_SHA256.items():
            if hashlib.sha256(contents[name]).hexdigest() != digest:
                raise InputError(f"{name} in {wheel} does not have the expected SHA-256 {digest}")
        # 3. write each file under a temporary name and rename it when complete
        dest_dir.mkdir(parents=True, exist_ok=True)
        for name, data in contents.items():
            part = dest_dir / f".{name}.part"
            part.write_bytes(data)
            part.replace(dest_dir / name)
    return dest_dir / MODEL_NAME


def _shrink(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-average ``image`` down to ``size = (width, height)`` (bilinear where it grows).

    ``cv2.INTER_AREA`` is fast only for integer factors, so the largest integer factor that
    divides both sides (and stays at or above ``size``) is taken first; both steps are exact
    box averages, so the geometry is unchanged.
    """
    import cv2

    height, width = image.shape[:2]
    limit = min(width // size[0], height // size[1])
    divisor = math.gcd(width, height)
    factor = max((k for k in range(1, limit + 1) if divisor % k == 0), default=1)
    if factor > 1:
        image = cv2.resize(image, (width // factor, height // factor), interpolation=cv2.INTER_AREA)
    if image.shape[1::-1] != size:
        shrinking = image.shape[1] >= size[0] and image.shape[0] >= size[1]
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        image = cv2.resize(image, size, interpolation=interpolation)
    return image


def _box(x: np.ndarray, r: int) -> np.ndarray:
    """Mean over a ``(2r+1)^2`` window, ``(h, w) float32``, reflected borders."""
    import cv2

    return cv2.blur(x, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def guided_upsample(
    prob: np.ndarray, grey: np.ndarray, radius: int = 4, eps: float = 1e-3, work_size: int = 512
) -> np.ndarray:
    """Upsample a coarse probability map to the guide's resolution, following the guide's edges.

    The fast guided filter (He and Sun, "Fast Guided Filter", arXiv:1505.00996, 2015): the
    linear coefficients ``a, b`` of the guided filter (He, Sun and Tang, "Guided Image
    Filtering", ECCV 2010, Algorithm 1) are fitted on a grid whose long side is ``work_size``,
    bilinearly upsampled, and applied as ``q = a * I + b`` on the full-resolution guide.

    Args:
        prob: ``(h, w) float32 in [0, 1]``, any coarse resolution.
        grey: ``(H, W) uint8`` guide image.
        radius: window radius on the ``work_size`` grid (about ``radius * H / work_size`` pixels
            at full resolution).
        eps: regularisation, in units of the guide's variance with the guide in [0, 1]; smaller
            follows image edges more closely.
        work_size: long side of the grid the coefficients are fitted on (capped at the frame).

    Returns:
        ``(H, W) float32 in [0, 1]``.
    """
    import cv2

    height, width = grey.shape
    scale = min(1.0, work_size / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # 1. guide and input on the working grid
    guide = _shrink(grey, size).astype(np.float32) * (1.0 / 255.0)
    p = cv2.resize(prob.astype(np.float32, copy=False), size, interpolation=cv2.INTER_LINEAR)
    # 2. guided-filter coefficients (He et al. 2010, Alg. 1)
    mean_i = _box(guide, radius)
    mean_p = _box(p, radius)
    var_i = _box(guide * guide, radius) - mean_i * mean_i
    cov_ip = _box(guide * p, radius) - mean_i * mean_p
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    mean_a = _box(a, radius)
    mean_b = _box(b, radius)
    # 3. apply at full resolution; a is divided by 255 so the uint8 guide is used directly
    mean_a = cv2.resize(mean_a * (1.0 / 255.0), (width, height), interpolation=cv2.INTER_LINEAR)
    mean_b = cv2.resize(mean_b, (width, height), interpolation=cv2.INTER_LINEAR)
    out = cv2.multiply(mean_a, grey, dtype=cv2.CV_32F)
    cv2.add(out, mean_b, dst=out)
    return np.clip(out, 0.0, 1.0, out=out)


class PersonMatte:
    """Per-frame person alpha from MediaPipe Selfie Segmentation, stable over time.

    Call it on the frames of one clip in order; call :meth:`reset` before a new clip.

    Args:
        model_path: a selfie-segmentation ``.tflite`` file; ``None`` uses :func:`find_model`.
        smooth: weight of the previous frame in the exponential moving average of the low-res
            probability, ``s_t = (1 - smooth) * p_t + smooth * s_{t-1}`` (simple exponential
            smoothing, R. G. Brown, 1956), in ``[0, 1)``; 0 turns it off. Higher is steadier but
            lags behind fast motion by about ``smooth / (1 - smooth)`` frames.
        threads: CPU threads for the interpreter. One by default: the matte runs on the
            prefetch thread beside the diffusion engine's PyTorch threads, and two more spinning
            threads on a 2-core machine slowed `run --matte person` from 16.6 to 0.4 fps.

    Raises:
        InputError: the LiteRT runtime is not installed, or the model is missing or unusable.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        smooth: float = 0.6,
        threads: int = 1,
    ) -> None:
        if not 0.0 <= smooth < 1.0:
            raise ValueError(f"smooth must be in [0, 1), got {smooth}")
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise InputError(
                "--matte person needs the LiteRT runtime: pip install 'relight-video[matte]'"
            ) from exc
        self.model_path = find_model(model_path)
        self.smooth = float(smooth)
        try:
            self._interpreter = Interpreter(model_path=str(self.model_path), num_threads=threads)
            with _native_stderr_without(_XNNPACK_NOTE):
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise InputError(f"cannot load matte model {self.model_path}: {exc}") from exc
        (inp,) = self._interpreter.get_input_details()
        (out,) = self._interpreter.get_output_details()
        if (
            inp["dtype"] != np.float32
            or len(inp["shape"]) != 4
            or inp["shape"][3] != 3
            or tuple(out["shape"][:3]) != tuple(inp["shape"][:3])
            or out["shape"][3] != 1
        ):
            raise InputError(
                f"{self.model_path} is not a selfie-segmentation model: expected float32 input "
                f"(1, h, w, 3) and output (1, h, w, 1), got {inp['shape']} -> {out['shape']}"
            )
        self._input_index = inp["index"]
        self._output_index = out["index"]
        # (height, width) of the model input: 256x256 general, 144x256 landscape
        self.input_size: tuple[int, int] = (int(inp["shape"][1]), int(inp["shape"][2]))
        self._state: np.ndarray | None = None
        self._frame_shape: tuple[int, ...] | None = None

    def reset(self) -> None:
        """Forget the temporal state; call before the first frame of a new clip."""
        self._state = None
        self._frame_shape = None

    def check_inputs(self, frame: np.ndarray) -> None:
        """Raise ``ValueError`` unless ``frame`` is an ``(H, W, 3) uint8`` RGB array."""
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
            raise ValueError(f"frame must be a uint8 numpy array, got {type(frame).__name__}")
        if frame.ndim != 3 or frame.shape[2] != 3 or min(frame.shape[:2]) < 1:
            raise ValueError(f"frame must have shape (H, W, 3) RGB, got {frame.shape}")

    def probability(self, frame: np.ndarray) -> np.ndarray:
        """The network's person probability, ``(h, w) float32 in [0, 1]`` at the model's size.

        Args:
            frame: ``(H, W, 3) uint8`` RGB.
        """
        h, w = self.input_size
        x = _shrink(frame, (w, h))
        x = x.astype(np.float32)[None] * (1.0 / 255.0)
        self._interpreter.set_tensor(self._input_index, x)
        self._interpreter.invoke()
        prob = self._interpreter.get_tensor(self._output_index)[0, :, :, 0]
        return np.clip(prob, 0.0, 1.0)

    def temporal_smooth(self, prob: np.ndarray) -> np.ndarray:
        """Exponential moving average of the low-res probability across calls, ``(h, w)``."""
        if self._state is None or self.smooth == 0.0:
            self._state = prob
        else:
            self._state = (1.0 - self.smooth) * prob + self.smooth * self._state
        return self._state

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """Alpha of the person(s) in one frame.

        Args:
            frame: ``(H, W, 3) uint8`` RGB, the next frame of the current clip.

        Returns:
            ``(H, W) float32 in [0, 1]``, 1 on the person.
        """
        import cv2

        # 1. check inputs; a new frame size starts a new clip
        self.check_inputs(frame)
        if frame.shape != self._frame_shape:
            self.reset()
            self._frame_shape = frame.shape
        # 2. segment at the model's resolution
        prob = self.probability(frame)
        # 3. smooth over time
        prob = self.temporal_smooth(prob)
        # 4. upsample to the frame, edge-aware
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        return guided_upsample(prob, grey)
