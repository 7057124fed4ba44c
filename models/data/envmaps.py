"""HDR environment maps: procedural or captured scenes, equirectangular maps, light-stage weights.

An :class:`Environment` is a scene (:mod:`~models.data.scene_outdoor`,
:mod:`~models.data.scene_room`, or a captured HDRI) turned by ``yaw`` about +y, scaled by
``exposure`` and multiplied by an RGB ``tint``; it gives radiance in any direction
(:meth:`Environment.radiance`, for perspective views) and equirectangular maps
(:func:`to_equirect`, ``(H, 2H, 3)`` float32 linear, convention of :mod:`models.data.sphere`).

Light-stage weights (:func:`light_weights`) integrate a map over the Voronoi cell of each light
direction on the sphere, ``w_l = Σ_{pixels p nearest to ω_l} L(p) · Ω(p)``, so that relighting is
``Σ_l w_l · OLAT_l`` — the linear combination a light stage performs (Debevec et al., "Acquiring
the reflectance field of a human face", SIGGRAPH 2000).

Captured HDRIs: Blender's studio-light worlds (CC0, Poly Haven), looked for in
:data:`BLENDER_HDRI_DIR`, read with the ``OpenEXR`` package when it is installed, else OpenCV
(with ``OPENCV_IO_ENABLE_OPENEXR=1``) when its build has OpenEXR; everything works without them.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.data.scene_base import EnvScene, Source, draw_sources
from models.data.sphere import (
    dirs_to_pixels,
    equirect_directions,
    pixel_solid_angles,
    yaw_matrix,
)
from relight_video.envmap import (  # noqa: F401  (re-exported for the light stage)
    _cv2_exr,
    exr_available,
    load_env,
    log_encode,
    rotate_env,
)

BLENDER_HDRI_DIR = Path("/usr/share/blender/datafiles/studiolights/world")
ENV_KINDS = ("outdoor", "indoor", "studio", "hdri")


# ------------------------------------------------------------------------------ HDRI scene


@dataclass
class HdriScene:
    """A captured equirectangular HDRI ``(H, 2H, 3)`` float32 used as a scene (bilinear lookup;
    read in the convention of :mod:`models.data.sphere`)."""

    image: np.ndarray
    name: str = "hdri"
    kind: str = "hdri"

    def radiance(self, d: np.ndarray, pix: float = 0.0) -> np.ndarray:
        return sample_equirect(self.image, np.asarray(d, np.float32).reshape(-1, 3))

    def sources(self) -> list[Source]:
        return []

    def describe(self) -> dict:
        return {"name": self.name, "height": int(self.image.shape[0])}


def sample_equirect(env: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Bilinear lookup of ``env (H, 2H, 3)`` along unit directions ``d (N, 3)`` → ``(N, 3)``
    (columns wrap around; rows clamp at the poles)."""
    h, w = env.shape[:2]
    row, col = dirs_to_pixels(d, h)
    row = np.clip(row, 0, h - 1)
    r0 = np.floor(row).astype(np.int64)
    c0 = np.floor(col).astype(np.int64)
    fr, fc = (row - r0)[:, None], (col - c0)[:, None]
    r1 = np.minimum(r0 + 1, h - 1)
    c0w, c1w = c0 % w, (c0 + 1) % w
    top = env[r0, c0w] * (1 - fc) + env[r0, c1w] * fc
    bot = env[r1, c0w] * (1 - fc) + env[r1, c1w] * fc
    return (top * (1 - fr) + bot * fr).astype(np.float32)


# ------------------------------------------------------------------------------ environment


@dataclass
class Environment:
    """A scene with a yaw (degrees; φ → φ + yaw, see :func:`models.data.sphere.yaw_matrix`), an
    exposure (linear scale) and a tint (linear RGB multiplier)."""

    scene: EnvScene
    yaw: float = 0.0
    exposure: float = 1.0
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)

    @property
    def kind(self) -> str:
        return self.scene.kind

    def _gain(self) -> np.ndarray:
        return np.asarray(self.tint, np.float32) * np.float32(self.exposure)

    def radiance(self, d: np.ndarray, pix: float = 0.0, with_sources: bool = True) -> np.ndarray:
        """Radiance ``(N, 3)`` along world directions ``d (N, 3)``, sources drawn as discs."""
        d = np.asarray(d, np.float32).reshape(-1, 3)
        local = d @ yaw_matrix(self.yaw)  # R⁻¹ d for each row: the scene's own frame
        out = self.scene.radiance(local, pix)
        if with_sources:
            out = out + draw_sources(local, self.scene.sources(), pix)
        return out * self._gain()[None]

    def sources(self) -> list[Source]:
        """The scene's sources in world directions, with this environment's gain."""
        r, g = yaw_matrix(self.yaw), self._gain()
        return [
            Source(
                tuple(map(float, r @ np.asarray(s.direction, np.float32))),
                tuple(map(float, np.asarray(s.irradiance) * g)),
                s.radius,
            )
            for s in self.scene.sources()
        ]

    def rotated(self, yaw_deg: float) -> Environment:
        return dataclasses.replace(self, yaw=self.yaw + float(yaw_deg))

    def scaled(self, factor: float) -> Environment:
        return dataclasses.replace(self, exposure=self.exposure * float(factor))

    def tinted(self, rgb) -> Environment:
        t = np.asarray(self.tint) * np.asarray(rgb, np.float64)
        return dataclasses.replace(self, tint=tuple(float(c) for c in t))

    def describe(self) -> dict:
        return {
            "kind": self.kind,
            "yaw": self.yaw,
            "exposure": self.exposure,
            "tint": list(self.tint),
            "scene": self.scene.describe(),
        }


def to_equirect(env: Environment, height: int = 64, supersample: int = 3) -> np.ndarray:
    """Render ``env`` as an equirectangular map ``(H, 2H, 3)`` float32 linear.

    Extended parts are box-filtered from ``supersample²`` directions per pixel; small sources are
    splatted so that each keeps its exact energy: ``Σ_p L(p) Ω(p) = E``.
    """
    if height < 2:
        raise ValueError(f"height must be >= 2, got {height}")
    if isinstance(env.scene, HdriScene):
        return _hdri_equirect(env, height)
    s = supersample
    d = equirect_directions(height, s).reshape(-1, 3)
    pix = np.pi / (height * s)
    rad = env.radiance(d, pix, with_sources=False).reshape(height, s, 2 * height, s, 3)
    # solid-angle weighted box filter within each pixel
    om = pixel_solid_angles(height * s).reshape(height, s)
    wts = om / om.sum(1, keepdims=True)
    out = (rad.mean(3) * wts[:, :, None, None]).sum(1)
    for src in env.sources():
        _splat(out, src)
    return out.astype(np.float32)


def _hdri_equirect(env: Environment, height: int) -> np.ndarray:
    import cv2

    img = env.scene.image
    if img.shape[0] != height:
        interp = cv2.INTER_AREA if img.shape[0] > height else cv2.INTER_LINEAR
        img = cv2.resize(img, (2 * height, height), interpolation=interp)
    return rotate_env(img, env.yaw) * env._gain()[None, None]


def _splat(env: np.ndarray, src: Source) -> None:
    """Add a source's irradiance to ``env`` (in place) over the pixels it covers, at least a
    pixel wide, normalised so the map's integral grows by exactly ``src.irradiance``."""
    h = env.shape[0]
    d = equirect_directions(h)
    ang = np.arccos(np.clip(d @ np.asarray(src.direction, np.float32), -1, 1))
    width = max(src.radius, 1.2 * np.pi / h)
    k = np.clip(1 - (ang / width) ** 2, 0, None)
    om = pixel_solid_angles(h)[:, None]
    norm = float((k * om).sum())
    if norm <= 0:
        k = (ang == ang.min()).astype(np.float32)
        norm = float((k * om).sum())
    env += (k / norm)[..., None] * np.asarray(src.irradiance, np.float32)[None, None]


# ------------------------------------------------------------------------------ map operations


@functools.lru_cache(maxsize=32)
def _cells(height: int, dirs_bytes: bytes) -> np.ndarray:
    dirs = np.frombuffer(dirs_bytes, np.float32).reshape(-1, 3)
    d = equirect_directions(height).reshape(-1, 3)
    return np.argmax(d @ dirs.T, axis=1)


def voronoi_cells(height: int, light_dirs: np.ndarray) -> np.ndarray:
    """Index of the nearest light direction for every pixel of an ``(H, 2H)`` map → ``(H, 2H)``
    int64 (nearest = largest dot product)."""
    dirs = np.ascontiguousarray(light_dirs, np.float32)
    return _cells(height, dirs.tobytes()).reshape(height, 2 * height)


def light_weights(env: np.ndarray, light_dirs: np.ndarray) -> np.ndarray:
    """Per-light RGB weights ``(L, 3)`` float32: the map ``env (H, 2H, 3)`` integrated
    (solid-angle weighted) over the Voronoi cell of each direction in ``light_dirs (L, 3)``.

    ``Σ_l w_l = ∫ L(ω) dω`` exactly; a uniform map of radiance 1 gives ``w_l ≈ 4π/L``.
    """
    env = np.asarray(env, np.float32)
    h = env.shape[0]
    if env.ndim != 3 or env.shape[1] != 2 * h:
        raise ValueError(f"env must be (H, 2H, C), got {env.shape}")
    cells = voronoi_cells(h, light_dirs).ravel()
    om = np.repeat(pixel_solid_angles(h), 2 * h)
    flat = env.reshape(-1, env.shape[2]).astype(np.float64) * om[:, None]
    n = len(light_dirs)
    out = np.stack([np.bincount(cells, flat[:, c], minlength=n) for c in range(env.shape[2])], 1)
    return out.astype(np.float32)


def env_integral(env: np.ndarray) -> np.ndarray:
    """``∫ L(ω) dω`` of a map ``(H, 2H, C)`` → ``(C,)`` float64."""
    om = pixel_solid_angles(env.shape[0])
    return (env.astype(np.float64) * om[:, None, None]).sum((0, 1))


# ------------------------------------------------------------------------------ files


def save_env(path: str | Path, env: np.ndarray) -> None:
    """Write a map ``(H, W, 3)`` float32 linear RGB as ``.npy``, ``.hdr`` (Radiance RGBE) or
    ``.exr``, atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    env = np.ascontiguousarray(env, np.float32)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}{path.suffix}")
    try:
        if suffix == ".npy":
            with open(tmp, "wb") as f:
                np.save(f, env)
        elif suffix == ".hdr":
            import cv2

            ok, buf = cv2.imencode(".hdr", env[..., ::-1].copy())
            if not ok:
                raise ValueError(f"cannot encode {path}")
            tmp.write_bytes(buf.tobytes())
        elif suffix == ".exr":
            _write_exr(tmp, env)
        else:
            raise ValueError(f"unsupported environment map type {suffix!r} (.npy, .hdr, .exr)")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_exr(path: Path, env: np.ndarray) -> None:
    try:
        import OpenEXR

        header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
        with OpenEXR.File(header, {"RGB": env}) as f:
            f.write(str(path))
        return
    except ImportError:
        pass
    if not _cv2_exr():
        raise ValueError("writing .exr needs the 'openexr' package or OpenCV with OpenEXR")
    import cv2

    ok, buf = cv2.imencode(".exr", env[..., ::-1].copy())
    if not ok:
        raise ValueError(f"cannot encode {path}")
    path.write_bytes(buf.tobytes())


# ------------------------------------------------------------------------------ sampling


def find_hdris(folder: str | Path | None = None) -> list[Path]:
    """Captured HDRIs (``*.exr``, ``*.hdr``) in ``folder`` (default: Blender's studio-light
    worlds) that can be read here; empty when there are none."""
    folder = Path(folder) if folder is not None else BLENDER_HDRI_DIR
    if not folder.is_dir():
        return []
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".exr", ".hdr"))
    if not exr_available():
        files = [p for p in files if p.suffix.lower() != ".exr"]
    return files


@functools.lru_cache(maxsize=16)
def load_hdri(path: str | Path, max_height: int = 256) -> HdriScene:
    """An HDRI as a scene, downsampled (area filter) to at most ``max_height`` rows."""
    import cv2

    img = load_env(path)
    if img.shape[0] > max_height:
        img = cv2.resize(img, (2 * max_height, max_height), interpolation=cv2.INTER_AREA)
    img = np.nan_to_num(np.clip(img, 0, 6e4)).astype(np.float32)
    return HdriScene(img, name=Path(path).stem)


def sample_environment(
    rng: np.random.Generator,
    kinds: tuple[str, ...] = ENV_KINDS,
    probs: tuple[float, ...] | None = None,
    hdris: list[Path] | None = None,
) -> Environment:
    """Draw an environment: kind (outdoor, indoor, studio, hdri — ``hdri`` only when HDRIs are
    found), random yaw, an exposure of ±1 stop around 1 and, for HDRIs, a mild tint."""
    from models.data.colour import random_tint
    from models.data.scene_outdoor import sample_outdoor
    from models.data.scene_room import sample_room

    hdris = find_hdris() if hdris is None else hdris
    base = {"outdoor": 0.45, "indoor": 0.3, "studio": 0.15, "hdri": 0.1}
    avail = [k for k in kinds if k != "hdri" or hdris]
    if not avail:
        raise ValueError(f"no environment kind available from {kinds}")
    p = np.array([base.get(k, 0.1) if probs is None else probs[kinds.index(k)] for k in avail])
    kind = str(rng.choice(avail, p=p / p.sum()))
    tint = (1.0, 1.0, 1.0)
    if kind == "outdoor":
        scene = sample_outdoor(rng)
    elif kind in ("indoor", "studio"):
        scene = sample_room(rng, kind)
    else:
        scene = load_hdri(hdris[int(rng.integers(len(hdris)))])
        tint = tuple(float(c) for c in random_tint(rng, strength=0.3))
    return Environment(
        scene,
        yaw=float(rng.uniform(-180, 180)),
        exposure=float(2 ** rng.uniform(-1, 1)),
        tint=tint,
    )
