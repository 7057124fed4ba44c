"""Streaming video and image IO.

Decode: :func:`read_frames` yields ``(H, W, 3|4) uint8`` RGB(A) frames one at a time, with PyAV
by default (memory constant in clip length) or decord on request (RGB only). Measured at 1080p
while encoding on a second thread, as every run does: decord decodes ahead without bound
(peak RSS 430 MiB for 24 frames, 728 MiB for 96) and competes with the encoder; PyAV stays at
~320 MiB and its decode+encode floor ran faster (91 vs 78–83 fps).

Encode: :class:`VideoWriter` writes, by the output path,

- ``*.mp4`` / ``*.m4v`` / ``*.mkv``: H.264 (libx264, yuv420p; odd sizes are padded by one
  replicated row/column, since 4:2:0 needs even sizes),
- ``*.mov``: ProRes 4444 (``prores_ks``, 10-bit, with an alpha channel when frames are RGBA),
- a folder (``out/``, or any path without a suffix) or a ``name_%04d.png`` pattern: PNG sequence.

Phone footage stores its frames sideways with a display rotation (a display matrix); frames are
decoded upright, as players show them (sizes in :class:`VideoInfo` are the upright ones), and
outputs are written upright with no rotation left to apply.

The input's frame rate is kept exactly (a :class:`fractions.Fraction`), one output frame per input
frame; variable-frame-rate footage (phones) keeps each frame's time (:class:`Timing`). Every
audio track of the input is stream-copied (re-encoded to AAC, channel layout kept, when the
container cannot hold the codec), its clock shifted with the picture's when the clip starts late
(camcorder MPEG-TS/MXF). A PNG sequence cannot hold audio, so the audio goes to ``audio.mka``
beside the frames. Every output is written under a temporary name and renamed only when complete.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import secrets
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from relight_video.errors import InputError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".exr", ".hdr"}
VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mxf", ".gif"}
VFR_TIMESCALE = 90000  # ticks per second of variable-frame-rate outputs (MPEG's clock)
# Audio codecs each container takes as a stream copy; anything else is re-encoded to AAC.
_COPYABLE_AUDIO = {
    "mp4": {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"},
    "mov": {"aac", "mp3", "ac3", "eac3", "alac"}
    | {f"pcm_{t}{e}" for t in ("s16", "s24", "s32", "f32") for e in ("le", "be")},
    "matroska": None,  # anything
}


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int
    height: int
    fps: Fraction
    num_frames: int
    has_audio: bool
    has_alpha: bool
    rotation: int = 0  # degrees counter-clockwise applied on decode to show the frames upright
    sar: Fraction = Fraction(1)  # pixel aspect (anamorphic HDV/DV footage: 4/3, 10/11 ...)
    transfer: str = "sdr"  # sdr | hlg | pq: HDR clips are decoded tone-mapped to SDR BT.709
    timecode: str | None = None  # the first frame's SMPTE timecode ("01:00:10:05"), if stored
    interlaced: bool = False  # coded as fields (1080i broadcast, HDV): deinterlaced on decode
    start: float = 0.0  # the first shown frame's time in the file (s); audio is aligned to it
    # each frame's time from the first (s) when the frame rate varies (phones, GIFs), else None
    frame_times: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def duration(self) -> float:
        return self.num_frames / float(self.fps)


def is_image_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def is_sequence_path(path: str | Path) -> bool:
    """A PNG-sequence output: a folder, a path without suffix, or a printf pattern."""
    p = str(path)
    return p.endswith(("/", os.sep)) or "%" in Path(p).name or Path(p).suffix == ""


# ----------------------------------------------------------------------------------- decode


def probe(path: str | Path) -> VideoInfo:
    """Read size, exact frame rate, frame count, audio and alpha of a clip.

    Raises :class:`InputError` for a missing, empty, corrupt or frame-less file.
    """
    import av

    path = Path(path)
    if path.is_dir():
        return _probe_sequence(path)
    if not path.is_file():
        raise InputError(f"file not found: {path}")
    if path.stat().st_size == 0:
        raise InputError(f"empty file (0 bytes): {path}")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"no video stream in {path}")
            stream = container.streams.video[0]
            fps = stream.average_rate or stream.guessed_rate or stream.base_rate
            if not fps:
                raise InputError(f"cannot tell the frame rate of {path}")
            scan = _scan(path)
            interlaced = _interlaced(stream)
            # frames shown: what the decoder presents, not the container's sample count (an
            # edit list or a cut before the first keyframe hides some of those)
            num = len(scan.times) or stream.frames
            times = _variable_times(scan.times, Fraction(fps), interlaced)
            if times is not None and len(times) > 1:  # the average over the frames shown
                fps = Fraction((len(times) - 1) / times[-1]).limit_denominator(1001000)
            pix_fmt = stream.codec_context.pix_fmt or ""
            has_alpha = pix_fmt.startswith(("yuva", "rgba", "bgra", "argb", "abgr", "gbrap", "ya"))
            has_alpha = has_alpha or _vpx_alpha_decoder(stream) is not None
            rotation = scan.rotation
            w, h = stream.codec_context.width, stream.codec_context.height
            sar = Fraction(
                stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio or 1
            )
            if sar <= 0:  # 0/1: "unknown", square
                sar = Fraction(1)
            info = VideoInfo(
                path=path,
                width=h if rotation % 180 else w,
                height=w if rotation % 180 else h,
                fps=Fraction(fps),
                num_frames=int(num),
                has_audio=bool(container.streams.audio),
                has_alpha=has_alpha,
                rotation=rotation,
                sar=1 / sar if rotation % 180 else sar,
                transfer=_transfer(stream),
                timecode=_timecode(container),
                interlaced=interlaced,
                start=float(scan.times[0]) if len(scan.times) else 0.0,
                frame_times=times,
            )
    except InputError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as e:
        raise InputError(f"cannot read video {path}: {e}") from None
    if info.num_frames <= 0 or info.width <= 0:
        raise InputError(f"no decodable frames in {path}")
    return info


def _rotation(frame) -> int:
    """A decoded frame's display rotation, counter-clockwise, snapped to 0/90/180/270."""
    r = getattr(frame, "rotation", 0) or 0
    return int(round(r / 90.0)) % 4 * 90


@dataclass(frozen=True)
class _Scan:
    rotation: int  # of the first decoded frame
    times: np.ndarray  # sorted presentation times (s) of the frames the decoder will show


def _scan(path: Path) -> _Scan:
    st = path.stat()
    return _scan_file(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=32)
def _scan_file(path: str, mtime_ns: int, size: int) -> _Scan:
    """Decode the first frame (its rotation and time), then read every video packet's time
    (no decoding). Packets an edit list discards, empty ones (AVI drops) and those before the
    first decodable frame (a clip cut mid-GOP) are not shown, so they are not counted."""
    import av

    with av.open(path) as container:
        first = next(container.decode(video=0), None)
    rotation = _rotation(first) if first is not None else 0
    with av.open(path) as container:
        stream = container.streams.video[0]
        tb = float(stream.time_base or 0)
        pts = [
            p.pts
            for p in container.demux(stream)
            if p.size and p.pts is not None and not p.is_discard
        ]
    times = np.sort(np.asarray(pts, np.float64)) * tb
    if first is not None and first.time is not None and len(times):
        times = times[times >= first.time - 1e-6]
    return _Scan(rotation, times)


def _variable_times(times: np.ndarray, fps: Fraction, interlaced: bool) -> np.ndarray | None:
    """Each frame's time from the first when they stray from the ``i / fps`` grid by more than
    a quarter frame somewhere, else None. Never for interlaced streams, whose packets may hold
    one field each (their times would play the clip at double speed)."""
    if interlaced or len(times) < 2:
        return None
    t = times - times[0]
    grid = np.arange(len(t)) / float(fps)
    return t if np.abs(t - grid).max() > 0.25 / float(fps) else None


def _upright(img: np.ndarray, rotation: int) -> np.ndarray:
    """Turn a decoded frame counter-clockwise by ``rotation`` degrees (0/90/180/270)."""
    if not rotation:
        return img
    import cv2

    code = {
        90: cv2.ROTATE_90_COUNTERCLOCKWISE,
        180: cv2.ROTATE_180,
        270: cv2.ROTATE_90_CLOCKWISE,
    }[rotation]
    return cv2.rotate(img, code)


def _natural_key(path: Path) -> list:
    """``frame2`` before ``frame10``: digit runs compare as numbers."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def _sequence_files(folder: Path) -> list[Path]:
    """The images of a folder in frame order (numbers in names compare as numbers)."""
    files = sorted(
        (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key
    )
    if not files:
        raise InputError(f"no image files in folder {folder}")
    return files


def _probe_sequence(folder: Path, fps: Fraction = Fraction(24)) -> VideoInfo:
    files = _sequence_files(folder)
    first = read_image(files[0])
    return VideoInfo(
        path=folder,
        width=first.shape[1],
        height=first.shape[0],
        fps=fps,
        num_frames=len(files),
        has_audio=False,
        has_alpha=first.ndim == 3 and first.shape[2] == 4,
    )


@dataclass(frozen=True)
class Timing:
    """When a clip's frames are shown: ``start`` (s), the first frame's time in the file, which
    the audio is aligned to, and ``times`` (s from the first frame) when the frame rate varies
    (phone footage), None for a constant rate."""

    start: float = 0.0
    times: np.ndarray | None = None


def describe(path: str | Path) -> dict:
    """What the tool sees in a clip (or image folder) and what it will do with it, for
    ``relight-video probe``: sizes, exact rate, frame times, colour, fields, audio, timecode."""
    import av

    info = probe(path)
    audio = []
    if info.has_audio:
        with av.open(str(info.path)) as c:
            for s in c.streams.audio:
                cc = s.codec_context
                audio.append(
                    {
                        "codec": cc.codec.canonical_name,
                        "channels": cc.layout.nb_channels,
                        "layout": cc.layout.name,
                        "rate": cc.sample_rate,
                    }
                )
    display_w = round(info.width * info.sar)
    return {
        "path": str(info.path),
        "size": f"{info.width}x{info.height}",
        "display_size": f"{display_w}x{info.height}",
        "pixel_aspect": str(info.sar),
        "rotation": info.rotation,
        "fps": str(info.fps),
        "frames": info.num_frames,
        "duration_s": round(info.duration, 3),
        "variable_frame_rate": info.frame_times is not None,
        "start_s": round(info.start, 6),
        "hdr": None if info.transfer == "sdr" else info.transfer,
        "interlaced": info.interlaced,
        "alpha": info.has_alpha,
        "audio": audio,
        "timecode": info.timecode,
    }


def read_frames(
    path: str | Path, *, alpha: bool = False, backend: str = "auto"
) -> Iterator[np.ndarray]:
    """Yield frames ``(H, W, 3) uint8`` RGB (``(H, W, 4)`` RGBA with ``alpha=True``).

    ``backend``: ``auto`` (PyAV, see the module notes), ``pyav`` or ``decord`` (RGB only;
    reads ahead, so memory grows with clip length). A folder is read as an image sequence in
    name order.
    """
    path = Path(path)
    if path.is_dir():
        size = None
        for f in _sequence_files(path):
            img = read_image(f)
            size = size or img.shape[:2]
            if img.shape[:2] != size:
                h, w = img.shape[:2]
                raise InputError(f"{f} is {w}x{h}, the sequence's first frame {size[1]}x{size[0]}")
            yield _to_channels(img, 4 if alpha else 3)
        return
    if backend not in ("auto", "decord", "pyav"):
        raise InputError(f"unknown decode backend {backend!r} (auto, decord, pyav)")
    if backend == "decord" and probe(path).transfer != "sdr":
        backend = "pyav"  # decord cannot tone-map HDR
    if backend == "decord":
        if alpha:
            raise InputError("decord cannot decode alpha; use backend='pyav'")
        yield from _read_decord(path)
    else:
        yield from _read_pyav(path, alpha)


def _read_decord(path: Path) -> Iterator[np.ndarray]:
    import decord

    try:
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0))
    except (decord.DECORDError, RuntimeError) as e:
        raise InputError(f"cannot decode {path}: {str(e).splitlines()[0]}") from None
    n = len(reader)
    try:  # decord does not apply the display matrix
        rotation = _scan(path).rotation
    except Exception:  # noqa: BLE001 - an undecodable first frame fails below, with its error
        rotation = 0
    for i in range(n):
        try:
            frame = reader.next()
        except StopIteration:
            return
        except (decord.DECORDError, RuntimeError) as e:
            raise InputError(f"cannot decode frame {i} of {path}: {e}") from None
        yield _upright(frame.asnumpy(), rotation)
    del reader


def _read_pyav(path: Path, alpha: bool) -> Iterator[np.ndarray]:
    import av

    fmt = "rgba" if alpha else "rgb24"
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as e:
        raise InputError(f"cannot open {path}: {e}") from None
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        vpx = _vpx_alpha_decoder(stream) if alpha else None
        transfer = _transfer(stream)
        try:
            frames = (
                container.decode(stream) if vpx is None else _decode_with(vpx, container, stream)
            )
            if _interlaced(stream):
                frames = _deinterlace(frames, stream)
            for frame in frames:
                if transfer == "sdr":
                    img = frame.to_ndarray(format=fmt)
                else:
                    img = _hdr_to_sdr(frame, transfer, alpha)
                yield _upright(img, _rotation(frame))
        except av.error.FFmpegError as e:
            raise InputError(f"corrupt video {path}: {e}") from None


def _interlaced(stream) -> bool:
    """Whether the stream is coded as fields (FFmpeg's field order: TT, BB, TB or BT)."""
    return int(stream.codec_context.field_order or 0) in (2, 3, 4, 5)


def _deinterlace(frames: Iterator, stream) -> Iterator:
    """One progressive frame per interlaced frame, with FFmpeg's ``bwdif`` (motion-adaptive,
    from the fields around it); frames flagged progressive pass through. Processing the woven
    fields as one picture would key and relight the comb teeth of every moving edge."""
    import av

    graph = av.filter.Graph()
    source = graph.add_buffer(template=stream)
    bwdif = graph.add("bwdif", "mode=send_frame:parity=auto:deint=interlaced")
    sink = graph.add("buffersink")
    source.link_to(bwdif)
    bwdif.link_to(sink)
    graph.configure()

    def ready():
        while True:
            try:
                yield graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return

    for frame in frames:
        graph.push(frame)
        yield from ready()
    graph.push(None)
    yield from ready()


def _timecode(container) -> str | None:
    """The start timecode a camera or NLE stored (video stream, tmcd track, or container)."""
    for meta in [s.metadata for s in container.streams] + [container.metadata]:
        for key in ("timecode", "TIMECODE"):
            if meta.get(key):
                return meta[key]
    return None


def _transfer(stream) -> str:
    """``hlg`` / ``pq`` for a stream tagged with an HDR transfer, else ``sdr``."""
    from relight_video.hdr import TRANSFERS

    return TRANSFERS.get(int(stream.codec_context.color_trc or 2), "sdr")


def _hdr_to_sdr(frame, transfer: str, alpha: bool) -> np.ndarray:
    """A BT.2100 frame → SDR BT.709 ``uint8`` RGB(A) (see :mod:`relight_video.hdr`)."""
    from av.video.reformatter import Colorspace

    from relight_video.hdr import to_sdr

    rgb16 = frame.reformat(
        format="rgba64le" if alpha else "rgb48le",
        src_colorspace=Colorspace.BT2020,
        src_color_range=frame.color_range,
    ).to_ndarray()
    sdr = to_sdr(rgb16[..., :3], transfer)
    return np.dstack([sdr, (rgb16[..., 3] >> 8).astype(np.uint8)]) if alpha else sdr


def _vpx_alpha_decoder(stream) -> str | None:
    """WebM VP8/VP9 keeps alpha beside the picture (``alpha_mode``), which only libvpx decodes:
    its decoder's name for such a stream, else None."""
    import av

    name = {"vp8": "libvpx", "vp9": "libvpx-vp9"}.get(stream.codec_context.name)
    if name is None or stream.metadata.get("alpha_mode") != "1":
        return None
    return name if name in av.codecs_available else None


def _decode_with(decoder: str, container, stream) -> Iterator:
    import av

    ctx = av.CodecContext.create(decoder, "r")
    if stream.codec_context.extradata:
        ctx.extradata = stream.codec_context.extradata
    for packet in container.demux(stream):
        yield from ctx.decode(packet if packet.size else None)


def _to_channels(img: np.ndarray, channels: int) -> np.ndarray:
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.shape[2] == channels:
        return img
    if channels == 3:
        return img[..., :3]
    opaque = np.full(img.shape[:2] + (1,), 255, np.uint8)
    return np.concatenate([img, opaque], axis=2)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as ``(H, W, 3|4) uint8`` RGB(A) or ``(H, W) uint8`` grey."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise InputError(f"image not found: {path}")
    if path.suffix.lower() in (".exr", ".hdr"):
        return _read_linear_image(path)
    # JPEGs (never alpha) are read the way viewers show them, turned by their EXIF orientation
    # tag (phone photos); IMREAD_UNCHANGED, for alpha and 16 bits, ignores that tag
    jpeg = path.suffix.lower() in (".jpg", ".jpeg")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR if jpeg else cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputError(f"cannot read image {path} (corrupt or unsupported format)")
    if img.dtype == np.uint16:
        img = (img.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = np.clip(img.astype(np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if img.ndim == 3 and img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    elif img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA)
    return img


def _read_linear_image(path: Path) -> np.ndarray:
    """A scene-linear EXR / Radiance HDR plate as display sRGB, the way a compositor's default
    view shows it: 1.0 is white, brighter values clip, the sRGB curve on top."""
    from relight_video.envmap import load_env
    from relight_video.lighting import linear_to_srgb

    srgb = linear_to_srgb(np.clip(load_env(path), 0.0, 1.0))
    return (srgb * 255.0 + 0.5).astype(np.uint8)


def write_image(path: str | Path, img: np.ndarray) -> None:
    """Write ``(H, W[, 3|4]) uint8`` RGB(A) atomically (temporary name, then rename)."""
    path = Path(path)
    _check_parent(path)
    tmp = partial_path(path)
    try:
        _encode_image(tmp, img, suffix=path.suffix or ".png")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _encode_image(path: Path, img: np.ndarray, suffix: str | None = None) -> None:
    import cv2

    if img.ndim == 3 and img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    elif img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_RGBA2BGRA)
    try:
        ok, buf = cv2.imencode(suffix or path.suffix, img)
    except cv2.error:
        ok = False
    if not ok:
        raise InputError(f"cannot encode image as {suffix or path.suffix}: {path}")
    path.write_bytes(buf.tobytes())


# ----------------------------------------------------------------------------- atomic paths


def partial_path(final: Path, inside: bool = False) -> Path:
    """The temporary name an output is written under: hidden, same folder, same suffix (or a
    hidden folder inside ``final`` with ``inside``)."""
    name = f".{final.name}.partial-{secrets.token_hex(4)}{final.suffix}"
    return final / name if inside else final.with_name(name)


def stale_partials(final: Path) -> list[Path]:
    """Temporary files/folders left by a killed run for ``final`` (beside it, or inside it)."""
    found = []
    for folder in (final.parent, final):
        if folder.is_dir():
            found += folder.glob(f".{final.name}.partial-*")
    return sorted(found)


FRAME_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"}
ALPHA_FRAME_SUFFIXES = {".png", ".tif", ".tiff", ".webp"}  # still formats that keep RGBA


def check_image_suffix(path: Path, alpha: bool) -> None:
    """An image output (a file or a frame pattern) must name a format that can be written, and
    hold alpha when ``alpha``."""
    suffix = Path(path.name.replace("%", "")).suffix.lower()
    allowed = ALPHA_FRAME_SUFFIXES if alpha else FRAME_SUFFIXES
    if suffix not in allowed:
        what = "frames with alpha" if alpha else "frames"
        raise InputError(
            f"output {path}: {suffix or 'no suffix'} cannot hold {what}; "
            f"use {', '.join(sorted(allowed))}"
        )


DEFAULT_FRAME_PATTERN = "%06d.png"
_RENDER_FILE = re.compile(r"^(\d{6}\.png|audio\.mka)$")


def _check_replaceable_render(folder: Path) -> None:
    """A folder output replaces ``folder`` at the end: refuse unless it is absent, empty or a
    previous render of this tool (``NNNNNN.png`` frames and ``audio.mka`` only), so a run can
    never delete someone's footage."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise InputError(f"output {folder} exists and is not a folder")
    other = sorted(p.name for p in folder.iterdir() if not _RENDER_FILE.match(p.name))
    if other:
        raise InputError(
            f"output folder {folder} holds other files (e.g. {other[0]}); give a new or empty "
            "folder, or a frame pattern such as out/frame_%04d.png to add frames beside them"
        )


def _pattern_regex(pattern: str) -> re.Pattern:
    """``relit_%04d.png`` → a regex matching the file names the pattern makes."""
    parts = re.split(r"%0?\d*d", pattern)
    if len(parts) != 2 or "%" in parts[0] + parts[1]:
        raise InputError(f"output pattern {pattern!r}: expected one %d field, e.g. frame_%04d.png")
    return re.compile(re.escape(parts[0]) + r"\d+" + re.escape(parts[1]) + "$")


def _move_frames_into(tmp: Path, folder: Path, pattern: str) -> None:
    """Frames rendered under ``tmp`` → ``folder``: the previous frames of the same pattern are
    removed (a shorter re-render leaves none behind), nothing else in ``folder`` is touched."""
    made = _pattern_regex(pattern)
    for old in folder.iterdir():
        if made.match(old.name) and old.is_file():
            old.unlink()
    for f in sorted(tmp.iterdir()):
        os.replace(f, folder / f.name)
    tmp.rmdir()


def _check_parent(path: Path) -> None:
    if not path.parent.is_dir():
        raise InputError(f"output folder does not exist: {path.parent}")


def remove_path(p: Path) -> None:
    if p.is_dir():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)


# ----------------------------------------------------------------------------------- encode


class VideoWriter:
    """Write frames to an MP4 / MOV / PNG sequence; see the module docstring.

    Use as a context manager: on a clean exit the file is finalised and renamed to ``path``; on
    an exception (including Ctrl-C) the temporary output is deleted and nothing is left behind.
    """

    def __init__(
        self,
        path: str | Path,
        fps: Fraction | float,
        width: int,
        height: int,
        *,
        alpha: bool = False,
        audio_from: str | Path | None = None,
        timing: Timing | None = None,
        sar: Fraction = Fraction(1),
        timecode: str | None = None,
        crf: int = 18,
        preset: str = "veryfast",
    ):
        """``timing``: the source's :class:`Timing`; its variable frame times are kept and the
        copied audio is shifted by its ``start``, so picture and sound stay in sync."""
        self.path = Path(path)
        self.fps = Fraction(fps).limit_denominator(1001000)
        self.width, self.height = int(width), int(height)
        self.alpha = alpha
        self.audio_from = Path(audio_from) if audio_from else None
        self.timing = timing or Timing()
        self.sar = Fraction(sar)
        self.timecode = timecode
        self.crf, self.preset = crf, preset
        self.kind = self._kind()
        # a pattern (``shots/relit_%04d.png``) adds frames to an existing folder, next to what
        # is there; a folder (``renders/``) is the render, replaced only if it holds nothing else
        self.into_folder = self.kind == "png" and "%" in self.path.name
        if self.into_folder:
            self.final = self.path.parent.resolve()
            self.pattern = self.path.name
            _pattern_regex(self.pattern)  # a bad pattern fails here, before any work
            check_image_suffix(self.path, alpha)
        elif self.kind == "png":
            self.final, self.pattern = self.path.resolve(), DEFAULT_FRAME_PATTERN
            _check_replaceable_render(self.final)
        else:
            self.final = self.path
            if self.final.is_dir():
                raise InputError(f"output {self.path} is a folder; give a file name")
        _check_parent(self.final)
        if alpha and self.kind == "h264":
            raise InputError(f"{self.path}: H.264 has no alpha channel; use .mov or a PNG folder")
        # frames added to a folder are rendered in a hidden folder inside it (one filesystem,
        # even when the folder is a mount point), everything else beside its final name
        self.tmp = partial_path(self.final, inside=self.into_folder)
        self.count = 0
        self._container = None
        self._audio: _AudioCopier | None = None

    @property
    def audio_sidecar_name(self) -> str:
        """``audio.mka``, or ``<prefix>audio.mka`` beside frames named by a pattern."""
        prefix = self.pattern.split("%", 1)[0] if self.into_folder else ""
        return f"{prefix}audio.mka"

    def _kind(self) -> str:
        if is_sequence_path(self.path):
            return "png"
        suffix = self.path.suffix.lower()
        if suffix in (".mp4", ".m4v", ".mkv"):
            return "h264"
        if suffix == ".mov":
            return "prores"
        raise InputError(f"unsupported output type {suffix!r} (use .mp4, .mov, .mkv or a folder)")

    # -- context manager
    def __enter__(self) -> VideoWriter:
        self._open()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _open(self) -> None:
        import av

        try:
            self._open_output()
        except (OSError, av.error.FFmpegError) as e:  # a folder that cannot be written, ...
            self.abort()
            raise InputError(f"cannot write {self.path}: {e}") from None

    def _open_output(self) -> None:
        import av

        if self.kind == "png":
            self.tmp.mkdir()
            return
        fmt = {"h264": "mp4", "prores": "mov"}[self.kind]
        if self.path.suffix.lower() == ".mkv":
            fmt = "matroska"
        self._container = av.open(str(self.tmp), "w", format=fmt)
        if self.kind == "h264":
            stream = self._container.add_stream("libx264", rate=self.fps)
            stream.pix_fmt = "yuv420p"
            stream.width, stream.height = self.width + self.width % 2, self.height + self.height % 2
            stream.options = {"crf": str(self.crf), "preset": self.preset}
            if self.width % 2 or self.height % 2:
                print(
                    f"warning: {self.width}x{self.height} is odd; H.264 4:2:0 needs even sizes, "
                    f"padded to {stream.width}x{stream.height}",
                    file=sys.stderr,
                )
        else:
            stream = self._container.add_stream("prores_ks", rate=self.fps)
            stream.pix_fmt = "yuva444p10le" if self.alpha else "yuv444p10le"
            stream.width, stream.height = self.width, self.height
            stream.options = {"profile": "4444", "vendor": "apl0"}
            # prores_ks with slice threads corrupts alpha rows at random (seen with FFmpeg 7 in
            # PyAV 18): encode it single-threaded.
            stream.thread_count = 1
        # frames are numbered 0, 1, 2 ... at a constant rate, or stamped with the source's times
        self._time_base = Fraction(1) / self.fps
        if self.timing.times is not None:
            self._time_base = Fraction(1, VFR_TIMESCALE)
        stream.codec_context.time_base = self._time_base
        if self.sar != 1:  # anamorphic footage stays anamorphic: players widen it the same way
            stream.codec_context.sample_aspect_ratio = self.sar
        if self.timecode:  # MOV/MP4 get a timecode track: the clip conforms back in an edit
            stream.metadata["timecode"] = self.timecode
        self._last_pts = -1
        # Colour tags. H.264 is converted to BT.709 here and tagged so: players assume 709 for
        # HD and would shift the colours of untagged BT.601 output (FFmpeg's default matrix).
        # ProRes keeps FFmpeg's default conversion (BT.601, video range): converting frames
        # ahead of prores_ks brought back its alpha-row bug; it is tagged as what it is. Both
        # carry sRGB's primaries and (near) curve: BT.709 (AVCOL_PRI_BT709, AVCOL_TRC_BT709).
        from av.video.reformatter import ColorRange, Colorspace

        matrix = Colorspace.ITU709 if self.kind == "h264" else Colorspace.SMPTE170M
        cc = stream.codec_context
        cc.colorspace, cc.color_range = matrix, ColorRange.MPEG
        cc.color_primaries = cc.color_trc = 1
        self._to_yuv = None  # how write() converts RGB frames; None: the encoder's default
        if self.kind == "h264":
            self._to_yuv = {
                "format": stream.pix_fmt,
                "dst_colorspace": matrix,
                "dst_color_range": ColorRange.MPEG,
            }
        self._stream = stream
        if self.audio_from is not None:
            self._audio = _AudioCopier.open(
                self.audio_from, self._container, fmt, offset=self.timing.start
            )
        self._container.start_encoding()  # creates the file now: an unwritable path fails here

    def _pts(self, i: int) -> int:
        """Frame ``i``'s timestamp in the stream's time base, strictly increasing."""
        times = self.timing.times
        if times is None:
            return i
        # past the last stamped frame (a decoder that produced more frames): the average rate
        t = times[i] if i < len(times) else times[-1] + (i - len(times) + 1) / float(self.fps)
        pts = max(round(t * VFR_TIMESCALE), self._last_pts + 1)
        self._last_pts = pts
        return pts

    def write(self, frame: np.ndarray) -> None:
        """Append one ``(H, W, 3|4) uint8`` frame (RGBA keeps its alpha where the format can)."""
        import av

        if frame.shape[0] != self.height or frame.shape[1] != self.width:
            raise ValueError(
                f"frame is {frame.shape[1]}x{frame.shape[0]}, writer expects "
                f"{self.width}x{self.height}"
            )
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        if self.kind == "png":
            _encode_image(
                self.tmp / (self.pattern % self.count), frame if self.alpha else frame[..., :3]
            )
            self.count += 1
            return
        if self.kind == "h264":
            frame = frame[..., :3]
            if self.width % 2 or self.height % 2:
                frame = np.pad(frame, ((0, self.height % 2), (0, self.width % 2), (0, 0)), "edge")
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        else:
            if self.alpha and frame.shape[2] == 3:
                frame = np.dstack([frame, np.full(frame.shape[:2], 255, np.uint8)])
            fmt = "rgba" if self.alpha else "rgb24"
            vf = av.VideoFrame.from_ndarray(frame if self.alpha else frame[..., :3], format=fmt)
        if self._to_yuv is not None:
            vf = vf.reformat(**self._to_yuv)
        vf.pts = self._pts(self.count)
        vf.time_base = self._time_base
        for packet in self._stream.encode(vf):
            self._container.mux(packet)
        self.count += 1
        if self._audio is not None:
            self._audio.advance(float(vf.pts * self._time_base) + 1 / float(self.fps))

    def close(self) -> None:
        """Flush, finish the audio, and rename the temporary output to its final name."""
        try:
            if self.count == 0:
                raise InputError(f"no frames were written to {self.final}")
            if self._container is not None:
                for packet in self._stream.encode(None):
                    self._container.mux(packet)
                if self._audio is not None:
                    self._audio.finish()
                self._container.close()
                self._container = None
            elif self.kind == "png" and self.audio_from is not None:
                write_audio_sidecar(
                    self.audio_from, self.tmp / self.audio_sidecar_name, self.timing.start
                )
            if self.into_folder:
                _move_frames_into(self.tmp, self.final, self.pattern)
                return
            if self.final.exists():
                remove_path(self.final)
            os.replace(self.tmp, self.final)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Drop everything written so far."""
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
            self._container = None
        if self._audio is not None:
            self._audio.close()
        remove_path(self.tmp)


# Layouts re-encoded audio keeps as they are (FFmpeg's AAC encoder takes them)
_AAC_LAYOUTS = frozenset(("mono", "stereo", "2.1", "3.0", "quad", "4.0", "5.0", "5.1", "6.1"))
# the same channels in AAC's standard order; 7.1 (which crashed FFmpeg's AAC encoder) → 5.1
_AAC_EQUIVALENT = {"5.0(side)": "5.0", "5.1(side)": "5.1", "7.1": "5.1", "7.1(wide)": "5.1"}
# by channel count, for streams whose layout is unnamed ("6 channels")
_USUAL_LAYOUT = {
    1: "mono",
    2: "stereo",
    3: "3.0",
    4: "quad",
    5: "5.0",
    6: "5.1",
    7: "6.1",
    8: "5.1",
}


class _AudioTrack:
    """One audio stream of the source and where it goes in the output."""

    def __init__(self, in_stream, out_container, out_format: str):
        self.in_stream = in_stream
        codec = in_stream.codec_context.codec.canonical_name  # "mp3", not the decoder "mp3float"
        allowed = _COPYABLE_AUDIO.get(out_format)
        self.reencode = allowed is not None and codec not in allowed
        self.resampler = None
        self.samples = 0  # re-encoded samples so far
        if self.reencode:
            import av

            layout = in_stream.layout.name  # "6 channels" (order unknown): the usual 5.1
            layout = _AAC_EQUIVALENT.get(layout, layout)
            if layout not in _AAC_LAYOUTS:
                layout = _USUAL_LAYOUT.get(in_stream.layout.nb_channels, "stereo")
            self.out_stream = out_container.add_stream("aac", rate=48000)
            self.out_stream.layout = layout
            self.resampler = av.AudioResampler(format="fltp", layout=layout, rate=48000)
            print(
                f"note: audio codec {codec} cannot be copied into {out_format}; re-encoding "
                f"to AAC ({layout})",
                file=sys.stderr,
            )
        else:
            self.out_stream = out_container.add_stream_from_template(in_stream)


class _AudioCopier:
    """Copies every audio stream of ``src`` into an open output (re-encoded to AAC where the
    container cannot hold the codec), interleaved with the video: :meth:`advance` muxes audio up
    to a time, :meth:`finish` the rest. Times are shifted by ``offset``, the video's start in the
    source, so audio that played with the first frame still does."""

    def __init__(self, src, tracks: list[_AudioTrack], out_container, offset: float = 0.0):
        self.src, self.out, self.offset = src, out_container, offset
        self.tracks = {t.in_stream.index: t for t in tracks}
        self.packets = src.demux(*[t.in_stream for t in tracks])
        self.pending = None

    @classmethod
    def open(
        cls, path: Path, out_container, out_format: str, offset: float = 0.0
    ) -> _AudioCopier | None:
        import av

        try:
            src = av.open(str(path))
        except (av.error.FFmpegError, OSError):
            return None
        if not src.streams.audio:
            src.close()
            return None
        tracks = [_AudioTrack(s, out_container, out_format) for s in src.streams.audio]
        return cls(src, tracks, out_container, offset)

    def _emit(self, packet) -> None:
        track = self.tracks[packet.stream.index]
        if self.offset:  # shift to the output's clock; drop what ended before the first frame
            shift = round(self.offset / packet.time_base)
            if packet.pts is not None and packet.pts + (packet.duration or 0) - shift < 0:
                return
            if packet.pts is not None:
                packet.pts -= shift
            packet.dts -= shift
        if track.reencode:
            for frame in packet.decode():
                if track.samples == 0 and frame.pts is not None:
                    # sound that starts after the first frame: lead in with silence, so the
                    # re-encoded track (which counts samples from 0) keeps its offset
                    self._silence(track, round(float(frame.pts * frame.time_base) * 48000))
                for rframe in track.resampler.resample(frame):
                    self._encode(track, rframe)
        else:
            packet.stream = track.out_stream
            self.out.mux(packet)

    def _encode(self, track: _AudioTrack, frame) -> None:
        frame.pts = track.samples  # contiguous, in samples at 48 kHz
        track.samples += frame.samples
        for out_packet in track.out_stream.encode(frame):
            self.out.mux(out_packet)

    def _silence(self, track: _AudioTrack, samples: int) -> None:
        import av

        layout = track.out_stream.layout.name
        while samples > 0:
            n = min(samples, 1024)
            frame = av.AudioFrame(format="fltp", layout=layout, samples=n)
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.sample_rate = 48000
            self._encode(track, frame)
            samples -= n

    def advance(self, until: float) -> None:
        """Mux the audio that starts before ``until`` seconds of the output."""
        while True:
            packet = self.pending or next(self.packets, None)
            self.pending = None
            if packet is None:
                return
            if packet.dts is None:  # the demuxer's flush packet
                continue
            if (
                packet.pts is not None
                and float(packet.pts * packet.time_base) - self.offset > until
            ):
                self.pending = packet
                return
            self._emit(packet)

    def finish(self) -> None:
        self.advance(float("inf"))
        for track in self.tracks.values():
            if track.reencode:
                for rframe in track.resampler.resample(None):
                    self._encode(track, rframe)
                for out_packet in track.out_stream.encode(None):
                    self.out.mux(out_packet)
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.src.close()


def write_audio_sidecar(src: Path, dest: Path, offset: float = 0.0) -> bool:
    """Stream-copy the audio of ``src`` into a Matroska audio file, its clock shifted to start
    with the video (``offset``, the video's start in ``src``); False if it has none."""
    import av

    if not probe(src).has_audio:
        return False
    with av.open(str(dest), "w", format="matroska") as out:
        copier = _AudioCopier.open(src, out, "matroska", offset=offset)
        if copier is not None:
            copier.finish()
    print(f"note: PNG sequences hold no audio; the audio track is in {dest.name}", file=sys.stderr)
    return True
