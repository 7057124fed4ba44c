"""Keyframed lighting: what the light does over time, interpolated between keys.

A keyframe file is a YAML list (or a mapping with ``keys:``) of keys::

    - {frame: 0, temperature_k: 6500, intensity: 1.0}
    - {time: "00:00:02.5", temperature_k: 2800, intensity: 0.7, yaw_deg: -40,
       interpolation: smooth}
    - {frame: 120, background: plates/night.png, interpolation: hold}

Each key has a time (``frame`` or ``time`` as ``HH:MM:SS.s`` / seconds) and any of
``background`` (image or clip), ``env_map`` (HDR map, needs a stage-2 checkpoint), ``yaw_deg``,
``intensity``, ``temperature_k``, ``tint``, ``strength`` and ``interpolation`` (``linear``, ``smooth``,
``hold``: how the segment *into* this key moves). Values not given are carried from the previous
key. Between keys numbers are interpolated and backgrounds cross-faded, never popped.

The lighting acts on the *conditioning* (the plate the engine reads light from), not on the
visible background: ``intensity`` scales it, ``temperature_k`` white-balances it with the colour
of a black body at that temperature (relative to 6500 K), ``tint`` shifts it along green–magenta,
``yaw_deg`` turns the light around the subject (an env map is rotated exactly; a plate, which
covers about ±60° of view, is rolled horizontally by the same angle, but only when no env map
lights the frame: under a map, the plate the engine reads keeps its place, as a real backdrop
does when the light moves round, and rolling it too made the model's response jump).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from relight_video.config import MAX_STRENGTH, to_number
from relight_video.errors import InputError

KEY_FIELDS = {
    "frame",
    "time",
    "background",
    "env_map",
    "yaw_deg",
    "intensity",
    "strength",
    "temperature_k",
    "tint",
    "interpolation",
}
NUMERIC = ("yaw_deg", "intensity", "temperature_k", "tint", "strength")
INTERPOLATIONS = ("linear", "smooth", "hold")
PLATE_FOV_DEG = 120.0  # horizontal field a plate is taken to cover (lighting.background_sh)


@dataclass
class Lighting:
    """The lighting at one instant."""

    intensity: float = 1.0
    temperature_k: float = 6500.0
    tint: float = 0.0
    yaw_deg: float = 0.0
    strength: float = 1.0  # multiplies the run's strength (how much of the relight is applied)
    background: str | None = None  # the plate in force (None: the run's background)
    background_next: str | None = None  # cross-fading towards this plate...
    background_mix: float = 0.0  # ...by this much (0..1)
    env_map: str | None = None  # the HDR map in force (None: light from the plate)
    env_map_next: str | None = None  # cross-fading towards this map...
    env_mix: float = 0.0  # ...by this much (0..1)

    def colour(self, intensity: bool = True) -> np.ndarray:
        """RGB multiplier ``(3,)`` for intensity (unless ``intensity=False``), temperature and
        tint."""
        rgb = blackbody_rgb(self.temperature_k) / blackbody_rgb(6500.0)
        rgb = rgb / rgb[1] if rgb[1] > 0 else rgb
        tint = np.array([1 + 0.15 * self.tint, 1 - 0.15 * self.tint, 1 + 0.15 * self.tint])
        return ((self.intensity if intensity else 1.0) * rgb * tint).astype(np.float32)

    def subject_gain(self) -> float:
        """What ``intensity`` does to the subject lit from a plate, on sRGB values: light
        scaled by ``k`` scales linear radiance by ``k``, about ``k^(1/2.2)`` once encoded.

        Applied to the result, not the plate: the engines read the plate's light *relative* to
        the plate (the model was trained on exposure-normalised pairs, the classical engine
        transfers no brightness by default), so a darker plate barely darkened the subject
        (intensity 0.25: 0 levels classical, -1.8 diffusion)."""
        return float(max(self.intensity, 0.0) ** (1 / 2.2))

    def plate_light(self) -> tuple[float, float, float]:
        """What :meth:`apply_to_plate` depends on: two lightings with equal values give the
        engine the same plate."""
        return self.temperature_k, self.tint, self.yaw_deg

    def apply_to_plate(self, plate: np.ndarray, turn: bool = True) -> np.ndarray:
        """Conditioning plate ``(h, w, 3) float32`` sRGB in [0, 1] under this lighting's
        colour and direction (its intensity is :meth:`subject_gain`). ``turn=False``: colour
        only, for a frame lit from an env map, where the map carries the turn."""
        from relight_video.lighting import linear_to_srgb, srgb_to_linear

        lin = srgb_to_linear(plate) * self.colour(intensity=False)
        if self.yaw_deg and turn:
            lin = turn_plate(lin, self.yaw_deg)
        return linear_to_srgb(lin)

    def apply_to_env(self, env: np.ndarray, env_next: np.ndarray | None = None) -> np.ndarray:
        """The linear HDR map ``(H, 2H, 3)`` under this lighting: cross-faded towards
        ``env_next`` by ``env_mix`` (light adds linearly, so this is exact), turned by
        ``yaw_deg`` and coloured by intensity, temperature and tint."""
        from relight_video.envmap import resize_env, rotate_env

        if env_next is not None and self.env_mix > 0:
            env = (1 - self.env_mix) * env + self.env_mix * resize_env(env_next, env.shape[0])
        if self.yaw_deg:
            env = rotate_env(env, self.yaw_deg)
        return (env * self.colour()).astype(np.float32)


def turn_plate(plate: np.ndarray, yaw_deg: float) -> np.ndarray:
    """Turn the light a plate implies by ``yaw_deg`` (positive: towards image right).

    The plate is the ``PLATE_FOV_DEG`` window of a panorama whose unseen rest holds the plate's
    mean radiance; the panorama is turned and the same window cut again, so the plate's bright
    regions slide out of view on one side while the mean slides in on the other.
    """
    h, w = plate.shape[:2]
    shift = int(round(np.clip(yaw_deg / PLATE_FOV_DEG, -1, 1) * w))
    mean = plate.reshape(-1, plate.shape[2]).mean(axis=0)
    pano = np.empty((h, 3 * w, plate.shape[2]), plate.dtype)
    pano[:] = mean
    pano[:, w : 2 * w] = plate
    return np.ascontiguousarray(pano[:, w - shift : 2 * w - shift])


def blackbody_rgb(kelvin: float) -> np.ndarray:
    """Approximate sRGB colour of a black body (Tanner Helland's fit to Mitchell Charity's
    blackbody table, 1000–40000 K), linearised, ``(3,)`` in [0, 1]."""
    t = min(max(kelvin, 1000.0), 40000.0) / 100.0
    r = 255.0 if t <= 66 else 329.698727446 * (t - 60) ** -0.1332047592
    if t <= 66:
        g = 99.4708025861 * math.log(t) - 161.1195681661
    else:
        g = 288.1221695283 * (t - 60) ** -0.0755148492
    if t >= 66:
        b = 255.0
    elif t <= 19:
        b = 0.0
    else:
        b = 138.5177312231 * math.log(t - 10) - 305.0447927307
    srgb = np.clip(np.array([r, g, b]) / 255.0, 0, 1)
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


@dataclass
class Key:
    frame: int
    values: dict = field(default_factory=dict)
    interpolation: str = "linear"


def parse_time(value, fps: float, where: str, times: np.ndarray | None = None) -> int:
    """``time: 2.5`` / ``time: "00:01:02.5"`` → the index of the frame shown at that time:
    ``round(seconds · fps)``, or with ``times`` (a variable-frame-rate clip's frame times from
    its first frame) the last frame that starts at or before it."""
    if isinstance(value, str) and ":" not in value:
        try:  # "1e3", which YAML 1.1 leaves as text
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = to_number(value, f"{where}: time")
    else:
        m = re.fullmatch(r"(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d*)?)", str(value).strip())
        if not m:
            raise InputError(f"{where}: bad time {value!r} (use seconds or HH:MM:SS.s)")
        parts = [float(x) for x in m.groups() if x is not None]
        seconds = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    if times is None:
        return int(round(seconds * fps))
    if seconds > times[-1] + 1.0 / fps:  # past the clip's last frame
        return len(times) + int(round((seconds - times[-1]) * fps))
    return max(0, int(np.searchsorted(times, seconds + 1e-6, side="right")) - 1)


class Keyframes:
    """A sorted list of keys; :meth:`at` gives the :class:`Lighting` at a frame."""

    def __init__(self, keys: list[Key]):
        if not keys:
            raise InputError("keyframes: no keys")
        if not all(isinstance(k, Key) for k in keys):
            raise InputError(
                "Keyframes takes Key objects; build keys from mappings with "
                "Keyframes.from_list([{'frame': 0, ...}, ...], fps)"
            )
        self.keys = sorted(keys, key=lambda k: k.frame)
        frames = [k.frame for k in self.keys]
        if len(set(frames)) != len(frames):
            raise InputError("keyframes: two keys at the same frame")
        with_env = [k for k in self.keys if "env_map" in k.values]
        if with_env and "env_map" not in self.keys[0].values:
            raise InputError(
                f"keyframes: the key at frame {with_env[0].frame} sets env_map but the first key "
                "does not; light from a map from the first key on (or from none)"
            )

    @classmethod
    def load(
        cls,
        path: str | Path,
        fps: float,
        num_frames: int | None = None,
        times: np.ndarray | None = None,
    ) -> Keyframes:
        from relight_video.config import load_yaml

        path = Path(path)
        data = load_yaml(path, "keyframes file")
        if isinstance(data, dict):
            extra = set(data) - {"keys"}
            if extra:
                raise InputError(f"{path}: unknown top-level key(s) {sorted(extra)}; use 'keys'")
            data = data.get("keys")
        if not isinstance(data, list):
            raise InputError(f"{path}: expected a list of keys")
        return cls.from_list(data, fps, num_frames, base=path.parent, where=str(path), times=times)

    @classmethod
    def from_list(
        cls,
        items: list[dict],
        fps: float,
        num_frames: int | None = None,
        base: Path | None = None,
        where: str = "keyframes",
        times: np.ndarray | None = None,
    ) -> Keyframes:
        """``times``: a variable-frame-rate clip's frame times, to place ``time:`` keys."""
        if not fps > 0:
            raise InputError(f"{where}: fps must be positive, got {fps}")
        keys = []
        for i, item in enumerate(items):
            w = f"{where}: key {i + 1}"
            if not isinstance(item, dict):
                raise InputError(f"{w}: expected a mapping, got {item!r}")
            unknown = set(item) - KEY_FIELDS
            if unknown:
                raise InputError(
                    f"{w}: unknown key(s) {sorted(unknown)} "
                    f"(known: {', '.join(sorted(KEY_FIELDS))})"
                )
            if ("frame" in item) == ("time" in item):
                raise InputError(f"{w}: give exactly one of 'frame' or 'time'")
            if "frame" in item:
                if not isinstance(item["frame"], int) or isinstance(item["frame"], bool):
                    raise InputError(f"{w}: frame must be an integer, got {item['frame']!r}")
                frame = item["frame"]
            else:
                frame = parse_time(item["time"], fps, w, times)
            if frame < 0 or (num_frames is not None and frame >= num_frames):
                limit = f" (the clip has {num_frames} frames)" if num_frames else ""
                raise InputError(f"{w}: frame {frame} is out of range{limit}")
            interp = item.get("interpolation", "linear")
            if interp not in INTERPOLATIONS:
                raise InputError(f"{w}: interpolation must be one of {', '.join(INTERPOLATIONS)}")
            values = {}
            for name in NUMERIC:
                if name in item:
                    values[name] = to_number(item[name], f"{w}: {name}")
            if values.get("intensity", 1.0) < 0:
                raise InputError(f"{w}: intensity must be >= 0")
            if not 0 <= values.get("strength", 1.0) <= MAX_STRENGTH:
                raise InputError(f"{w}: strength must be within 0..{MAX_STRENGTH:g}")
            if "temperature_k" in values and not 1000 <= values["temperature_k"] <= 40000:
                raise InputError(f"{w}: temperature_k must be within 1000..40000")
            for name in ("background", "env_map"):
                if name in item:
                    if not isinstance(item[name], str) or not item[name]:
                        raise InputError(f"{w}: {name} must be a file path, got {item[name]!r}")
                    p = Path(item[name])
                    p = p if p.is_absolute() or base is None else base / p
                    if not p.exists():
                        raise InputError(f"{w}: {name} not found: {p}")
                    values[name] = str(p)
            keys.append(Key(frame, values, interp))
        return cls(keys)

    def _resolved(self) -> list[Lighting]:
        """Each key's full lighting (values carried forward from earlier keys)."""
        out, current = [], Lighting()
        for k in self.keys:
            current = replace(current, **k.values)
            out.append(current)
        return out

    def at(self, frame: int) -> Lighting:
        """The lighting at ``frame`` (before the first key: the first key's; after the last:
        the last key's)."""
        resolved = self._resolved()
        if frame <= self.keys[0].frame:
            return resolved[0]
        for i in range(1, len(self.keys)):
            k0, k1 = self.keys[i - 1], self.keys[i]
            if frame < k1.frame:
                u = (frame - k0.frame) / (k1.frame - k0.frame)
                return blend(resolved[i - 1], resolved[i], u, k1.interpolation)
        return resolved[-1]


def blend(a: Lighting, b: Lighting, u: float, interpolation: str) -> Lighting:
    """Lighting between keys ``a`` (u=0) and ``b`` (u=1)."""
    if interpolation == "hold":
        return a
    if interpolation == "smooth":
        u = u * u * (3 - 2 * u)  # smoothstep
    mixed = {n: (1 - u) * getattr(a, n) + u * getattr(b, n) for n in NUMERIC}
    out = replace(a, **mixed)
    if a.background != b.background:
        out = replace(out, background_next=b.background, background_mix=u)
    if a.env_map != b.env_map:
        out = replace(out, env_map_next=b.env_map, env_mix=u)
    return out
