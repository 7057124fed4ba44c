"""Procedural portrait subjects: known geometry (a signed distance function) and materials.

A subject is a smooth union (:func:`models.data.sdf.smin`) of ellipsoids, spheres and capsules:
cranium, face, jaw, chin, cheeks, brow ridge, eye sockets (smooth subtraction) with eyeballs,
nose bridge, tip and wings, lips, ears with a carved concha; a neck; shoulders and a torso; and a
hair volume cut by a tilted hairline plane (bald, short, medium, long, bun or curly, the last with
a noise-displaced surface). Head parts live in a head frame turned by the head pose (yaw, pitch,
roll about the top of the neck); the whole subject can be translated (``offset``).

World units: the front camera sees x, y ∈ [−1, 1]; a head is about 0.75 tall. Axes as in
:mod:`models.data` (x right, y up, z towards the camera).

Materials (per surface point): linear albedo with procedural texture — skin (tone, blotches,
blush on cheeks, nose and lips, optional freckles and beard shadow, eyebrows), hair (strands:
noise stretched along the flow, two-tone), clothing (stripes, checks, plaid, dots or heathered
noise, with a knit micro-texture), eyes (sclera, iris, pupil) — plus a GGX roughness α, a Fresnel
F0 and a specular scale. Skin tones are linear albedos spanning light to dark in ten anchors laid
out after the Monk Skin Tone scale (E. Monk, 2019), interpolated and jittered.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass

import numpy as np

from models.data.noise import ValueNoise
from models.data.sdf import capsule, ellipsoid, smax, smin, sphere
from models.data.sphere import euler_matrix

SKIN_TONES = np.array(
    [
        [0.66, 0.52, 0.44],
        [0.61, 0.46, 0.37],
        [0.57, 0.42, 0.31],
        [0.50, 0.36, 0.25],
        [0.42, 0.28, 0.18],
        [0.33, 0.21, 0.13],
        [0.25, 0.155, 0.095],
        [0.18, 0.11, 0.07],
        [0.12, 0.075, 0.05],
        [0.08, 0.052, 0.036],
    ],
    np.float32,
)
HAIR_COLOURS = {
    "black": (0.018, 0.016, 0.015),
    "dark_brown": (0.05, 0.03, 0.018),
    "brown": (0.13, 0.075, 0.04),
    "auburn": (0.22, 0.075, 0.03),
    "blonde": (0.45, 0.32, 0.16),
    "grey": (0.32, 0.31, 0.30),
    "dyed_blue": (0.04, 0.08, 0.25),
    "dyed_pink": (0.45, 0.12, 0.22),
}
HAIR_STYLES = ("bald", "short", "medium", "long", "bun", "curly")
CLOTH_PATTERNS = ("stripes_h", "stripes_v", "stripes_d", "checks", "plaid", "dots", "noise")
EYE_COLOURS = ((0.09, 0.04, 0.015), (0.04, 0.09, 0.16), (0.06, 0.09, 0.04), (0.02, 0.012, 0.008))

Vec = tuple[float, float, float]


@dataclass(frozen=True)
class Subject:
    """All parameters of one procedural subject (plain values, JSON-serialisable).

    Angles in degrees; lengths in world units (head-frame lengths are multiplied by
    ``head_scale``); albedos are linear RGB in [0, 1].
    """

    subject_id: str
    seed: int
    head_center: Vec
    head_scale: float
    head_width: float
    jaw_width: float
    chin_size: float
    nose_length: float
    nose_width: float
    brow_size: float
    ear_size: float
    lip_size: float
    eye_size: float
    neck_radius: float
    shoulder_half_width: float
    shoulder_y: float
    torso_depth: float
    yaw: float
    pitch: float
    roll: float
    offset: tuple[float, float]
    skin_albedo: Vec
    skin_roughness: float
    skin_specular: float
    blush: float
    freckles: float
    beard: float
    eye_colour: Vec
    hair_style: str
    hair_albedo: Vec
    hair_albedo2: Vec
    hair_thickness: float
    hairline: float
    hair_roughness: float
    hair_specular: float
    cloth_pattern: str
    cloth_a: Vec
    cloth_b: Vec
    cloth_freq: float
    cloth_roughness: float
    cloth_specular: float

    # ------------------------------------------------------------------ bookkeeping
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def posed(
        self,
        yaw: float | None = None,
        pitch: float | None = None,
        roll: float | None = None,
        offset: tuple[float, float] | None = None,
    ) -> Subject:
        """The same subject with another head pose and/or translation."""
        return dataclasses.replace(
            self,
            yaw=self.yaw if yaw is None else float(yaw),
            pitch=self.pitch if pitch is None else float(pitch),
            roll=self.roll if roll is None else float(roll),
            offset=self.offset if offset is None else (float(offset[0]), float(offset[1])),
        )

    def cache_key(self) -> str:
        """A stable hash of every parameter (for OLAT caches)."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha1(blob).hexdigest()[:16]

    @functools.cached_property
    def _geo(self) -> _Geometry:
        return _Geometry(self)

    # ------------------------------------------------------------------ scene protocol
    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned box ``(lo (3,), hi (3,))`` that holds the whole subject."""
        ox, oy = self.offset
        lo = np.array([-1.35 + ox, -2.0 + oy, -0.75], np.float32)
        hi = np.array([1.35 + ox, 1.25 + oy, 0.75], np.float32)
        return lo, hi

    def sdf(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Signed distance ``(N,)`` float32 at points ``x, y, z`` each ``(N,)`` (world)."""
        return self._geo.sdf(x, y, z)

    def material(
        self, x: np.ndarray, y: np.ndarray, z: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Material at surface points → albedo ``(N, 3)`` linear, GGX α ``(N,)``, Fresnel F0
        ``(N,)``, specular scale ``(N,)``."""
        return self._geo.material(x, y, z)


# ---------------------------------------------------------------------------- geometry


class _Geometry:
    """The subject's SDF and materials, with exact culling of far-away parts.

    Every smooth union ``smin(d, part, k)`` equals ``d`` wherever ``part ≥ d + k``; a bounding
    sphere gives a lower bound of ``part``, so points whose bound passes that test skip the part
    without changing the result (the same holds for smooth subtraction with ``|d|``).
    """

    def __init__(self, s: Subject):
        self.s = s
        self.k = s.head_scale
        self.rot = euler_matrix(s.yaw, s.pitch, s.roll)  # head frame → world
        hx, hy, hz = s.head_center
        self.hc = np.array([hx + s.offset[0], hy + s.offset[1], hz], np.float32)
        self.pivot_h = np.array([0.0, -0.30, -0.05], np.float32)  # top of the neck, head frame
        # head-frame point q ↦ world: hc + k·pivot + R·k·(q − pivot)
        self.pivot_w = self.hc + self.k * self.pivot_h
        self.noise = ValueNoise(s.seed)
        w = s.head_width
        self.ear_c = 0.29 * w
        self.neck_top = self.to_world(np.array([0.0, -0.20, -0.06], np.float32))
        ox, oy = s.offset
        self.neck_bot = np.array([ox, s.shoulder_y + oy + 0.05, -0.06], np.float32)
        hair_extent = {"long": 1.05, "medium": 0.75, "curly": 0.8}.get(s.hair_style, 0.62)
        self.head_bound = hair_extent * self.k

    def to_world(self, q: np.ndarray) -> np.ndarray:
        return self.pivot_w + self.k * (self.rot @ (q - self.pivot_h))

    def to_head(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, ...]:
        """World points → head-frame coordinates (unscaled)."""
        px, py, pz = x - self.pivot_w[0], y - self.pivot_w[1], z - self.pivot_w[2]
        r = self.rot.T / self.k
        qx = r[0, 0] * px + r[0, 1] * py + r[0, 2] * pz + self.pivot_h[0]
        qy = r[1, 0] * px + r[1, 1] * py + r[1, 2] * pz + self.pivot_h[1]
        qz = r[2, 0] * px + r[2, 1] * py + r[2, 2] * pz + self.pivot_h[2]
        return qx, qy, qz

    # -- body (world frame) -----------------------------------------------------------
    def body_parts(
        self, x: np.ndarray, y: np.ndarray, z: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(clothing: shoulders + torso, neck) distances."""
        s = self.s
        ox, oy = s.offset
        sy, sw, td = s.shoulder_y + oy, s.shoulder_half_width, s.torso_depth
        top = (ox, sy + 0.1, -0.06)
        d = None
        for sx in (-1.0, 1.0):
            tip = (ox + sx * sw, sy - 0.03, -0.06)
            part = capsule(x, y, z, top, tip, 0.14)
            arm = capsule(x, y, z, tip, (ox + sx * (sw + 0.08), sy - 1.3, -0.05), 0.14)
            part = smin(part, arm, 0.08)
            d = part if d is None else smin(d, part, 0.05)
        d = smin(d, ellipsoid(x, y, z, (ox, sy - 0.75, -0.05), (sw - 0.02, 0.85, td)), 0.15)
        neck = capsule(x, y, z, tuple(self.neck_top), tuple(self.neck_bot), s.neck_radius)
        return d, neck

    # -- head (head frame, unscaled) -------------------------------------------------
    def head_base(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        s, w = self.s, self.s.head_width
        d = ellipsoid(x, y, z, (0, 0.05, -0.03), (0.30 * w, 0.36, 0.34))
        d = smin(d, ellipsoid(x, y, z, (0, -0.10, 0.05), (0.24 * w, 0.28, 0.24)), 0.08)
        d = smin(d, ellipsoid(x, y, z, (0, -0.20, 0.0), (0.21 * s.jaw_width, 0.15, 0.2)), 0.08)
        return smin(d, sphere(x, y, z, (0, -0.30, 0.18), 0.06 * s.chin_size), 0.07)

    def eyes(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        r = 0.04 * self.s.eye_size
        left = sphere(x, y, z, (-0.095, 0.01, 0.245), r)
        return np.minimum(left, sphere(x, y, z, (0.095, 0.01, 0.245), r))

    def face_details(
        self, x: np.ndarray, y: np.ndarray, z: np.ndarray, d: np.ndarray
    ) -> np.ndarray:
        """Sockets, eyes, brow, cheeks, nose and lips added to the base distance ``d``."""
        s = self.s
        for sx in (-0.095, 0.095):
            d = smax(d, -sphere(x, y, z, (sx, 0.015, 0.29), 0.05), 0.03)
        d = smin(d, self.eyes(x, y, z), 0.008)
        rb = 0.025 * s.brow_size
        for sx in (-1.0, 1.0):
            d = smin(d, capsule(x, y, z, (0.12 * sx, 0.065, 0.27), (0, 0.062, 0.30), rb), 0.03)
            d = smin(d, ellipsoid(x, y, z, (0.14 * sx, -0.07, 0.2), (0.08, 0.06, 0.07)), 0.06)
        nl, nw = s.nose_length, s.nose_width
        tip = (0.0, -0.04 - 0.065 * nl, 0.325 + 0.02 * nl)
        d = smin(d, capsule(x, y, z, (0, 0.03, 0.295), tip, 0.026 * nw), 0.04)
        d = smin(d, ellipsoid(x, y, z, tip, (0.036 * nw, 0.032, 0.036)), 0.03)
        for sx in (-1.0, 1.0):
            wing = (0.032 * nw * sx, tip[1] - 0.012, tip[2] - 0.04)
            d = smin(d, ellipsoid(x, y, z, wing, (0.024 * nw, 0.02, 0.025)), 0.02)
        lr = 0.017 * s.lip_size
        d = smin(d, capsule(x, y, z, (-0.045, -0.185, 0.268), (0.045, -0.185, 0.268), lr), 0.02)
        return smin(d, capsule(x, y, z, (-0.04, -0.212, 0.262), (0.04, -0.212, 0.262), lr), 0.02)

    def head_skin(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        d = self.head_base(x, y, z)
        d = _culled(d, x, y, z, (0, -0.06, 0.24), 0.2, 0.07, self.face_details)
        for sx in (-1.0, 1.0):
            d = _culled(d, x, y, z, (sx * self.ear_c, 0, -0.03), 0.1, 0.03, self.ears_one(sx))
        return d

    def ears_one(self, sx: float):
        def fn(x, y, z, d):
            e = self.s.ear_size
            c = (sx * self.ear_c, 0.0, -0.03)
            ear = ellipsoid(x, y, z, c, (0.035, 0.085 * e, 0.055 * e))
            concha = (sx * (self.ear_c + 0.035), 0.0, -0.02)
            ear = smax(ear, -ellipsoid(x, y, z, concha, (0.025, 0.05 * e, 0.032 * e)), 0.012)
            return smin(d, ear, 0.02)

        return fn

    def hair(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray | None:
        """Hair volume (head frame): a cap cut by the tilted hairline plane, plus the volumes of
        the style (side locks, a back sheet and curtains, a bun), kept off the face by
        ``z < 0.08``; the surface is displaced by noise (strongly for curly hair)."""
        s, n = self.s, self.noise
        if s.hair_style == "bald":
            return None
        w, t = s.head_width, s.hair_thickness
        d = ellipsoid(x, y, z, (0, 0.07, -0.05), (0.30 * w + t, 0.36 + t, 0.34 + t))
        slope = 0.6
        cut = ((y - s.hairline) - slope * z) / np.sqrt(1 + slope * slope)
        d = smax(d, -cut, 0.04)
        extra = []
        if s.hair_style in ("medium", "long", "curly"):
            for sx in (-1.0, 1.0):
                extra.append(
                    ellipsoid(x, y, z, (sx * 0.25 * w, -0.08, -0.1), (0.07 + t, 0.24, 0.2))
                )
        if s.hair_style == "long":
            extra.append(ellipsoid(x, y, z, (0, -0.38, -0.2), (0.3 * w, 0.55, 0.13)))
            for sx in (-1.0, 1.0):
                extra.append(
                    ellipsoid(x, y, z, (sx * 0.27 * w, -0.42, -0.08), (0.06 + t, 0.45, 0.13))
                )
        for e in extra:
            d = smin(d, smax(e, z - 0.08, 0.03), 0.06)
        if s.hair_style == "bun":
            d = smin(d, sphere(x, y, z, (0, 0.30, -0.30), 0.12), 0.05)
        amp, freq = (0.03, 18.0) if s.hair_style == "curly" else (0.012, 9.0)
        return d - amp * (n(x * freq, y * freq, z * freq) - 0.5)

    def head_all(self, x: np.ndarray, y: np.ndarray, z: np.ndarray, d: np.ndarray) -> np.ndarray:
        """World points (subset), current distance ``d`` → ``d`` with the head and hair added."""
        qx, qy, qz = self.to_head(x, y, z)
        h = self.head_skin(qx, qy, qz)
        hair = self.hair(qx, qy, qz)
        if hair is not None:
            h = np.minimum(h, hair)
        return smin(d, h * self.k, 0.06)

    # -- public --------------------------------------------------------------------------
    def sdf(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        x, y, z = (np.asarray(a, np.float32) for a in (x, y, z))
        cloth, neck = self.body_parts(x, y, z)
        d = smin(cloth, neck, 0.1)
        c = self.hc + self.k * np.array([0, -0.1, -0.05], np.float32)
        return _culled(d, x, y, z, tuple(c), self.head_bound, 0.06, self.head_all)

    def parts(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> dict[str, np.ndarray]:
        """Distances of each material group at (surface) points, and head-frame coordinates."""
        cloth, neck = self.body_parts(x, y, z)
        qx, qy, qz = self.to_head(x, y, z)
        skin = np.minimum(self.head_skin(qx, qy, qz) * self.k, neck)
        hair = self.hair(qx, qy, qz)
        out = {
            "cloth": cloth,
            "skin": skin,
            "eyes": self.eyes(qx, qy, qz) * self.k,
            "hair": np.full_like(x, 1e3) if hair is None else hair * self.k,
            "neck": neck,
            "qx": qx,
            "qy": qy,
            "qz": qz,
        }
        return out

    def material(self, x: np.ndarray, y: np.ndarray, z: np.ndarray):
        x, y, z = (np.asarray(a, np.float32) for a in (x, y, z))
        p = self.parts(x, y, z)
        s, n = self.s, self.noise
        qx, qy, qz = p["qx"], p["qy"], p["qz"]
        # soft assignment to the nearest material group (0.004 ≈ a quarter pixel at 128 px);
        # eyeballs are part of the skin's surface, so they win where they are the surface
        groups = np.stack([p["skin"], p["cloth"], p["hair"], p["eyes"] - 0.006])
        wts = np.exp(-(groups - groups.min(0)) / 0.004)
        wts /= wts.sum(0)
        alb = (
            wts[0, :, None] * self._skin_albedo(qx, qy, qz, x, y, z)
            + wts[1, :, None] * self._cloth_albedo(x, y, z)
            + wts[2, :, None] * self._hair_albedo(qx, qy, qz)
            + wts[3, :, None] * self._eye_albedo(qx, qy, qz)
        )
        rough = np.array([s.skin_roughness, s.cloth_roughness, s.hair_roughness, 0.12])
        spec = np.array([s.skin_specular, s.cloth_specular, s.hair_specular, 1.0])
        f0 = np.array([0.028, 0.04, 0.046, 0.025])
        alpha = (wts * rough[:, None]).sum(0)
        # skin sheen varies: oilier on the nose and forehead
        oily = 1.0 + 0.6 * np.exp(-((qx / 0.12) ** 2 + ((qy - 0.05) / 0.25) ** 2))
        ks = (wts * spec[:, None]).sum(0) * np.where(wts[0] > 0.5, oily, 1.0)
        kf = (wts * f0[:, None]).sum(0)
        ks = ks * (0.85 + 0.3 * n(x * 40, y * 40, z * 40))
        return (
            np.clip(alb, 0.0, 0.95).astype(np.float32),
            alpha.astype(np.float32),
            kf.astype(np.float32),
            ks.astype(np.float32),
        )

    # -- textures ------------------------------------------------------------------------
    def _skin_albedo(self, qx, qy, qz, x, y, z) -> np.ndarray:
        s, n = self.s, self.noise
        base = np.array(s.skin_albedo, np.float32)
        blot = n.fbm(qx * 9, qy * 9, qz * 9, octaves=3)
        alb = base[None] * (0.9 + 0.2 * blot)[:, None]
        red = np.array([1.15, 0.85, 0.85], np.float32)
        cheeks = np.exp(-(((np.abs(qx) - 0.14) / 0.06) ** 2 + ((qy + 0.07) / 0.05) ** 2))
        nose = np.exp(-((qx / 0.05) ** 2 + ((qy + 0.09) / 0.05) ** 2)) * (qz > 0.28)
        lips = np.exp(-((qx / 0.06) ** 2 + ((qy + 0.2) / 0.022) ** 2)) * (qz > 0.23)
        tint = np.clip(s.blush * (cheeks + 0.6 * nose) + 0.9 * lips, 0, 1)[:, None]
        alb = alb * (1 + tint * (red[None] - 1))
        if s.freckles > 0:
            f = n(qx * 70, qy * 70, qz * 70)
            fr = np.clip((f - (1 - 0.35 * s.freckles)) * 8, 0, 1) * (qz > 0.1)
            alb = alb * (1 - 0.35 * fr[:, None] * np.array([0.6, 0.9, 1.0], np.float32))
        hair_c = np.array(s.hair_albedo, np.float32)
        if s.beard > 0:
            jaw = np.clip((-0.12 - qy) / 0.06, 0, 1) * (qz > 0.0) * (np.abs(qx) < 0.24)
            mouth = np.exp(-((qx / 0.06) ** 2 + ((qy + 0.2) / 0.03) ** 2))
            amt = s.beard * jaw * (1 - mouth) * (0.6 + 0.4 * n(qx * 60, qy * 60, qz * 60))
            alb = alb * (1 - amt[:, None]) + hair_c[None] * amt[:, None]
        brow = np.exp(-(((qy - 0.085 + 0.08 * qx * qx) / 0.014) ** 2)) * (np.abs(qx) > 0.03)
        brow = brow * (np.abs(qx) < 0.16) * (qz > 0.2)
        alb = alb * (1 - 0.8 * brow[:, None]) + 0.8 * brow[:, None] * hair_c[None]
        return alb

    def _hair_albedo(self, qx: np.ndarray, qy: np.ndarray, qz: np.ndarray) -> np.ndarray:
        s, n = self.s, self.noise
        a, b = np.array(s.hair_albedo, np.float32), np.array(s.hair_albedo2, np.float32)
        if s.hair_style == "curly":
            strand = n.fbm(qx * 45, qy * 45, qz * 45, octaves=2)
        else:
            ang = np.arctan2(qx, -qz)
            warp = 0.6 * n(qx * 4, qy * 4, qz * 4)
            strand = n.fbm(ang * 30 + warp * 8, qy * 3, 0.0, octaves=2)
        mix = np.clip(n.fbm(qx * 3, qy * 3, qz * 3, octaves=2) * 1.6 - 0.3, 0, 1)[:, None]
        col = a[None] * (1 - mix) + b[None] * mix
        return col * (0.55 + 0.9 * strand)[:, None]

    def _cloth_albedo(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        s, n = self.s, self.noise
        ox, oy = s.offset
        u, v, f = x - ox, y - oy, s.cloth_freq
        a, b = np.array(s.cloth_a, np.float32), np.array(s.cloth_b, np.float32)
        pat = s.cloth_pattern

        def stripes(c: np.ndarray, freq: float, duty: float = 0.0) -> np.ndarray:
            return 0.5 + 0.5 * np.tanh(4.0 * (np.sin(2 * np.pi * freq * c) + duty))

        if pat == "stripes_h":
            m = stripes(v, f)
        elif pat == "stripes_v":
            m = stripes(u, f)
        elif pat == "stripes_d":
            m = stripes((u + v) * 0.7071, f)
        elif pat == "checks":
            m = 0.5 * (stripes(u, f) + stripes(v, f))
        elif pat == "plaid":
            m = 0.35 * stripes(u, f, -0.3) + 0.35 * stripes(v, f, -0.3)
            m = m + 0.3 * stripes(u + 0.11, 3 * f, -0.8) * stripes(v + 0.07, 3 * f, -0.8)
        elif pat == "dots":
            gu, gv = u * f - np.round(u * f), v * f - np.round(v * f)
            m = 0.5 - 0.5 * np.tanh(12.0 * (np.sqrt(gu * gu + gv * gv) - 0.25))
        else:  # heathered knit: fine, low-contrast mix towards the second colour
            m = 0.45 * np.clip(
                (n.fbm(u * 4 * f, v * 4 * f, z * 4 * f, octaves=3) - 0.5) * 3 + 0.5, 0, 1
            )
        col = a[None] * (1 - m[:, None]) + b[None] * m[:, None]
        knit = 0.9 + 0.2 * n(x * 90, y * 90, z * 90)
        fold = 0.92 + 0.16 * n.fbm(x * 3, y * 5, z * 3, octaves=2)
        return col * (knit * fold)[:, None]

    def _eye_albedo(self, qx: np.ndarray, qy: np.ndarray, qz: np.ndarray) -> np.ndarray:
        s = self.s
        r = np.sqrt((np.abs(qx) - 0.095) ** 2 + (qy - 0.01) ** 2) / max(s.eye_size, 1e-3)
        sclera = np.array([0.55, 0.5, 0.46], np.float32)
        iris = np.array(s.eye_colour, np.float32)
        col = np.where((r < 0.022)[:, None], iris[None], sclera[None])
        return np.where((r < 0.009)[:, None], np.float32(0.01), col)


def _culled(
    d: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    center,
    radius: float,
    margin: float,
    fn,
) -> np.ndarray:
    """Apply ``d ← fn(x, y, z, d)`` only where a part bounded by the sphere (center, radius)
    can change ``d`` (bound distance < |d| + margin); exact for smooth unions/subtractions with
    blend radius ≤ margin."""
    lb = np.sqrt((x - center[0]) ** 2 + (y - center[1]) ** 2 + (z - center[2]) ** 2) - radius
    sel = np.flatnonzero(lb < np.abs(d) + margin)
    if sel.size == 0:
        return d
    d = d.copy()
    d[sel] = fn(x[sel], y[sel], z[sel], d[sel])
    return d


# ---------------------------------------------------------------------------- sampling


def sample_subject(rng: np.random.Generator) -> Subject:
    """Draw a random subject (proportions, pose, skin, hair, clothing, glossiness)."""
    seed = int(rng.integers(0, 2**31 - 1))
    u = rng.uniform

    tone = u(0, len(SKIN_TONES) - 1)
    i = min(int(tone), len(SKIN_TONES) - 2)
    skin = SKIN_TONES[i] * (1 - (tone - i)) + SKIN_TONES[i + 1] * (tone - i)
    skin = skin * u(0.92, 1.08) * (1 + rng.normal(0, 0.03, 3))

    style = str(rng.choice(HAIR_STYLES, p=[0.08, 0.27, 0.22, 0.2, 0.1, 0.13]))
    hair_names = list(HAIR_COLOURS)
    hp = np.array([0.22, 0.22, 0.18, 0.08, 0.12, 0.1, 0.04, 0.04])
    hair_c = np.array(HAIR_COLOURS[str(rng.choice(hair_names, p=hp / hp.sum()))])
    hair_c = hair_c * u(0.8, 1.2)
    hair_c2 = hair_c * u(0.5, 1.6) * (1 + rng.normal(0, 0.08, 3))

    pattern = str(rng.choice(CLOTH_PATTERNS))
    cloth_a = _random_cloth_colour(rng)
    cloth_b = _random_cloth_colour(rng)
    glossy_cloth = rng.random() < 0.2

    yaw, pitch, roll = rng.normal(0, 16), rng.normal(0, 7), rng.normal(0, 4)
    return Subject(
        subject_id=f"subj-{seed:010d}",
        seed=seed,
        head_center=(float(u(-0.08, 0.08)), float(u(0.26, 0.36)), 0.0),
        head_scale=float(u(0.9, 1.1)),
        head_width=float(u(0.9, 1.07)),
        jaw_width=float(u(0.85, 1.15)),
        chin_size=float(u(0.8, 1.25)),
        nose_length=float(u(0.8, 1.25)),
        nose_width=float(u(0.85, 1.3)),
        brow_size=float(u(0.7, 1.3)),
        ear_size=float(u(0.85, 1.15)),
        lip_size=float(u(0.8, 1.3)),
        eye_size=float(u(0.9, 1.1)),
        neck_radius=float(u(0.11, 0.14)),
        shoulder_half_width=float(u(0.55, 0.78)),
        shoulder_y=float(u(-0.52, -0.4)),
        torso_depth=float(u(0.2, 0.28)),
        yaw=float(np.clip(yaw, -40, 40)),
        pitch=float(np.clip(pitch, -18, 18)),
        roll=float(np.clip(roll, -10, 10)),
        offset=(0.0, 0.0),
        skin_albedo=_vec(np.clip(skin, 0.02, 0.75)),
        skin_roughness=float(u(0.3, 0.5)),
        skin_specular=float(u(0.5, 1.6)),
        blush=float(u(0.0, 0.7)),
        freckles=float(u(0.3, 1.0)) if rng.random() < 0.15 else 0.0,
        beard=float(u(0.3, 0.9)) if rng.random() < 0.2 else 0.0,
        eye_colour=EYE_COLOURS[int(rng.integers(len(EYE_COLOURS)))],
        hair_style=style,
        hair_albedo=_vec(np.clip(hair_c, 0.01, 0.8)),
        hair_albedo2=_vec(np.clip(hair_c2, 0.01, 0.8)),
        hair_thickness=float(u(0.08, 0.14) if style == "curly" else u(0.02, 0.06)),
        hairline=float(u(0.02, 0.1)),
        hair_roughness=float(u(0.22, 0.4)),
        hair_specular=float(u(0.6, 1.8)),
        cloth_pattern=pattern,
        cloth_a=_vec(cloth_a),
        cloth_b=_vec(cloth_b),
        cloth_freq=float(u(2.5, 9.0)),
        cloth_roughness=float(u(0.22, 0.35) if glossy_cloth else u(0.6, 0.9)),
        cloth_specular=float(u(0.8, 2.0) if glossy_cloth else u(0.0, 0.5)),
    )


def _random_cloth_colour(rng: np.random.Generator) -> np.ndarray:
    """A linear albedo from a saturated-to-neutral range (dyes, greys, darks, whites)."""
    hue = rng.uniform(0, 1)
    sat = rng.choice([rng.uniform(0, 0.15), rng.uniform(0.3, 0.9)])
    val = rng.choice([rng.uniform(0.03, 0.12), rng.uniform(0.15, 0.75)])
    rgb = np.clip(np.abs(np.mod(hue * 6 + np.array([0, 4, 2]), 6) - 3) - 1, 0, 1)
    return np.clip(val * (1 - sat + sat * rgb), 0.01, 0.85)


def _vec(a: np.ndarray) -> Vec:
    return (float(a[0]), float(a[1]), float(a[2]))
