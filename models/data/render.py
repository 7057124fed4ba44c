"""One-light-at-a-time (OLAT) rendering of an SDF scene, as a light stage records it.

The camera is orthographic and looks along −z; pixel ``(i, j)`` of an ``S × S`` image sees the
ray ``x = (j + ½)·2/S − 1``, ``y = 1 − (i + ½)·2/S`` (world units). Per image:

1. sphere tracing (Hart, "Sphere tracing", The Visual Computer 1996) finds the surface once;
   the mask's anti-aliased coverage comes from the distance between the pixel's ray and the
   silhouette: ``clip(½ − s / pixel, 0, 1)`` with ``s`` the smallest SDF value along the ray
   (positive for a ray that passes by, negative for one that goes through), i.e. box-filtered
   coverage of a locally straight edge. A ray that only grazes the subject is shaded at the
   surface point closest to it, so every covered pixel has a colour;
2. normals are SDF gradients (the four-tap tetrahedron stencil, Quilez);
3. for each light direction ω_l (unit irradiance at normal incidence) the pixel radiance is
   ``(ρ/π + f_spec) · max(n·ω_l, 0) · V_l``; the specular BRDF is GGX (Walter et al., EGSR 2007)
   with Schlick's Fresnel and the Schlick–Smith masking ``k = α/2`` (Karis, SIGGRAPH 2013
   course); ``V_l`` is a soft shadow from a shadow ray marched through the SDF with Quilez's
   penumbra estimate ``min_t k·d(t)/t`` ("soft shadows in raymarched SDFs", 2010). ``k`` is set
   from the light count so the penumbra matches the angular size of a light's Voronoi cell
   (≈ ``2/√L`` rad), which makes the stack a pre-filtered light stage.

Relighting under an environment map (:func:`relight`) is the light stage's linear sum
``Σ_l w_l · OLAT_l`` with the map's per-cell integrals ``w_l``
(:func:`models.data.envmaps.light_weights`). No inter-reflections or subsurface scattering.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from models.data.sphere import fibonacci_sphere

RENDER_VERSION = 1


class Scene(Protocol):
    """What the renderer needs from a subject (see :class:`models.data.subjects.Subject`)."""

    subject_id: str

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]: ...

    def sdf(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray: ...

    def material(
        self, x: np.ndarray, y: np.ndarray, z: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]: ...


@dataclass
class OlatStack:
    """A light-stage capture of one subject at ``S × S`` under ``L`` directional lights.

    - ``olat``: ``(L, S, S, 3)`` float32 linear radiance per unit light irradiance (the
      foreground colour, not premultiplied by ``mask``);
    - ``mask``: ``(S, S)`` float32 coverage in [0, 1];
    - ``light_dirs``: ``(L, 3)`` float32 unit vectors towards the lights;
    - ``albedo``, ``normal``: ``(S, S, 3)`` float32 (normal in [−1, 1], zero off the subject);
    - ``depth``: ``(S, S)`` float32 surface z (0 off the subject).
    """

    olat: np.ndarray
    mask: np.ndarray
    light_dirs: np.ndarray
    albedo: np.ndarray
    normal: np.ndarray
    depth: np.ndarray
    subject_id: str = ""

    @property
    def size(self) -> int:
        return self.mask.shape[0]


def render_olat(
    scene: Scene,
    size: int,
    light_dirs: np.ndarray | int = 64,
    *,
    march_steps: int = 128,
    shadow_steps: int = 48,
    penumbra_k: float | None = None,
) -> OlatStack:
    """Render ``scene`` at ``size × size`` under each light of ``light_dirs`` (``(L, 3)`` unit
    vectors, or a count for a Fibonacci sphere) → :class:`OlatStack`."""
    if isinstance(light_dirs, int | np.integer):
        light_dirs = fibonacci_sphere(int(light_dirs))
    light_dirs = np.asarray(light_dirs, np.float32).reshape(-1, 3)
    if size < 4:
        raise ValueError(f"size must be >= 4, got {size}")
    if penumbra_k is None:
        penumbra_k = max(4.0, np.sqrt(max(len(light_dirs), 64)) / 2.0)
    # 1. primary visibility and coverage
    surf = _trace_primary(scene, size, march_steps)
    m = surf.pix.size
    # 2. normals and materials at the shading points
    px, py, pz = surf.points
    normal = _normals(scene, px, py, pz, h=max(0.35 * 2.0 / size, 1e-3))
    albedo, alpha, f0, spec = scene.material(px, py, pz)
    # 3. one image per light
    olat = np.zeros((len(light_dirs), size * size, 3), np.float32)
    if m:
        vals = _shade(
            scene,
            surf.points,
            normal,
            albedo,
            alpha,
            f0,
            spec,
            light_dirs,
            size,
            shadow_steps,
            penumbra_k,
        )
        olat[:, surf.pix] = vals
    mask = np.zeros(size * size, np.float32)
    mask[surf.pix] = surf.coverage
    alb = np.zeros((size * size, 3), np.float32)
    alb[surf.pix] = albedo
    nrm = np.zeros((size * size, 3), np.float32)
    nrm[surf.pix] = normal.T
    depth = np.zeros(size * size, np.float32)
    depth[surf.pix] = pz
    s2 = (size, size)
    return OlatStack(
        olat=olat.reshape(len(light_dirs), size, size, 3),
        mask=mask.reshape(s2),
        light_dirs=light_dirs,
        albedo=alb.reshape(s2 + (3,)),
        normal=nrm.reshape(s2 + (3,)),
        depth=depth.reshape(s2),
        subject_id=getattr(scene, "subject_id", ""),
    )


def relight(olat: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Light-stage relighting: ``Σ_l w_l · OLAT_l``.

    ``olat (L, S, S, 3)``, ``weights (L, 3)`` (per-light RGB irradiance) → ``(S, S, 3)`` float32.
    """
    weights = np.asarray(weights, np.float32)
    if olat.shape[0] != weights.shape[0]:
        raise ValueError(f"{olat.shape[0]} OLAT images but {weights.shape[0]} light weights")
    flat = olat.reshape(olat.shape[0], -1, 3)
    out = np.stack([weights[:, c] @ flat[:, :, c] for c in range(3)], -1)
    return out.reshape(olat.shape[1:]).astype(np.float32)


# --------------------------------------------------------------------------- primary rays


@dataclass
class _Surface:
    pix: np.ndarray  # (M,) flat pixel indices with coverage > 0
    points: tuple[np.ndarray, np.ndarray, np.ndarray]  # shading points, each (M,)
    coverage: np.ndarray  # (M,)


def _trace_primary(scene: Scene, size: int, max_steps: int) -> _Surface:
    lo, hi = scene.bounds
    pix_w = 2.0 / size
    coords = (np.arange(size, dtype=np.float32) + 0.5) * pix_w - 1.0
    gx, gy = np.meshgrid(coords, -coords)
    gx, gy = gx.ravel(), gy.ravel()
    inside = (gx > lo[0]) & (gx < hi[0]) & (gy > lo[1]) & (gy < hi[1])
    idx = np.flatnonzero(inside)
    z0, t_max = float(hi[2]), float(hi[2] - lo[2])
    n = idx.size
    t = np.zeros(n, np.float32)
    dmin = np.full(n, np.inf, np.float32)
    tmin = np.zeros(n, np.float32)
    hit = np.zeros(n, bool)
    act = np.arange(n)
    eps = 0.02 * pix_w
    for _ in range(max_steps):
        if act.size == 0:
            break
        d = scene.sdf(gx[idx[act]], gy[idx[act]], z0 - t[act])
        better = d < dmin[act]
        dmin[act] = np.where(better, d, dmin[act])
        tmin[act] = np.where(better, t[act], tmin[act])
        done = d < eps
        hit[act[done]] = True
        t[act] += 0.9 * np.maximum(d, 0.0)
        act = act[~done & (t[act] < t_max)]
    # unconverged rays (grazing) count as hits when they ended very close
    hit[act[dmin[act] < 0.25 * pix_w]] = True

    # interior depth along hit rays: the most negative SDF a few pixels past the hit
    hi_idx = np.flatnonzero(hit)
    s = dmin.copy()
    if hi_idx.size:
        xs, ys = gx[idx[hi_idx]], gy[idx[hi_idx]]
        deepest = np.zeros(hi_idx.size, np.float32)
        for k in range(1, 7):
            zk = z0 - t[hi_idx] - k * 0.75 * pix_w
            deepest = np.minimum(deepest, scene.sdf(xs, ys, zk))
        s[hi_idx] = deepest
    cov = np.clip(0.5 - s / pix_w, 0.0, 1.0)
    # a hit ray whose four neighbours also hit is not on the silhouette: thin shells (a lock of
    # hair in front of the face) must not read as partial coverage
    grid = np.zeros(size * size, bool)
    grid[idx[hit]] = True
    grid = grid.reshape(size, size)
    pad = np.pad(grid, 1)
    interior = (pad[:-2, 1:-1] & pad[2:, 1:-1] & pad[1:-1, :-2] & pad[1:-1, 2:] & grid).ravel()
    cov[interior[idx]] = 1.0
    keep = cov > 1e-3
    sel = np.flatnonzero(keep)
    px, py = gx[idx[sel]], gy[idx[sel]]
    pz = np.where(hit[sel], z0 - t[sel], z0 - tmin[sel]).astype(np.float32)
    # near misses: project the closest approach onto the surface
    miss = ~hit[sel]
    if miss.any():
        mx, my, mz = px[miss], py[miss], pz[miss]
        g = _normals(scene, mx, my, mz, h=0.25 * pix_w)
        dm = scene.sdf(mx, my, mz)
        px, py, pz = px.copy(), py.copy(), pz.copy()
        px[miss], py[miss], pz[miss] = mx - g[0] * dm, my - g[1] * dm, mz - g[2] * dm
    return _Surface(idx[sel], (px, py, pz), cov[sel].astype(np.float32))


def _normals(scene: Scene, x: np.ndarray, y: np.ndarray, z: np.ndarray, h: float) -> np.ndarray:
    """Unit SDF gradients ``(3, N)`` by the tetrahedron stencil."""
    g = np.zeros((3, x.size), np.float32)
    for kx, ky, kz in ((1, -1, -1), (-1, -1, 1), (-1, 1, -1), (1, 1, 1)):
        d = scene.sdf(x + kx * h, y + ky * h, z + kz * h)
        g[0] += kx * d
        g[1] += ky * d
        g[2] += kz * d
    return g / np.maximum(np.linalg.norm(g, axis=0, keepdims=True), 1e-12)


# ------------------------------------------------------------------------------- shading


def _shade(scene, points, normal, albedo, alpha, f0, spec, dirs, size, steps, k) -> np.ndarray:
    """OLAT radiance ``(L, M, 3)`` at ``M`` shading points for ``L`` lights."""
    px, py, pz = points
    cos = dirs @ normal  # (L, M)
    pl, pm = np.nonzero(cos > 0)
    vis = np.zeros(cos.shape, np.float32)
    vis[pl, pm] = _soft_shadows(scene, points, normal, pm, dirs[pl], size, steps, k)
    nv = np.clip(normal[2], 0.0, 1.0)  # view direction is +z
    cosc = np.maximum(cos, 0.0)
    # GGX / Schlick-Fresnel / Schlick-Smith, multiplied by n·l
    hv = dirs + np.array([0, 0, 1], np.float32)
    hv /= np.linalg.norm(hv, axis=1, keepdims=True)
    nh = np.clip(hv @ normal, 0.0, 1.0)  # (L, M)
    vh = np.clip(hv[:, 2:3], 0.0, 1.0)  # (L, 1)
    a2 = (alpha * alpha)[None]
    dd = a2 / (np.pi * (nh * nh * (a2 - 1) + 1) ** 2)
    fr = f0[None] + (1 - f0[None]) * (1 - vh) ** 5
    kg = (alpha / 2)[None]
    spec_term = spec[None] * dd * fr * cosc / (4 * (cosc * (1 - kg) + kg) * (nv * (1 - kg) + kg))
    out = (albedo.T[None] / np.pi) * cosc[:, None, :] + spec_term[:, None, :]
    out *= vis[:, None, :]  # (L, 3, M)
    return np.ascontiguousarray(out.transpose(0, 2, 1))


def _soft_shadows(scene, points, normal, pm, dirs, size, steps, k) -> np.ndarray:
    """Visibility in [0, 1] for shadow rays from points ``pm`` along ``dirs (K, 3)``."""
    pix_w = 2.0 / size
    px, py, pz = points
    off = 1.0 * pix_w
    ox = px[pm] + normal[0, pm] * off
    oy = py[pm] + normal[1, pm] * off
    oz = pz[pm] + normal[2, pm] * off
    dx, dy, dz = dirs[:, 0], dirs[:, 1], dirs[:, 2]
    t_exit = _box_exit(scene.bounds, ox, oy, oz, dx, dy, dz)
    n = pm.size
    t = np.full(n, 1.5 * pix_w, np.float32)
    res = np.ones(n, np.float32)
    act = np.arange(n)
    min_step, max_step = 0.5 * pix_w, 0.25
    for _ in range(steps):
        if act.size == 0:
            break
        ta = t[act]
        h = scene.sdf(ox[act] + dx[act] * ta, oy[act] + dy[act] * ta, oz[act] + dz[act] * ta)
        ra = np.minimum(res[act], k * h / ta)
        res[act] = ra
        ta = ta + np.clip(h, min_step, max_step)
        t[act] = ta
        act = act[(ra > 1e-3) & (ta < t_exit[act])]
    res = np.clip(res, 0.0, 1.0)
    return res * res * (3 - 2 * res)


def _box_exit(bounds, ox, oy, oz, dx, dy, dz) -> np.ndarray:
    """Distance along each ray to where it leaves the axis-aligned box (slab method)."""
    lo, hi = bounds
    t = np.full(ox.shape, np.inf, np.float32)
    for o, d, a, b in ((ox, dx, lo[0], hi[0]), (oy, dy, lo[1], hi[1]), (oz, dz, lo[2], hi[2])):
        with np.errstate(divide="ignore", invalid="ignore"):
            far = np.where(d > 0, (b - o) / d, np.where(d < 0, (a - o) / d, np.inf))
        t = np.minimum(t, far)
    return np.maximum(t, 0.0)


# --------------------------------------------------------------------------------- cache


def stack_path(cache_dir: str | Path, scene, size: int, n_lights: int) -> Path:
    """Where the stack of ``scene`` (a :class:`~models.data.subjects.Subject`) is cached."""
    key = scene.cache_key() if hasattr(scene, "cache_key") else scene.subject_id
    name = f"{scene.subject_id}-{key}-s{size}-l{n_lights}-v{RENDER_VERSION}.npz"
    return Path(cache_dir) / name


def save_stack(path: str | Path, stack: OlatStack) -> None:
    """Write a stack atomically as ``.npz`` (OLAT images stored as float16)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}.npz")
    try:
        np.savez(
            tmp,
            olat=stack.olat.astype(np.float16),
            mask=stack.mask,
            light_dirs=stack.light_dirs,
            albedo=stack.albedo.astype(np.float16),
            normal=stack.normal.astype(np.float16),
            depth=stack.depth,
            subject_id=np.array(stack.subject_id),
        )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_stack(path: str | Path) -> OlatStack:
    """Read a stack written by :func:`save_stack` (arrays back to float32)."""
    with np.load(path) as z:
        return OlatStack(
            olat=z["olat"].astype(np.float32),
            mask=z["mask"].astype(np.float32),
            light_dirs=z["light_dirs"].astype(np.float32),
            albedo=z["albedo"].astype(np.float32),
            normal=z["normal"].astype(np.float32),
            depth=z["depth"].astype(np.float32),
            subject_id=str(z["subject_id"]),
        )


def cached_olat(scene, size: int, n_lights: int, cache_dir: str | Path | None) -> OlatStack:
    """The OLAT stack of ``scene`` on a Fibonacci sphere of ``n_lights``, from ``cache_dir``
    when it is there (rendered and stored otherwise; no cache when ``cache_dir`` is None).

    Either way the images are rounded to the cache's float16 precision, so results do not
    depend on whether a stack came from the cache.
    """
    if cache_dir is None:
        return _as_stored(render_olat(scene, size, n_lights))
    path = stack_path(cache_dir, scene, size, n_lights)
    if path.is_file():
        try:
            return load_stack(path)
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)  # a corrupt cache entry is rendered again
    stack = _as_stored(render_olat(scene, size, n_lights))
    save_stack(path, stack)
    return stack


def _as_stored(stack: OlatStack) -> OlatStack:
    """The stack as :func:`load_stack` would return it after :func:`save_stack`."""
    for name in ("olat", "albedo", "normal"):
        setattr(stack, name, getattr(stack, name).astype(np.float16).astype(np.float32))
    return stack
