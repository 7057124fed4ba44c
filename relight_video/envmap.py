"""HDR environment maps for the product: read, turn, expose, encode for the env-map branch, and
view as a background plate.

Maps are equirectangular ``(H, 2H, 3)`` float32 scene-linear RGB. Convention (shared with the
virtual light stage, :mod:`models.data.sphere`): row 0 is straight up; column ``j`` has azimuth
``φ = (j + 0.5)·2π/W − π`` and direction ``(sin φ cos θ, sin θ, −cos φ cos θ)``, so the map's
centre column (φ = 0) looks along −z, *behind* the subject, which is what the camera sees; the
left and right edges (φ = ±π) are behind the camera and light the subject's face.

The camera is the light stage's (:mod:`models.data.tonemap`): exposure ``k`` from the light
reaching a white card that faces the camera (:func:`auto_exposure`), then Narkowicz's ACES filmic
fit ("ACES Filmic Tone Mapping Curve", 2015) and the sRGB encoding.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from relight_video.errors import InputError

KEY = 0.8  # a white card facing the camera maps to this scene-linear value
LOG_MAX = 1000.0  # log_encode's top value (≈ 1.0 after encoding)
REC709_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


# ------------------------------------------------------------------------------ files


def load_env(path: str | Path) -> np.ndarray:
    """Read an RGB ``.exr`` / ``.hdr`` / ``.npy`` map → ``(H, W, 3)`` float32, finite, ≥ 0."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"environment map not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            img = np.load(path).astype(np.float32)
        except ValueError as e:
            raise InputError(f"cannot read {path}: {e}") from None
    elif suffix == ".exr":
        img = _read_exr(path)
    elif suffix == ".hdr":
        import cv2

        raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if raw is None:
            raise InputError(f"cannot read {path}")
        img = np.ascontiguousarray(raw[..., ::-1], np.float32)
    else:
        raise InputError(f"unsupported environment map type {suffix!r} (.npy, .hdr, .exr)")
    if img.ndim != 3 or img.shape[2] != 3:
        raise InputError(f"{path}: expected an RGB map, got shape {img.shape}")
    bad = ~np.isfinite(img)
    if bad.any():  # one +inf pixel would otherwise set the exposure and black out the rest
        count = int(bad.any(-1).sum())
        print(f"note: {path.name}: {count} non-finite pixels set to 0", file=sys.stderr)
        img = np.where(bad, 0, img)
    img = np.clip(img, 0, 6e4).astype(np.float32)
    if not (img > 0).any():
        raise InputError(f"{path}: the map holds no light (every pixel is 0, negative or NaN)")
    return img


def exr_available() -> bool:
    """Whether ``.exr`` files can be read and written here."""
    try:
        import OpenEXR  # noqa: F401

        return True
    except ImportError:
        return _cv2_exr()


def _cv2_exr() -> bool:
    os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
    import cv2

    try:
        ok, _ = cv2.imencode(".exr", np.zeros((2, 2, 3), np.float32))
        return bool(ok)
    except cv2.error:
        return False


def _read_exr(path: Path) -> np.ndarray:
    try:
        import OpenEXR

        try:
            with OpenEXR.File(str(path)) as f:
                ch = f.channels()
                if "RGB" in ch:
                    img = ch["RGB"].pixels
                elif "RGBA" in ch:
                    img = ch["RGBA"].pixels[..., :3]
                elif all(c in ch for c in "RGB"):
                    img = np.stack([ch[c].pixels for c in ("R", "G", "B")], -1)
                elif "Y" in ch:  # a luminance-only map: grey light
                    img = np.repeat(np.asarray(ch["Y"].pixels)[..., None], 3, -1)
                else:
                    raise InputError(
                        f"{path}: no R, G, B (or Y) channels; it has {', '.join(sorted(ch))}"
                    )
        except (OSError, RuntimeError, KeyError) as e:
            raise InputError(f"cannot read {path}: {str(e).splitlines()[0]}") from None
        return np.ascontiguousarray(img, np.float32)
    except ImportError:
        pass
    if not _cv2_exr():
        raise InputError(f"cannot read {path}: install the 'openexr' package")
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputError(f"cannot read {path}")
    return np.ascontiguousarray(img[..., 2::-1], np.float32)


# ------------------------------------------------------------------------------ geometry


def directions(height: int) -> np.ndarray:
    """Unit directions of the pixel centres of an ``(H, 2H)`` map, ``(H, 2H, 3)`` float32."""
    el = np.pi / 2 - (np.arange(height) + 0.5) * np.pi / height
    phi = (np.arange(2 * height) + 0.5) * np.pi / height - np.pi
    el, phi = np.meshgrid(el, phi, indexing="ij")
    c = np.cos(el)
    return np.stack([np.sin(phi) * c, np.sin(el), -np.cos(phi) * c], -1).astype(np.float32)


def solid_angles(height: int) -> np.ndarray:
    """Solid angle (sr) of one pixel in each row of an ``(H, 2H)`` map, ``(H,)`` float64; the
    map's pixels sum to exactly 4π."""
    edges = np.pi / 2 - np.arange(height + 1) * np.pi / height
    return (np.sin(edges[:-1]) - np.sin(edges[1:])) * (np.pi / height)


def rotate_env(env: np.ndarray, yaw_deg: float) -> np.ndarray:
    """Turn a map ``(H, 2H, C)`` about +y: content at azimuth φ moves to φ + yaw.

    A whole number of columns is a roll; fractions blend two rolls linearly, which keeps every
    row's sum (so the map's energy) exactly.
    """
    w = env.shape[1]
    shift = (float(yaw_deg) / 360.0 * w) % w
    i = int(np.floor(shift))
    f = shift - i
    out = np.roll(env, i, axis=1)
    if f > 1e-6:
        out = (1 - f) * out + f * np.roll(env, i + 1, axis=1)
    return out.astype(np.float32)


def resize_env(env: np.ndarray, height: int) -> np.ndarray:
    """Area-resample a map to ``(height, 2·height)`` (energy-preserving on average)."""
    import cv2

    if env.shape[0] == height and env.shape[1] == 2 * height:
        return np.ascontiguousarray(env, np.float32)
    interp = cv2.INTER_AREA if env.shape[0] > height else cv2.INTER_LINEAR
    return cv2.resize(
        np.ascontiguousarray(env, np.float32), (2 * height, height), interpolation=interp
    )


# ------------------------------------------------------------------------------ camera


def auto_exposure(env: np.ndarray, key: float = KEY) -> float:
    """Exposure that maps a white card facing the camera to ``key`` before tone mapping.

    The card's irradiance blends the camera-facing cosine lobe (75 %) and the mean over all
    directions (25 %, so back-lit subjects are not pushed to extremes):
    ``E = 0.75 ∫ L max(ω·z, 0) dω + 0.25 ∫ L dω / 4``; its radiance is ``E/π``. This is the
    light stage's rule evaluated on the map itself.
    """
    small = resize_env(env, min(64, env.shape[0]))
    h = small.shape[0]
    lum = small @ REC709_LUMA
    om = solid_angles(h)[:, None]
    z = directions(h)[..., 2]
    front = float((lum * np.clip(z, 0, None) * om).sum())
    total = float((lum * om).sum())
    e = 0.75 * front + 0.25 * total / 4
    return float(key * np.pi / max(e, 1e-6))


def log_encode(env: np.ndarray, scale: float = 1.0, max_value: float = LOG_MAX) -> np.ndarray:
    """Log encoding for networks: ``log1p(scale·L) / log1p(max_value)`` (≈ [0, 1]), same shape."""
    return (np.log1p(np.maximum(env * scale, 0)) / np.log1p(max_value)).astype(np.float32)


def encode_for_model(
    env: np.ndarray, exposure: float | None = None, size: tuple[int, int] = (32, 64)
) -> np.ndarray:
    """What the env-map branch reads: the map resized to ``size = (h, w)``, exposed like the
    image it lights (default :func:`auto_exposure`) and log-encoded → ``(3, h, w)`` float32."""
    import cv2

    k = auto_exposure(env) if exposure is None else exposure
    h, w = size
    small = cv2.resize(np.ascontiguousarray(env, np.float32), (w, h), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(log_encode(small, scale=k).transpose(2, 0, 1))


def aces(x: np.ndarray) -> np.ndarray:
    """Narkowicz's ACES fit on scene-linear values ≥ 0 → display-linear [0, 1]."""
    x = np.maximum(x, 0.0)
    return np.clip(x * (2.51 * x + 0.03) / (x * (2.43 * x + 0.59) + 0.14), 0.0, 1.0)


def tonemap(linear: np.ndarray, exposure: float = 1.0) -> np.ndarray:
    """Scene-linear ``(..., 3)`` float → display sRGB ``(..., 3)`` float32 in [0, 1]."""
    from relight_video.lighting import linear_to_srgb

    return linear_to_srgb(aces(np.asarray(linear, np.float32) * np.float32(exposure)))


def perspective_view(
    env: np.ndarray,
    width: int,
    height: int,
    fov_deg: float = 60.0,
    pitch_deg: float = 5.0,
    exposure: float | None = None,
) -> np.ndarray:
    """A pinhole view of the map along −z (what stands behind the subject), tone-mapped with
    the subject's exposure → ``(height, width, 3)`` uint8 sRGB: a background plate whose light
    is exactly the map's."""
    import cv2

    k = auto_exposure(env) if exposure is None else exposure
    f = 0.5 * width / np.tan(np.radians(fov_deg) / 2)
    xs = (np.arange(width) + 0.5 - width / 2) / f
    ys = (height / 2 - np.arange(height) - 0.5) / f
    x, y = np.meshgrid(xs, ys)
    p = np.radians(pitch_deg)
    d = np.stack([x, y * np.cos(p) + np.sin(p), y * np.sin(p) - np.cos(p)], -1)
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    h, w = env.shape[:2]
    phi = np.arctan2(d[..., 0], -d[..., 2])
    el = np.arcsin(np.clip(d[..., 1], -1, 1))
    map_x = ((phi + np.pi) / (2 * np.pi) * w - 0.5).astype(np.float32)
    map_y = ((np.pi / 2 - el) / np.pi * h - 0.5).astype(np.float32)
    src = np.ascontiguousarray(env, np.float32)
    view = cv2.remap(src, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    return (np.clip(tonemap(view, k), 0, 1) * 255 + 0.5).astype(np.uint8)
