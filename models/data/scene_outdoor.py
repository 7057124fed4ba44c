"""Procedural outdoor environments: sky, sun, clouds, a textured ground, a skyline, a wall.

Seen from the subject's position, ``eye_height`` metres above a flat ground:

- sky: a horizon→zenith gradient whose colours follow the sun's elevation (day, golden hour,
  dusk), a forward-scattering glow around the sun (a sharp and a broad exponential lobe, the
  shape of Mie scattering phase functions) and a horizon glow towards the sun at low elevation;
- clouds: a cloud layer at fixed height, fBm noise thresholded by the cover fraction, lit by the
  sky (ambient) and the sun (silver lining near it); the cover at the sun dims the sun;
- sun: a :class:`~models.data.scene_base.Source` (0.27°–2.5° radius: sharp to hazy) with a
  black-body colour that warms as it sets;
- ground plane: grass, sand, asphalt (with a painted line), paving tiles or snow, lit by
  ``ρ/π · (E_sun·sin(el) + E_sky)`` and fading into haze with distance (aerial perspective);
- skyline: hills, a tree line or a city block profile (lit windows at dusk) at the horizon;
- optionally a wall (brick, concrete, hedge or wooden fence) some metres away.

Radiance is linear; a clear noon sky is about 1 at the zenith and the sun delivers 15–40 to a
surface facing it (the sun:sky irradiance ratio of a clear day is about 5–10).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from models.data.colour import blackbody_rgb, luminance
from models.data.noise import ValueNoise
from models.data.scene_base import Source
from models.data.sphere import angles_to_dirs, dirs_to_angles

GROUNDS = ("grass", "sand", "asphalt", "paving", "snow")
SKYLINES = ("none", "hills", "trees", "city")
WALLS = ("brick", "concrete", "hedge", "fence")


@dataclass
class OutdoorScene:
    """Parameters of an outdoor environment (angles in degrees, lengths in metres)."""

    seed: int
    sun_elevation: float
    sun_azimuth: float
    sun_radius: float
    sun_irradiance: float
    sun_kelvin: float
    sky_level: float
    haze: float
    cloud_cover: float
    cloud_scale: float
    ground: str
    ground_albedo: tuple[float, float, float]
    eye_height: float
    skyline: str
    skyline_height: float
    wall: str | None
    wall_distance: float
    wall_height: float
    wall_azimuth: float
    kind: str = "outdoor"

    def __post_init__(self):
        self._noise = ValueNoise(self.seed)
        el, az = np.deg2rad(self.sun_elevation), np.deg2rad(self.sun_azimuth)
        self._sun_dir = angles_to_dirs(np.array(el), np.array(az)).reshape(3)
        self._sun_rgb = blackbody_rgb(self.sun_kelvin)
        self._zenith, self._horizon = self._sky_colours()
        self._sun_scale = self._cloud_transmittance() * self._extinction()
        self._e_sky = self._sky_irradiance()

    # ---------------------------------------------------------------- protocol
    def describe(self) -> dict:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}

    def sources(self) -> list[Source]:
        if self.sun_elevation < -1.0 or self._sun_scale <= 1e-3:
            return []
        e = self._sun_rgb * self.sun_irradiance * self._sun_scale
        return [
            Source(
                tuple(map(float, self._sun_dir)),
                tuple(map(float, e)),
                float(np.deg2rad(self.sun_radius)),
            )
        ]

    def radiance(self, d: np.ndarray, pix: float = 0.0) -> np.ndarray:
        d = np.asarray(d, np.float32).reshape(-1, 3)
        out = self._sky(d)
        el, phi = dirs_to_angles(d)
        if self.skyline != "none":
            prof = self._skyline_profile(phi)
            hit = (el >= -0.002) & (el < prof)
            if hit.any():
                out[hit] = self._skyline_radiance(d[hit], el[hit], phi[hit], prof[hit])
        ground = d[:, 1] < 0
        if ground.any():
            out[ground] = self._ground(d[ground], pix)
        if self.wall is not None:
            self._draw_wall(d, out, pix)
        return out

    # ---------------------------------------------------------------- sky
    def _sky_colours(self) -> tuple[np.ndarray, np.ndarray]:
        e = self.sun_elevation
        day_z, day_h = np.array([0.22, 0.42, 1.0]), np.array([0.62, 0.72, 0.9])
        gold_z, gold_h = np.array([0.25, 0.38, 0.8]), np.array([1.0, 0.62, 0.35])
        dusk_z, dusk_h = np.array([0.08, 0.12, 0.35]), np.array([0.9, 0.42, 0.25])
        if e >= 15:
            z, h, lvl = day_z, day_h, 1.0
        elif e >= 0:
            a = e / 15
            z, h, lvl = gold_z + a * (day_z - gold_z), gold_h + a * (day_h - gold_h), 0.5 + a / 2
        else:
            a = max(0.0, 1 + e / 8)
            z, h, lvl = dusk_z + a * (gold_z - dusk_z), dusk_h + a * (gold_h - dusk_h), 0.05 + a / 2
        grey = np.array([0.8, 0.82, 0.86])
        c = self.cloud_cover**2
        z = (1 - c) * z + c * grey
        h = (1 - c) * h + c * grey
        h = h + self.haze * (np.array([0.9, 0.9, 0.92]) - h) * 0.5
        lvl = lvl * self.sky_level * (1 + 0.5 * c)
        return (z * lvl).astype(np.float32), (h * lvl * 1.2).astype(np.float32)

    def _clear_sky(self, d: np.ndarray) -> np.ndarray:
        up = np.clip(d[:, 1], 0, 1)
        m = np.sqrt(up)[:, None]
        sky = self._horizon[None] * (1 - m) + self._zenith[None] * m
        cos_g = np.clip(d @ self._sun_dir, -1, 1)
        g = np.arccos(cos_g)
        clear = 1 - 0.8 * self.cloud_cover
        glow = (0.03 * np.exp(-g / 0.1) + 0.008 * np.exp(-g / 0.5)) * (1 + 2 * self.haze)
        sun_e = self.sun_irradiance * max(self.sun_elevation + 6, 0) / 96
        sky = sky + (glow * clear * sun_e)[:, None] * self._sun_rgb[None]
        if self.sun_elevation < 15:  # low sun: warm band along the horizon towards it
            band = (
                np.exp(-up / 0.08)
                * (0.5 + 0.5 * np.clip(cos_g, 0, 1))
                * (1 - self.sun_elevation / 15)
            )
            sky = sky + (0.25 * band * clear)[:, None] * self._horizon[None] * np.array(
                [1.0, 0.7, 0.5]
            )
        return sky.astype(np.float32)

    def _cloud_density(self, d: np.ndarray) -> np.ndarray:
        up = d[:, 1]
        h = np.maximum(up, 0.0) + 0.04
        u, v = d[:, 0] / h * self.cloud_scale, d[:, 2] / h * self.cloud_scale
        f = self._noise.fbm(u, v, 7.3, octaves=5)
        c = self.cloud_cover
        dens = np.clip((f - (1.0 - c) * 0.75 - 0.1) / 0.3, 0, 1) ** 1.5
        return dens * np.clip(up / 0.06, 0, 1)

    def _sky(self, d: np.ndarray) -> np.ndarray:
        sky = self._clear_sky(d)
        if self.cloud_cover <= 0.01:
            return sky
        dens = self._cloud_density(d)[:, None]
        g = np.arccos(np.clip(d @ self._sun_dir, -1, 1))
        amb = float(luminance(self._zenith * 0.6 + self._horizon * 0.4))
        sun_e = self.sun_irradiance * max(np.sin(np.deg2rad(self.sun_elevation)), 0) + 1e-3
        lining = (0.004 + 0.05 * np.exp(-g / 0.3)) * sun_e * (1 - 0.6 * self.cloud_cover)
        cloud = amb * 1.1 * np.array([0.95, 0.96, 1.0]) + lining[:, None] * self._sun_rgb[None]
        cloud = cloud * (1.15 - 0.45 * dens)  # thicker → darker base
        return (sky * (1 - dens) + cloud * dens).astype(np.float32)

    def _cloud_transmittance(self) -> float:
        if self.cloud_cover <= 0.01:
            return 1.0
        dens = float(self._cloud_density(self._sun_dir[None])[0])
        return float(np.clip(1 - 0.95 * dens - 0.5 * self.cloud_cover**3, 0.02, 1.0))

    def _extinction(self) -> float:
        """Atmospheric dimming of the sun: ``exp(−0.05 (m − 1))`` with the relative air mass
        ``m`` of Kasten & Young (Applied Optics 1989), about 0.16 at the horizon."""
        e = max(self.sun_elevation, 0.0)
        m = 1.0 / (np.sin(np.deg2rad(e)) + 0.50572 * (e + 6.07995) ** -1.6364)
        return float(np.exp(-0.05 * (1 + self.haze) * (m - 1)))

    def _sky_irradiance(self) -> float:
        """Luminance of the sky's irradiance on a horizontal surface (cosine-weighted)."""
        rng = np.random.default_rng(0)
        v = rng.normal(size=(256, 3)).astype(np.float32)
        v[:, 1] = np.abs(v[:, 1])
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        return float(2 * np.pi * np.mean(luminance(self._sky(v)) * v[:, 1]))

    # ---------------------------------------------------------------- ground
    def _sun_on(self, normal: np.ndarray) -> np.ndarray:
        """Sun irradiance ``(N,)`` on surfaces with unit normals ``(N, 3)`` (no shadows)."""
        e = self.sun_irradiance * self._sun_scale * (self.sun_elevation > -1)
        return np.clip(normal @ self._sun_dir, 0, None) * e

    def _ground(self, d: np.ndarray, pix: float) -> np.ndarray:
        t = self.eye_height / np.maximum(-d[:, 1], 1e-4)
        gx, gz = d[:, 0] * t, d[:, 2] * t
        fw = t * max(pix, 1e-4) / np.maximum(-d[:, 1], 0.02)  # pixel footprint (m)
        alb = self._ground_albedo(gx, gz, fw)
        sun = self.sun_irradiance * self._sun_scale * max(np.sin(np.deg2rad(self.sun_elevation)), 0)
        e = sun * self._sun_rgb + self._e_sky * self._horizon / max(
            float(luminance(self._horizon)), 1e-6
        )
        rad = alb * e[None] / np.pi
        fog = 1 - np.exp(-t / (60 + 400 * (1 - self.haze)))
        return (rad * (1 - fog[:, None]) + self._horizon[None] * fog[:, None]).astype(np.float32)

    def _ground_albedo(self, x: np.ndarray, z: np.ndarray, fw: np.ndarray) -> np.ndarray:
        n, kind = self._noise, self.ground
        base = np.array(self.ground_albedo, np.float32)
        large = n.fbm(x * 0.05, z * 0.05, 1.7, octaves=3)
        fine_aa = np.clip(1 - fw / 0.3, 0, 1)
        fine = n.fbm(x * 4, z * 4, 3.1, octaves=2)
        v = 0.75 + 0.5 * large + 0.35 * (fine - 0.5) * fine_aa
        alb = base[None] * v[:, None]
        if kind == "paving":
            tile = 0.6
            gu, gv = x / tile - np.floor(x / tile), z / tile - np.floor(z / tile)
            edge = np.minimum(np.minimum(gu, 1 - gu), np.minimum(gv, 1 - gv)) * tile
            grout = np.clip(1 - edge / 0.02, 0, 1) * np.clip(1 - fw / 0.1, 0, 1)
            tone = n(np.floor(x / tile) * 1.37, np.floor(z / tile) * 1.37, 5.5)
            alb = alb * (0.8 + 0.4 * tone)[:, None] * (1 - 0.6 * grout)[:, None]
        elif kind == "asphalt":
            line = np.clip(1 - np.abs(x - 2.5) / 0.08, 0, 1) * np.clip(1 - fw / 0.2, 0, 1)
            dash = (np.mod(z, 6.0) < 3.0).astype(np.float32)
            alb = alb + (line * dash)[:, None] * (np.array([0.6, 0.58, 0.5]) - alb)
        elif kind == "grass":
            blade = n(x * 25, z * 25, 9.0) * np.clip(1 - fw / 0.05, 0, 1)
            alb = alb * (0.85 + 0.3 * blade)[:, None]
        elif kind == "sand":
            ripple = np.sin(x * 6 + 3 * large) * np.clip(1 - fw / 0.15, 0, 1)
            alb = alb * (1 + 0.08 * ripple)[:, None]
        return np.clip(alb, 0, 0.95).astype(np.float32)

    # ---------------------------------------------------------------- skyline
    def _skyline_profile(self, phi: np.ndarray) -> np.ndarray:
        """Elevation (rad) of the skyline at azimuth ``phi`` (seamless around the circle)."""
        n, h = self._noise, np.deg2rad(self.skyline_height)
        cx, cz = np.cos(phi), np.sin(phi)
        if self.skyline == "hills":
            return h * (0.15 + 1.0 * n.fbm(cx * 1.5, cz * 1.5, 11.0, octaves=4))
        if self.skyline == "trees":
            crowns = n.fbm(cx * 40, cz * 40, 13.0, octaves=3)
            return h * (0.4 + 0.5 * n.fbm(cx * 3, cz * 3, 12.0, octaves=2) + 0.5 * crowns)
        # city: blocks of random width and height
        block = np.floor((phi + np.pi) / (2 * np.pi) * 90)
        tall = n(block * 0.731, 17.0, 3.0)
        return h * (0.2 + 1.2 * tall**2) * (n(block * 0.37, 2.0, 1.0) > 0.25)

    def _skyline_radiance(self, d, el, phi, prof) -> np.ndarray:
        n = self._noise
        facade = -np.stack([d[:, 0], np.zeros_like(d[:, 0]), d[:, 2]], -1)
        facade /= np.maximum(np.linalg.norm(facade, axis=1, keepdims=True), 1e-6)
        sun = self._sun_on(facade)[:, None] * self._sun_rgb[None]
        amb = self._e_sky * 0.5 * self._horizon / max(float(luminance(self._horizon)), 1e-6)
        if self.skyline == "city":
            alb = (
                np.array([0.3, 0.3, 0.32])
                * (0.7 + 0.6 * n(np.floor((phi + np.pi) * 14.3), 4.0, 0.0))[:, None]
            )
            rad = alb * (sun + amb[None]) / np.pi
            if self.sun_elevation < 5:  # lit windows
                wu, wv = np.mod(phi * 900, 1.0), np.mod(el * 700, 1.0)
                cell = n(np.floor(phi * 900), np.floor(el * 700), 8.0)
                lit = (wu < 0.5) & (wv < 0.5) & (cell > 0.55)
                rad = rad + lit[:, None] * blackbody_rgb(3000)[None] * 0.6 * self.sky_level
        else:
            green = (
                np.array([0.05, 0.08, 0.035])
                if self.skyline == "trees"
                else np.array([0.09, 0.1, 0.06])
            )
            tex = 0.7 + 0.6 * n.fbm(phi * 60, el * 300, 2.0, octaves=3)
            rad = green[None] * tex[:, None] * (sun + amb[None]) / np.pi
        depth = np.clip(el / np.maximum(prof, 1e-4), 0, 1)  # higher → nearer, less haze
        t = (0.35 + 0.4 * (1 - self.haze)) * (0.7 + 0.3 * depth)
        return (rad * t[:, None] + self._horizon[None] * (1 - t[:, None])).astype(np.float32)

    # ---------------------------------------------------------------- wall
    def _draw_wall(self, d: np.ndarray, out: np.ndarray, pix: float) -> None:
        a = np.deg2rad(self.wall_azimuth)
        towards = angles_to_dirs(np.array(0.0), np.array(a)).reshape(3)  # wall lies that way
        proj = d @ towards
        ok = proj > 1e-3
        t = np.where(ok, self.wall_distance / np.maximum(proj, 1e-3), np.inf)
        yh = self.eye_height + d[:, 1] * t  # height above the ground
        ok &= (yh >= 0) & (yh <= self.wall_height)
        if not ok.any():
            return
        side = np.array([towards[2], 0.0, -towards[0]], np.float32)
        u, v, tt = (d[ok] @ side) * t[ok], yh[ok], t[ok]
        fw = tt * max(pix, 1e-4) / np.maximum(proj[ok], 0.05)
        n = self._noise
        kind = self.wall
        if kind == "brick":
            row = np.floor(v / 0.075)
            bu = u / 0.22 + 0.5 * np.mod(row, 2)
            mortar = (np.minimum(np.mod(bu, 1), 1 - np.mod(bu, 1)) * 0.22 < 0.01) | (
                np.mod(v, 0.075) < 0.01
            )
            mortar = mortar * np.clip(1 - fw / 0.02, 0, 1)
            tone = 0.75 + 0.5 * n(np.floor(bu) * 1.1, row * 1.3, 4.0)
            alb = np.array([0.35, 0.14, 0.08]) * tone[:, None]
            alb = alb * (1 - mortar[:, None]) + np.array([0.45, 0.43, 0.4]) * mortar[:, None]
        elif kind == "hedge":
            leaf = n.fbm(u * 12, v * 12, 6.0, octaves=3)
            alb = np.array([0.04, 0.09, 0.03]) * (0.5 + 1.0 * leaf)[:, None]
        elif kind == "fence":
            plank = np.mod(u / 0.15, 1)
            gap = (plank < 0.06) * np.clip(1 - fw / 0.01, 0, 1)
            grain = n(u * 3, v * 40, 2.0)
            alb = (
                np.array([0.32, 0.2, 0.11])
                * (0.7 + 0.5 * grain)[:, None]
                * (1 - 0.7 * gap)[:, None]
            )
        else:
            stain = n.fbm(u * 0.8, v * 0.8, 9.0, octaves=4)
            alb = np.array([0.42, 0.41, 0.39]) * (0.75 + 0.5 * stain)[:, None]
        normal = np.broadcast_to(-towards, (u.size, 3))
        sun = self._sun_on(normal)[:, None] * self._sun_rgb[None]
        amb = 0.5 * self._e_sky * self._horizon / max(float(luminance(self._horizon)), 1e-6)
        out[ok] = (alb * (sun + amb[None]) / np.pi).astype(np.float32)


def sample_outdoor(rng: np.random.Generator) -> OutdoorScene:
    """Draw a random outdoor environment (day, golden hour or dusk; clear to overcast)."""
    u = rng.uniform
    phase = rng.choice(["day", "golden", "dusk"], p=[0.62, 0.28, 0.1])
    el = {"day": u(15, 75), "golden": u(0, 15), "dusk": u(-6, 0)}[phase]
    cover = float(rng.choice([0.0, u(0.1, 0.5), u(0.5, 0.8), u(0.85, 1.0)], p=[0.3, 0.3, 0.2, 0.2]))
    ground = str(rng.choice(GROUNDS, p=[0.35, 0.15, 0.2, 0.2, 0.1]))
    ground_alb = {
        "grass": (0.06, 0.11, 0.035),
        "sand": (0.45, 0.37, 0.26),
        "asphalt": (0.07, 0.07, 0.075),
        "paving": (0.3, 0.28, 0.25),
        "snow": (0.8, 0.82, 0.86),
    }[ground]
    kelvin = 5800 if el > 25 else 2200 + (5800 - 2200) * max(el, 0) / 25
    wall = str(rng.choice(WALLS)) if rng.random() < 0.4 else None
    return OutdoorScene(
        seed=int(rng.integers(2**31 - 1)),
        sun_elevation=float(el),
        sun_azimuth=float(u(-180, 180)),
        sun_radius=float(np.exp(u(np.log(0.27), np.log(2.5)))),
        sun_irradiance=float(u(15, 40)),
        sun_kelvin=float(kelvin * u(0.93, 1.07)),
        sky_level=float(u(0.6, 1.4)),
        haze=float(u(0, 1)),
        cloud_cover=cover,
        cloud_scale=float(u(0.6, 2.0)),
        ground=ground,
        ground_albedo=tuple(float(c * u(0.8, 1.2)) for c in ground_alb),
        eye_height=float(u(1.4, 1.8)),
        skyline=str(rng.choice(SKYLINES, p=[0.2, 0.3, 0.3, 0.2])),
        skyline_height=float(u(2, 10)),
        wall=wall,
        wall_distance=float(u(3, 12)),
        wall_height=float(u(1.0, 4.0)),
        wall_azimuth=float(u(-90, 90)),
    )
