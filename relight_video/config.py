"""The one configuration schema: dataclasses, filled from YAML, then ``--set key=value`` overrides.

Unknown keys are errors, both in YAML files and in overrides (SAM2 / nanoGPT-configurator style).
Nested sections are addressed with dots: ``--set classical.light_strength=0.5``.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from relight_video.errors import InputError

ENGINES = ("composite", "classical", "diffusion")
KEY_MODES = ("green", "blue", "auto")
FITS = ("cover", "contain", "stretch")
X264_PRESETS = (
    "ultrafast superfast veryfast faster fast medium slow slower veryslow placebo".split()
)
MAX_STRENGTH = 3.0  # of RunConfig.strength and of a keyframe's strength
DEVICE = re.compile(r"cpu|mps|cuda(:\d+)?")


@dataclass
class KeyConfig:
    """Chroma key settings (see :mod:`relight_video.keying`)."""

    fg_level: float = 0.4  # normalised colour difference at/below which a pixel is foreground
    bg_level: float = 0.8  # ... at/above which it is screen (between: a soft edge)
    spill: float = 1.0  # 0 = no spill suppression, 1 = full
    matte_blur: float = 0.6  # Gaussian sigma (px at source size) applied to the matte
    edge_alpha: bool = True  # re-estimate the matte's edge from the subject's colour (no fringe)
    smooth: float = 0.5  # temporal smoothing of the estimated key colour (0 = none)


@dataclass
class ClassicalConfig:
    """The non-learned engine (see :mod:`relight_video.classical`)."""

    color_strength: float = 0.6  # fraction of the Reinhard colour (chroma) transfer applied
    luminance_strength: float = 0.0  # fraction of the plate's mean brightness transferred
    light_strength: float = 1.0  # fraction of the spherical-harmonics shading ratio applied
    shading_range: float = 0.6  # max relative change of the shading term
    temporal_smoothing: float = 0.8  # EMA of per-frame statistics (0 = none, 0.95 = very smooth)


@dataclass
class DiffusionConfig:
    """The lighting-aware diffusion engine (see :mod:`relight_video.diffusion_engine`)."""

    # short side, in px, the model runs at; None: the size the checkpoint was trained at (its
    # denoiser's sample_size, in pixels; 48 for the bundle)
    model_size: int | None = None
    # DDIM steps. One step (the model's x0 estimate from pure noise: its posterior mean) scored
    # best on held-out light-stage pairs (README, "Results"); more steps trade accuracy for
    # sample diversity.
    steps: int = 1
    # noise draws per frame, run as one batch and averaged (a better posterior-mean estimate).
    # The bundled model is trained at the top timestep (stage 1c), where its output hardly
    # depends on the draw: 4 draws + mirror scored 18.81 / 20.66 dB held-out against 18.80 /
    # 20.66 for 1 draw + mirror (procedural / unseen HDRIs), so one draw is the default.
    samples: int = 1
    # also run the mirrored frame (plate and subject) and average it back in; light read from
    # the plate only, so it is skipped with --env-map. With the bundled model, +0.05 / +0.01 dB
    # for twice the model time.
    flip: bool = True
    # run the model on a square window around the subject (the shape it was trained on) when
    # the frame is not square; false: on the whole frame
    square: bool = True
    # with square: frame a subject smaller than a training bust in a smaller square, so the
    # model sees it at the scale it was trained at; false: the short side's square always
    zoom: bool = True


@dataclass
class TemporalConfig:
    """Video stability for the diffusion engine (see :mod:`relight_video.temporal`)."""

    mode: str = "flow"  # flow | none (plain per-frame processing)
    # shared: one seeded noise for the whole clip; per_frame: a fresh draw for every frame (how
    # an image relighting tool run frame by frame samples; kept for comparisons)
    noise: str = "shared"
    fraction: float = 0.6  # share of sampling steps guided by the previous frame
    weight: float = 0.8  # blend weight of the warped previous result
    gain_smoothing: float = 0.5  # temporal smoothing of the detail-transfer gain
    # the subject's full-resolution pixels pulled towards the last frame's, warped along the
    # footage's motion (0 = off, keeping the footage's own grain and noise; below 1)
    stabilize: float = 0.5
    flow_backend: str = "dis"  # dis | raft_small | raft_large
    flow_weights: str | None = None  # RAFT weights file (.pth / .safetensors)


@dataclass
class CutConfig:
    """Hard-cut detection (see :mod:`relight_video.cuts`): on the first frame of a new shot the
    key, the person matte and the engine forget the previous shot."""

    detect: bool = True
    threshold: float = 25.0  # least mean change of a 16-px thumbnail, 0..255 levels, or
    histogram: float = 5.0  # least shift of the colour histograms, levels (earth mover's distance)
    ratio: float = 2.0  # ... and at least this times the median of the last few frames' change


@dataclass
class EncodeConfig:
    """Output encoding (see :mod:`relight_video.io`)."""

    crf: int = 18  # H.264 quality (0 = lossless, 51 = worst)
    preset: str = "veryfast"  # x264 preset
    audio: str = "copy"  # copy (re-encode to AAC if the container refuses) | none


@dataclass
class RunConfig:
    """Everything ``relight-video run`` / ``image`` / ``batch`` can be told."""

    engine: str = "diffusion"
    key: str | None = None  # green | blue | auto
    alpha: str | None = None  # alpha clip / PNG folder / "self" (the clip's own alpha)
    garbage: str | None = None  # mask image: black where the subject can never be
    matte: str | None = None  # person
    matte_model: str | None = None  # selfie_segmentation.tflite (default: the installed one)
    background: str | None = None
    fit: str = "cover"
    background_loop: bool = True  # a background clip shorter than the input loops (else holds)
    # long side, in px, of the resolution the engine works at; None: 256 for the diffusion
    # engine (whose model sees a square around the subject: at 128 a 16:9 frame leaves a bust
    # about 65 px tall, and scores 0.1-0.5 dB lower), 128 for the others (see working_px)
    working_size: int | None = None
    # how much of the engine's relight is applied: its low-frequency gain G becomes G**strength
    # (0 = the plain composite, 1 = the engine as trained, above 1 = exaggerated); a keyframe's
    # strength multiplies this
    strength: float = 1.0
    # frame rate of an image-sequence input: 25, 23.976 (read as 24000/1001), "30000/1001";
    # None: 24. A clip keeps its own rate.
    fps: Any = None
    output_alpha: str | None = None
    keyframes: str | None = None  # keyframed lighting YAML (see relight_video.keyframes)
    env_map: str | None = None  # light from this HDR map (.exr/.hdr; needs a stage-2 checkpoint)
    env_yaw: float = 0.0  # turn the env map's light around the subject, degrees
    checkpoint: str | None = None
    device: str = "cpu"
    seed: int = 0
    keying: KeyConfig = field(default_factory=KeyConfig)
    classical: ClassicalConfig = field(default_factory=ClassicalConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    cuts: CutConfig = field(default_factory=CutConfig)
    encode: EncodeConfig = field(default_factory=EncodeConfig)

    @property
    def working_px(self) -> int:
        """The working size in force: ``working_size``, or the engine's default."""
        if self.working_size is not None:
            return self.working_size
        return 256 if self.engine == "diffusion" else 128

    def validate(self) -> RunConfig:
        """Raise :class:`InputError` naming the first bad value."""
        if self.engine not in ENGINES:
            raise InputError(f"engine: expected one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.key is not None and self.key not in KEY_MODES:
            raise InputError(f"key: expected one of {', '.join(KEY_MODES)}, got {self.key!r}")
        if self.matte is not None and self.matte != "person":
            raise InputError(f"matte: expected 'person', got {self.matte!r}")
        if sum(x is not None for x in (self.key, self.alpha, self.matte)) > 1:
            raise InputError("give only one of --key, --alpha, --matte")
        if self.fit not in FITS:
            raise InputError(f"fit: expected one of {', '.join(FITS)}, got {self.fit!r}")
        if self.fps is not None:
            parse_rate(self.fps)
        if self.working_size is not None and not 16 <= self.working_size <= 4096:
            raise InputError(f"working_size: expected 16..4096, got {self.working_size}")
        if not 0 <= self.encode.crf <= 51:
            raise InputError(f"encode.crf: expected 0..51, got {self.encode.crf}")
        if self.encode.preset not in X264_PRESETS:
            raise InputError(
                f"encode.preset: expected one of {', '.join(X264_PRESETS)}, "
                f"got {self.encode.preset!r}"
            )
        if not DEVICE.fullmatch(self.device):
            raise InputError(f"device: expected cpu, cuda, cuda:N or mps, got {self.device!r}")
        if self.encode.audio not in ("copy", "none"):
            raise InputError(f"encode.audio: expected copy or none, got {self.encode.audio!r}")
        ranges = {
            "keying.fg_level": (self.keying.fg_level, 0.0, 1.0),
            "keying.bg_level": (self.keying.bg_level, 0.0, 2.0),
            "keying.spill": (self.keying.spill, 0.0, 1.0),
            "keying.matte_blur": (self.keying.matte_blur, 0.0, 100.0),
            "keying.smooth": (self.keying.smooth, 0.0, 0.999),
            "classical.color_strength": (self.classical.color_strength, 0.0, 2.0),
            "classical.light_strength": (self.classical.light_strength, 0.0, 2.0),
            "classical.luminance_strength": (self.classical.luminance_strength, 0.0, 2.0),
            "classical.shading_range": (self.classical.shading_range, 0.0, 1.0),
            "strength": (self.strength, 0.0, MAX_STRENGTH),
            "temporal.fraction": (self.temporal.fraction, 0.0, 1.0),
            "temporal.weight": (self.temporal.weight, 0.0, 1.0),
            "temporal.gain_smoothing": (self.temporal.gain_smoothing, 0.0, 1.0),
            "cuts.threshold": (self.cuts.threshold, 0.1, 255.0),
            "cuts.histogram": (self.cuts.histogram, 0.1, 255.0),
            "cuts.ratio": (self.cuts.ratio, 1.0, 100.0),
        }
        for name, (v, lo, hi) in ranges.items():
            if not lo <= v <= hi:
                raise InputError(f"{name}: expected {lo:g}..{hi:g}, got {v:g}")
        if self.keying.fg_level >= self.keying.bg_level:
            raise InputError(
                f"keying.fg_level ({self.keying.fg_level:g}) must be below keying.bg_level "
                f"({self.keying.bg_level:g})"
            )
        if not 1 <= self.diffusion.steps <= 1000:
            raise InputError(f"diffusion.steps: expected 1..1000, got {self.diffusion.steps}")
        if self.diffusion.model_size is not None and not 8 <= self.diffusion.model_size <= 2048:
            raise InputError(
                f"diffusion.model_size: expected 8..2048, got {self.diffusion.model_size}"
            )
        if not 1 <= self.diffusion.samples <= 64:
            raise InputError(f"diffusion.samples: expected 1..64, got {self.diffusion.samples}")
        if self.temporal.mode not in ("flow", "none"):
            raise InputError(f"temporal: expected flow or none, got {self.temporal.mode!r}")
        if self.temporal.noise not in ("shared", "per_frame"):
            raise InputError(
                f"temporal.noise: expected shared or per_frame, got {self.temporal.noise!r}"
            )
        if self.temporal.flow_backend not in ("dis", "raft_small", "raft_large"):
            raise InputError(
                f"temporal.flow_backend: expected dis, raft_small or raft_large, "
                f"got {self.temporal.flow_backend!r}"
            )
        stabilize_weight(self.temporal.stabilize)
        if not 0.0 <= self.classical.temporal_smoothing < 1.0:
            raise InputError("classical.temporal_smoothing: expected 0 <= value < 1")
        return self


NTSC = (24, 30, 48, 60, 120)  # rates written as N × 1000/1001 in practice


def stabilize_weight(k: float) -> float:
    """``temporal.stabilize``, checked: 0 <= k < 1 (at 1 the subject would never update). The
    config and the temporal classes, which can be built without a config, both call it."""
    if not 0.0 <= k < 1.0:
        raise InputError(f"temporal.stabilize: expected 0 <= value < 1, got {k:g}")
    return k


def parse_rate(value: Any) -> Fraction:
    """A frame rate from ``25``, ``23.976``, ``"24000/1001"``: a positive Fraction. Decimals
    within 0.002 of an NTSC rate (N × 1000/1001) are read as that rate."""
    try:
        if isinstance(value, bool):
            raise ValueError
        rate = Fraction(value) if isinstance(value, float) else Fraction(str(value).strip())
    except (ValueError, ZeroDivisionError, OverflowError):
        raise InputError(
            f"fps: expected a frame rate like 25, 23.976 or 24000/1001, got {value!r}"
        ) from None
    if not 0 < rate <= 1000:
        raise InputError(f"fps: expected a rate in (0, 1000], got {value!r}")
    if rate.denominator != 1001:
        for n in NTSC:
            ntsc = Fraction(n * 1000, 1001)
            if rate != n and abs(rate - ntsc) < Fraction(2, 1000):
                return ntsc
    return rate.limit_denominator(1_000_000)


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Check/convert one YAML value against a dataclass field annotation."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if value is None and type(None) in args:
            return None
        (annotation,) = [a for a in args if a is not type(None)]
    if annotation is typing.Any:
        return value
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise InputError(f"{where}: expected a mapping of settings, got {value!r}")
        return from_dict(annotation, value, where + ".")
    if typing.get_origin(annotation) is list:
        if isinstance(value, list):
            (item,) = typing.get_args(annotation) or (typing.Any,)
            return [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        raise InputError(f"{where}: expected a list, got {value!r}")
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise InputError(f"{where}: expected true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise InputError(f"{where}: expected an integer, got {value!r}")
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if math.isfinite(value):
                return float(value)
        elif isinstance(value, str):  # YAML 1.1 reads ``2e-4`` (no dot) as a string
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if math.isfinite(number):
                return number
        raise InputError(f"{where}: expected a number, got {value!r}")
    if annotation is str:
        if isinstance(value, (str, Path)):
            return str(value)
        raise InputError(f"{where}: expected a string, got {value!r}")
    return value


def from_dict(cls: type, data: dict, prefix: str = "") -> Any:
    """Build dataclass ``cls`` from ``data``; unknown keys raise :class:`InputError`."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)  # resolves string annotations in cls's own module
    kwargs = {}
    for key, value in data.items():
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise InputError(f"unknown config key '{prefix}{key}' (known: {known})")
        kwargs[key] = _coerce(value, hints[key], f"{prefix}{key}")
    return cls(**kwargs)


def to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def load_yaml(path: str | Path, what: str = "config file") -> Any:
    """Parse a YAML file; missing, unreadable, non-UTF-8 or bad YAML is an :class:`InputError`."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} not found: {path}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not a UTF-8 text file (byte {e.start})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise InputError(f"bad YAML in {path}{where}: {getattr(e, 'problem', e)}") from None


def read_yaml(path: str | Path) -> dict:
    """Read a YAML mapping; a missing file or bad YAML is an :class:`InputError`."""
    data = load_yaml(path) or {}
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping at the top level")
    return data


def to_number(value: Any, where: str) -> float:
    """A finite number from YAML (``5e-1``, which YAML 1.1 reads as text, included)."""
    return _coerce(value, float, where)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``'classical.light_strength=0.5'`` → (['classical', 'light_strength'], 0.5)."""
    import yaml

    if "=" not in text:
        raise InputError(f"--set expects key=value, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw != "" else None
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def merge_sections(defaults: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` over ``defaults`` (a new dict); sections (dicts) merge key by key."""
    out = dict(defaults)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def merge(base: dict, path: list[str], value: Any) -> None:
    node = base
    for part in path[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise InputError(f"--set {'.'.join(path)}: {part!r} is not a section")
    node[path[-1]] = value


def load_run_config(
    config_path: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    **options: Any,
) -> RunConfig:
    """YAML file, then ``--set`` overrides, then explicit options (CLI flags) win; validated."""
    data: dict = read_yaml(config_path) if config_path else {}
    for text in overrides:
        merge(data, *parse_override(text))
    for key, value in options.items():
        if value is not None:
            data[key] = value
    return from_dict(RunConfig, data).validate()
