"""Procedural rooms: furnished interiors and photo studios, seen from the subject's head.

A box room (metres) around the subject, who stands somewhere in it, at least a metre from the
walls. Surfaces: floor (wood planks, tiles or carpet, an optional rug), four walls (paint,
baseboard, pictures, bookshelves, a door), ceiling. Emitters: ceiling panels, a window that shows
an :class:`~models.data.scene_outdoor.OutdoorScene` (and lets its sun in), practical lamps
(point :class:`~models.data.scene_base.Source` s with a lampshade radius) and, in studios,
floating softboxes facing the subject and a backdrop spot.

A wall point ``x`` with normal ``n`` has radiance ``ρ(x)/π · E(x)``, where ``E`` sums each
emitter's direct contribution — an area emitter of radiance L and area A as a point with
intensity ``L·A·cos θ_e``, ``E = L·A·cos θ_e·cos θ_x / r²``; a lamp of intensity I,
``E = I·cos θ_x / r²``; the sun through the window where the window lets it reach ``x`` — plus an
ambient term for inter-reflections from the integrating-sphere formula
``E_amb = Φ·ρ̄ / (A_room·(1 − ρ̄))`` (Φ: emitted flux, ρ̄: mean albedo, A_room: surface area).
No shadows between room surfaces.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.data.colour import blackbody_rgb, luminance
from models.data.noise import ValueNoise
from models.data.scene_base import Source
from models.data.scene_outdoor import OutdoorScene, sample_outdoor

# faces: 0 back wall (z = z0, seen by the camera), 1 front wall (z = z1, behind the camera),
# 2 left (x = x0), 3 right (x = x1), 4 floor, 5 ceiling; normals point into the room
_NORMALS = np.array(
    [[0, 0, 1], [0, 0, -1], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0]], np.float32
)
FLOORS = ("wood", "tiles", "carpet")


@dataclass
class Rect:
    """A rectangle on a wall: ``face`` (0–3), horizontal ``u0..u1`` and height ``v0..v1`` (m)."""

    face: int
    u0: float
    u1: float
    v0: float
    v1: float
    kind: str  # window, picture, shelf, door
    colour: tuple[float, float, float] = (0.5, 0.5, 0.5)


@dataclass
class Softbox:
    """A rectangular emitter at ``center`` (m, relative to the head) facing the subject."""

    center: tuple[float, float, float]
    half_size: tuple[float, float]
    radiance: tuple[float, float, float]


@dataclass
class RoomScene:
    seed: int
    style: str  # indoor | studio
    x0: float
    x1: float
    z0: float
    z1: float
    eye_height: float
    ceiling: float
    wall_albedo: list[tuple[float, float, float]]
    floor: str
    floor_albedo: tuple[float, float, float]
    ceiling_albedo: tuple[float, float, float]
    panels: list[tuple[float, float, float, float, tuple[float, float, float]]]
    lamps: list[tuple[tuple[float, float, float], float, tuple[float, float, float]]]
    rects: list[Rect]
    softboxes: list[Softbox] = field(default_factory=list)
    outdoor: OutdoorScene | None = None
    window_transmittance: float = 0.8
    backdrop_spot: float = 0.0
    kind: str = "indoor"

    def __post_init__(self):
        self.kind = self.style
        self._noise = ValueNoise(self.seed)
        self._window = next((r for r in self.rects if r.kind == "window"), None)
        self._window_radiance = self._mean_window_radiance()
        self._sun = self._sun_through_window()
        self._ambient = self._ambient_irradiance()

    # ---------------------------------------------------------------- protocol
    def describe(self) -> dict:
        out = {
            "style": self.style,
            "size_m": [self.x1 - self.x0, self.ceiling, self.z1 - self.z0],
            "floor": self.floor,
            "panels": len(self.panels),
            "lamps": len(self.lamps),
            "softboxes": len(self.softboxes),
            "rects": [r.kind for r in self.rects],
        }
        if self.outdoor is not None:
            out["window_view"] = self.outdoor.describe()
        return out

    def sources(self) -> list[Source]:
        out = []
        for pos, radius, inten in self.lamps:
            p = np.asarray(pos, np.float32)
            r = float(np.linalg.norm(p))
            e = np.asarray(inten) / (r * r)
            out.append(
                Source(
                    tuple(map(float, p / r)),
                    tuple(map(float, e)),
                    float(np.arcsin(min(radius / r, 0.5))),
                )
            )
        if self._sun is not None and self._window_visible(self._sun.direction):
            out.append(self._sun)
        return out

    def radiance(self, d: np.ndarray, pix: float = 0.0) -> np.ndarray:
        d = np.asarray(d, np.float32).reshape(-1, 3)
        t, face = self._hit(d)
        pts = d * t[:, None]
        out = np.zeros((d.shape[0], 3), np.float32)
        for f in range(6):
            sel = np.flatnonzero(face == f)
            if sel.size:
                out[sel] = self._surface(f, pts[sel], d[sel], t[sel], pix)
        for sb in self.softboxes:
            self._draw_softbox(sb, d, t, out)
        return out

    # ---------------------------------------------------------------- geometry
    def _hit(self, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(divide="ignore"):
            tz = np.where(d[:, 2] < 0, self.z0 / d[:, 2], self.z1 / d[:, 2])
            tx = np.where(d[:, 0] < 0, self.x0 / d[:, 0], self.x1 / d[:, 0])
            ty = np.where(
                d[:, 1] < 0, -self.eye_height / d[:, 1], (self.ceiling - self.eye_height) / d[:, 1]
            )
        ts = np.stack([tz, tx, ty], 1)
        ts = np.where(np.isfinite(ts) & (ts > 0), ts, np.inf)
        axis = np.argmin(ts, 1)
        t = ts[np.arange(d.shape[0]), axis]
        face = np.where(
            axis == 0,
            np.where(d[:, 2] < 0, 0, 1),
            np.where(axis == 1, np.where(d[:, 0] < 0, 2, 3), np.where(d[:, 1] < 0, 4, 5)),
        )
        return t.astype(np.float32), face

    def _uv(self, f: int, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Wall coordinates (along the wall, height above the floor) of points on face ``f``."""
        v = p[:, 1] + self.eye_height
        u = {0: p[:, 0], 1: -p[:, 0], 2: -p[:, 2], 3: p[:, 2]}.get(f, p[:, 0])
        if f >= 4:
            v = p[:, 2]
        return u, v

    def _window_visible(self, direction) -> bool:
        w = self._window
        if w is None:
            return False
        d = np.asarray(direction, np.float32)[None]
        t, face = self._hit(d)
        if face[0] != w.face:
            return False
        u, v = self._uv(w.face, d * t[:, None])
        return bool(w.u0 <= u[0] <= w.u1 and w.v0 <= v[0] <= w.v1)

    # ---------------------------------------------------------------- shading
    def _surface(self, f: int, p: np.ndarray, d: np.ndarray, t: np.ndarray, pix: float):
        u, v = self._uv(f, p)
        fw = t * max(pix, 1e-4) / np.maximum(np.abs(d @ _NORMALS[f]), 0.05)
        alb = self._albedo(f, u, v, p, fw)
        rad = alb * self._irradiance(p, _NORMALS[f]) / np.pi
        if f == 5:
            for cx, cz, hx, hz, lum in self.panels:
                inside = (np.abs(p[:, 0] - cx) < hx) & (np.abs(p[:, 2] - cz) < hz)
                rad[inside] = np.asarray(lum, np.float32)
        if f < 4:
            for r in self.rects:
                if r.face != f or r.kind != "window":
                    continue
                inside = (u > r.u0) & (u < r.u1) & (v > r.v0) & (v < r.v1)
                if inside.any():
                    rad[inside] = self._window_view(d[inside], u[inside], v[inside], r)
        return rad

    def _window_view(self, d, u, v, r: Rect) -> np.ndarray:
        view = self.outdoor.radiance(d) * self.window_transmittance
        mu = np.abs(np.mod((u - r.u0) / (r.u1 - r.u0) * 2, 1.0) - 0.5)  # a cross of mullions
        mv = np.abs(np.mod((v - r.v0) / (r.v1 - r.v0) * 2, 1.0) - 0.5)
        frame = (mu > 0.47) | (mv > 0.47)
        inner = 0.03 * float(luminance(self._ambient))
        view[frame] = np.array([0.8, 0.8, 0.78], np.float32) * inner
        return view

    def _albedo(self, f: int, u, v, p, fw) -> np.ndarray:
        n = self._noise
        aa = np.clip(1 - fw / 0.05, 0, 1)
        if f == 4:
            return self._floor_albedo(p[:, 0], p[:, 2], fw)
        if f == 5:
            return (
                np.asarray(self.ceiling_albedo, np.float32)[None]
                * (0.95 + 0.1 * n(p[:, 0] * 2, p[:, 2] * 2, 3.0))[:, None]
            )
        base = np.asarray(self.wall_albedo[f], np.float32)
        alb = base[None] * (0.93 + 0.14 * n.fbm(u * 1.5, v * 1.5, f * 10.0, octaves=3))[:, None]
        if self.style == "indoor":
            board = v < 0.1
            alb[board] = np.float32(0.7) if base.mean() < 0.4 else np.float32(0.12)
        for r in self.rects:
            if r.face != f or r.kind == "window":
                continue
            inside = (u > r.u0) & (u < r.u1) & (v > r.v0) & (v < r.v1)
            if inside.any():
                alb[inside] = self._decor(r, u[inside], v[inside], aa[inside])
        if self.style == "studio" and f == 0 and self.backdrop_spot > 0:
            # a backdrop light makes a soft pool of light behind the subject
            pool = np.exp(-((u / 1.6) ** 2 + ((v - 1.2) / 1.2) ** 2))
            alb = alb * (1 + self.backdrop_spot * pool)[:, None]
        return alb

    def _decor(self, r: Rect, u, v, aa) -> np.ndarray:
        n = self._noise
        c = np.asarray(r.colour, np.float32)
        if r.kind == "picture":
            border = np.minimum(np.minimum(u - r.u0, r.u1 - u), np.minimum(v - r.v0, r.v1 - v))
            paint = np.stack([n.fbm(u * 3, v * 3, k * 5.0, octaves=3) for k in range(3)], -1)
            alb = 0.05 + 0.7 * paint**1.5 * c[None]
            alb[border < 0.04] = np.array([0.08, 0.05, 0.03], np.float32)
            return alb
        if r.kind == "shelf":
            row_h = 0.32
            rv = np.mod(v - r.v0, row_h)
            board = rv < 0.025
            book = np.floor((u + 7 * np.floor(v / row_h)) / 0.035)
            hue = np.stack([n(book * 0.71, k * 3.3, 1.0) for k in range(3)], -1)
            top = n(book * 1.3, 5.0, 2.0) * 0.12 + 0.2
            alb = 0.05 + 0.45 * hue**2
            alb[rv > top + 0.025 + 0.05] = np.float32(0.02)  # gap above the books
            alb[board] = np.array([0.25, 0.16, 0.09], np.float32)
            return alb
        # door
        grain = n(u * 4, v * 40, 11.0)
        alb = c[None] * (0.8 + 0.3 * grain)[:, None]
        mu, mv = (u - r.u0) / (r.u1 - r.u0), (v - r.v0) / (r.v1 - r.v0)
        groove = ((np.abs(mu - 0.15) < 0.015) | (np.abs(mu - 0.85) < 0.015)) & (mv > 0.1)
        alb[groove & (aa > 0.5)] *= 0.6
        return alb

    def _floor_albedo(self, x, z, fw) -> np.ndarray:
        n = self._noise
        base = np.asarray(self.floor_albedo, np.float32)
        aa = np.clip(1 - fw / 0.03, 0, 1)
        if self.floor == "wood":
            plank = np.floor(x / 0.18)
            off = n(plank * 0.9, 0.0, 4.0) * 3
            seam = (np.mod(x / 0.18, 1) < 0.04) | (np.mod(z / 1.2 + off, 1) < 0.01)
            grain = n(x * 30, z * 2 + off, plank)
            tone = 0.75 + 0.5 * n(plank * 1.7, np.floor(z / 1.2 + off), 2.0)
            alb = base[None] * (tone * (0.85 + 0.3 * grain * aa))[:, None]
            alb[seam & (aa > 0.3)] *= 0.55
        elif self.floor == "tiles":
            s = 0.45
            gu, gv = np.mod(x / s, 1), np.mod(z / s, 1)
            grout = (np.minimum(np.minimum(gu, 1 - gu), np.minimum(gv, 1 - gv)) * s < 0.006) & (
                aa > 0.3
            )
            check = (np.floor(x / s) + np.floor(z / s)) % 2
            alb = base[None] * (0.85 + 0.15 * check + 0.1 * n(x * 5, z * 5, 1.0))[:, None]
            alb[grout] = np.float32(0.3)
        else:
            alb = (
                base[None]
                * (0.8 + 0.4 * n.fbm(x * 20, z * 20, 1.0, octaves=2) * aa + 0.2 * (1 - aa))[:, None]
            )
        return alb

    def _irradiance(self, p: np.ndarray, normal: np.ndarray) -> np.ndarray:
        e = np.broadcast_to(self._ambient, (p.shape[0], 3)).copy()
        top = self.ceiling - self.eye_height
        for cx, cz, hx, hz, lum in self.panels:
            c = np.array([cx, top, cz], np.float32)
            e += _area_term(p, normal, c, np.array([0, -1, 0], np.float32), 4 * hx * hz, lum)
        if self._window is not None:
            c, nw, area = self._window_frame()
            e += _area_term(p, normal, c, nw, area, self._window_radiance)
            if self._sun is not None:
                e += self._sun_patch(p, normal)
        for pos, _, inten in self.lamps:
            w = np.asarray(pos, np.float32)[None] - p
            r2 = np.maximum((w * w).sum(1), 0.05)
            cos = np.clip((w @ normal) / np.sqrt(r2), 0, None)
            e += (cos / r2)[:, None] * np.asarray(inten, np.float32)[None]
        for sb in self.softboxes:
            c = np.asarray(sb.center, np.float32)
            nrm = -c / np.linalg.norm(c)
            area = 4 * sb.half_size[0] * sb.half_size[1]
            e += _area_term(p, normal, c, nrm, area, sb.radiance)
        return e

    def _window_frame(self) -> tuple[np.ndarray, np.ndarray, float]:
        w = self._window
        uc, vc = 0.5 * (w.u0 + w.u1), 0.5 * (w.v0 + w.v1) - self.eye_height
        c = {
            0: (uc, vc, self.z0),
            1: (-uc, vc, self.z1),
            2: (self.x0, vc, -uc),
            3: (self.x1, vc, uc),
        }[w.face]
        return np.array(c, np.float32), _NORMALS[w.face], (w.u1 - w.u0) * (w.v1 - w.v0)

    def _sun_patch(self, p: np.ndarray, normal: np.ndarray) -> np.ndarray:
        """Direct sun through the window: a ray from ``p`` towards the sun crosses the window."""
        s = np.asarray(self._sun.direction, np.float32)
        c, nw, _ = self._window_frame()
        denom = float(s @ -nw)
        if denom <= 1e-3:
            return np.zeros((p.shape[0], 3), np.float32)
        t = ((c - p) @ -nw) / denom
        q = p + t[:, None] * s[None]
        u, v = self._uv(self._window.face, q)
        w = self._window
        ok = (t > 0) & (u > w.u0) & (u < w.u1) & (v > w.v0) & (v < w.v1)
        cos = np.clip(normal @ s, 0, None)
        return (ok * cos)[:, None] * np.asarray(self._sun.irradiance, np.float32)[None]

    def _draw_softbox(self, sb: Softbox, d, t, out) -> None:
        c = np.asarray(sb.center, np.float32)
        nrm = -c / np.linalg.norm(c)
        denom = d @ nrm
        with np.errstate(divide="ignore", invalid="ignore"):
            ts = (c @ nrm) / denom
        e1 = np.cross(np.array([0, 1, 0], np.float32), nrm)
        e1 /= max(np.linalg.norm(e1), 1e-6)
        e2 = np.cross(nrm, e1)
        # rays parallel to its plane have ts inf or nan; the hit test below masks them out
        with np.errstate(invalid="ignore"):
            q = d * ts[:, None] - c[None]
            a, b = q @ e1, q @ e2
        hit = (
            (denom < 0)
            & (ts > 0)
            & (ts < t)
            & (np.abs(a) < sb.half_size[0])
            & (np.abs(b) < sb.half_size[1])
        )
        if hit.any():
            edge = np.minimum(
                1 - np.abs(a[hit]) / sb.half_size[0], 1 - np.abs(b[hit]) / sb.half_size[1]
            )
            fall = 0.75 + 0.25 * np.clip(edge / 0.2, 0, 1)
            out[hit] = fall[:, None] * np.asarray(sb.radiance, np.float32)[None]
            t[hit] = ts[hit]

    # ---------------------------------------------------------------- setup
    def _mean_window_radiance(self) -> np.ndarray:
        if self._window is None or self.outdoor is None:
            return np.zeros(3, np.float32)
        rng = np.random.default_rng(1)
        v = rng.normal(size=(128, 3)).astype(np.float32)
        nin = _NORMALS[self._window.face]
        v -= np.minimum(v @ -nin, 0)[:, None] * 2 * -nin[None]  # fold onto the outside
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        return (self.outdoor.radiance(v).mean(0) * self.window_transmittance).astype(np.float32)

    def _sun_through_window(self) -> Source | None:
        if self.outdoor is None or self._window is None:
            return None
        suns = self.outdoor.sources()
        if not suns:
            return None
        s = suns[0]
        e = np.asarray(s.irradiance) * self.window_transmittance
        return Source(s.direction, tuple(map(float, e)), s.radius)

    def _ambient_irradiance(self) -> np.ndarray:
        flux = np.zeros(3)
        for *_, hx, hz, lum in self.panels:
            flux += np.pi * 4 * hx * hz * np.asarray(lum)
        for _, _, inten in self.lamps:
            flux += 4 * np.pi * np.asarray(inten)
        if self._window is not None:
            area = (self._window.u1 - self._window.u0) * (self._window.v1 - self._window.v0)
            flux += np.pi * area * self._window_radiance
            if self._sun is not None:
                flux += 0.5 * area * np.asarray(self._sun.irradiance)
        for sb in self.softboxes:
            flux += 0.5 * np.pi * 4 * sb.half_size[0] * sb.half_size[1] * np.asarray(sb.radiance)
        w, dpt, h = self.x1 - self.x0, self.z1 - self.z0, self.ceiling
        area = 2 * (w * dpt + w * h + dpt * h)
        rho = float(np.mean([luminance(np.asarray(a)) for a in self.wall_albedo])) * 0.7
        rho += 0.15 * float(luminance(np.asarray(self.floor_albedo))) + 0.15 * float(
            luminance(np.asarray(self.ceiling_albedo))
        )
        return (flux * rho / (area * (1 - rho))).astype(np.float32)


def _area_term(p, normal, c, n_e, area, lum) -> np.ndarray:
    """Irradiance ``(N, 3)`` from a small Lambertian area emitter (centre ``c``, normal ``n_e``,
    ``area``, radiance ``lum``) at points ``p (N, 3)`` with surface normal ``normal (3,)``."""
    w = c[None] - p
    r2 = (w * w).sum(1) + area / np.pi  # softened near the emitter
    r = np.sqrt(r2)
    cos_x = np.clip((w @ normal) / r, 0, None)
    cos_e = np.clip(-(w @ n_e) / r, 0, None)
    return (area * cos_x * cos_e / r2)[:, None] * np.asarray(lum, np.float32)[None]


# ------------------------------------------------------------------------------ sampling

_PAINTS = [
    (0.75, 0.74, 0.7),
    (0.7, 0.66, 0.58),
    (0.55, 0.57, 0.58),
    (0.35, 0.45, 0.36),
    (0.3, 0.4, 0.55),
    (0.6, 0.35, 0.25),
    (0.65, 0.55, 0.35),
    (0.2, 0.2, 0.22),
]


def sample_room(rng: np.random.Generator, style: str = "indoor") -> RoomScene:
    """Draw a random furnished interior (``style="indoor"``) or photo studio (``"studio"``)."""
    u = rng.uniform
    studio = style == "studio"
    w, dpt = (u(6, 10), u(6, 12)) if studio else (u(3, 8), u(3.5, 9))
    sx, sz = u(1.0, w - 1.0), u(1.2, dpt - 1.0)  # subject position on the floor
    x0, x1, z0, z1 = -sx, w - sx, -(dpt - sz), sz
    ceiling = u(3.5, 5.0) if studio else u(2.4, 3.4)
    eye = u(1.45, 1.75)
    base_paint = _PAINTS[int(rng.integers(len(_PAINTS)))]
    walls = []
    for _ in range(4):
        p = np.asarray(
            base_paint if rng.random() < 0.75 else _PAINTS[int(rng.integers(len(_PAINTS)))]
        )
        walls.append(tuple(float(c) for c in np.clip(p * u(0.85, 1.1), 0.02, 0.9)))
    if studio:
        dark = u(0.02, 0.07)
        walls = [(dark, dark, dark)] * 4
        backdrop = rng.choice(
            [
                (0.75, 0.75, 0.75),
                (0.35, 0.35, 0.36),
                (0.04, 0.04, 0.04),
                (0.2, 0.3, 0.55),
                (0.55, 0.4, 0.25),
                (0.25, 0.45, 0.3),
            ]
        )
        walls[0] = tuple(float(c) for c in backdrop)
    floor = str(rng.choice(FLOORS))
    floor_alb = {
        "wood": (0.3, 0.18, 0.09),
        "tiles": (0.55, 0.53, 0.5),
        "carpet": (0.25, 0.22, 0.2),
    }[floor]
    if studio:
        floor_alb = tuple(0.5 * c for c in walls[0])
        floor = "carpet"
    ceil_alb = (0.05, 0.05, 0.05) if studio else (0.8, 0.8, 0.78)

    panels, lamps, rects, boxes = [], [], [], []
    outdoor = None
    if not studio:
        kelvin = u(3000, 6500)
        for _ in range(int(rng.integers(0, 5))):
            hx, hz = (0.3, 0.3) if rng.random() < 0.6 else (0.15, 0.6)
            lum = blackbody_rgb(kelvin) * u(1.0, 6.0)
            panels.append(
                (
                    float(u(x0 + 0.5, x1 - 0.5)),
                    float(u(z0 + 0.5, z1 - 0.5)),
                    hx,
                    hz,
                    tuple(map(float, lum)),
                )
            )
        for _ in range(int(rng.integers(0, 3))):
            pos = (u(x0 + 0.3, x1 - 0.3), u(0.8, 1.9) - eye, u(z0 + 0.3, z1 - 0.3))
            if np.hypot(pos[0], pos[2]) < 0.8:
                continue
            inten = blackbody_rgb(u(2200, 3300)) * u(0.1, 0.6)
            lamps.append((tuple(map(float, pos)), float(u(0.08, 0.2)), tuple(map(float, inten))))
        if rng.random() < 0.75:
            face = int(rng.integers(4))
            span = w if face < 2 else dpt
            ww = u(0.8, min(3.0, span - 0.4))
            c = u(-span / 2 + ww / 2 + 0.2, span / 2 - ww / 2 - 0.2) + _face_center_u(
                face, x0, x1, z0, z1
            )
            v0 = u(0.5, 1.0)
            rects.append(
                Rect(
                    face, c - ww / 2, c + ww / 2, v0, min(v0 + u(1.0, 1.8), ceiling - 0.2), "window"
                )
            )
            outdoor = sample_outdoor(rng)
        rects += _sample_decor(rng, (x0, x1, z0, z1), ceiling)
        if not panels and not lamps and outdoor is None:
            lamps.append(
                (
                    (x0 + 0.5, 1.5 - eye, z0 + 0.5),
                    0.15,
                    tuple(map(float, blackbody_rgb(2700) * 0.5)),
                )
            )
    else:
        key_az = u(20, 70) * rng.choice([-1, 1])
        layout = [
            ("key", key_az, u(10, 45), u(8, 30)),
            ("fill", -key_az * u(0.6, 1.4), u(0, 25), u(1, 8)),
        ]
        if rng.random() < 0.6:
            layout.append(("rim", 180 - u(20, 60) * rng.choice([-1, 1]), u(10, 40), u(5, 25)))
        if rng.random() < 0.3:
            layout.append(("top", u(-180, 180), u(60, 80), u(4, 12)))
        gel = rng.random() < 0.25
        for name, az, el, lum in layout:
            dist = u(1.2, 2.8)
            # azimuth measured from the subject's front (+z): 0 = beside the camera
            a, e = np.deg2rad(az), np.deg2rad(el)
            c = dist * np.array([np.sin(a) * np.cos(e), np.sin(e), np.cos(a) * np.cos(e)])
            col = blackbody_rgb(u(4500, 6500))
            if gel and name != "key":
                col = np.clip(rng.uniform(0.1, 1.0, 3), 0.05, 1)
                col = col / float(luminance(col))
            boxes.append(
                Softbox(
                    tuple(map(float, c)),
                    (float(u(0.25, 0.6)), float(u(0.3, 0.8))),
                    tuple(map(float, col * lum)),
                )
            )

    return RoomScene(
        seed=int(rng.integers(2**31 - 1)),
        style=style,
        x0=float(x0),
        x1=float(x1),
        z0=float(z0),
        z1=float(z1),
        eye_height=float(eye),
        ceiling=float(ceiling),
        wall_albedo=walls,
        floor=floor,
        floor_albedo=tuple(float(c) for c in floor_alb),
        ceiling_albedo=ceil_alb,
        panels=panels,
        lamps=lamps,
        rects=rects,
        softboxes=boxes,
        outdoor=outdoor,
        window_transmittance=float(u(0.6, 0.9)),
        backdrop_spot=float(u(0, 2.5)) if studio and rng.random() < 0.5 else 0.0,
    )


def _face_center_u(face: int, x0, x1, z0, z1) -> float:
    """The ``u`` coordinate of the middle of a wall (see :meth:`RoomScene._uv`)."""
    return {0: (x0 + x1) / 2, 1: -(x0 + x1) / 2, 2: -(z0 + z1) / 2, 3: (z0 + z1) / 2}[face]


def _sample_decor(
    rng: np.random.Generator, box: tuple[float, float, float, float], ceiling: float
) -> list[Rect]:
    """One to four pictures, bookshelves or doors on random walls of the room ``box``
    (x0, x1, z0, z1)."""
    x0, x1, z0, z1 = box
    out = []
    for kind in rng.choice(["picture", "shelf", "door", "picture"], size=int(rng.integers(1, 5))):
        kind = str(kind)
        face = int(rng.integers(4))
        span = (x1 - x0) if face < 2 else (z1 - z0)
        if kind == "picture":
            width, v0, h = rng.uniform(0.4, 1.2), rng.uniform(1.1, 1.5), rng.uniform(0.4, 0.9)
            colour = tuple(float(c) for c in rng.uniform(0.2, 1.0, 3))
        elif kind == "shelf":
            width, v0, h = rng.uniform(0.8, 2.0), 0.0, min(rng.uniform(1.4, 2.2), ceiling - 0.2)
            colour = (0.35, 0.22, 0.12)
        else:
            width, v0, h, colour = 0.9, 0.0, 2.05, (0.35, 0.22, 0.12)
        if width > span - 0.4:
            continue
        c = rng.uniform(-span / 2 + width / 2, span / 2 - width / 2)
        c += _face_center_u(face, x0, x1, z0, z1)
        out.append(Rect(face, c - width / 2, c + width / 2, v0, v0 + h, kind, colour))
    return out
