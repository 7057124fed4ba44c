"""Shared fixtures: small real clips (H.264 + AAC) written with PyAV into tmp folders."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest


def synthetic_greenscreen(w: int, h: int, t: float, rng: np.random.Generator | None = None):
    """A textured disc on a shaded green screen, with soft edges and spill.

    Returns ``(frame uint8 (h, w, 3), true alpha float32 (h, w))``.
    """
    import cv2

    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = w * (0.5 + 0.1 * np.sin(t)), h * 0.55
    alpha = (xx - cx) ** 2 / (0.25 * w) ** 2 + (yy - cy) ** 2 / (0.3 * h) ** 2 < 1
    alpha = cv2.GaussianBlur(alpha.astype(np.float32), (0, 0), max(1.0, w / 200))
    screen = np.stack([30 + 30 * xx / w, 160 + 50 * yy / h, 50 + 10 * xx / w], -1)
    fg = np.stack([190 - 50 * yy / h, 140 + 20 * np.sin(xx / 7), 115 + 25 * xx / w], -1)
    if rng is not None:
        fg = fg + rng.normal(0, 6, fg.shape)
    a = alpha[..., None]
    img = fg * a + screen * (1 - a)
    img[..., 1] += 100 * a[..., 0] * (1 - a[..., 0]) + 8 * a[..., 0]  # spill
    return np.clip(img, 0, 255).astype(np.uint8), alpha


def write_clip(
    path: Path,
    frames: list[np.ndarray] | None = None,
    *,
    n: int = 12,
    size: tuple[int, int] = (96, 64),
    fps: Fraction = Fraction(24),
    audio: bool = True,
    rotation: int = 0,
    times: list[float] | None = None,
    audio_codec: str = "aac",
    layout: str = "mono",
    audio_tracks: int = 1,
    start: float = 0.0,
    sar: Fraction = Fraction(1),
    timecode: str | None = None,
) -> Path:
    """Write an H.264 clip (container by suffix: .mp4, .mkv, .mov, .ts) with a 440 Hz tone per
    audio track when ``audio``; default frames: the green-screen disc. ``rotation``: a display
    rotation (degrees counter-clockwise), as phones store portrait. ``times``: each frame's
    time in seconds, for variable-frame-rate footage (else frame i is at i / fps). ``start``: the
    clock of picture and sound starts there (camcorder and broadcast files start late)."""
    import av

    w, h = size
    if frames is None:
        frames = [synthetic_greenscreen(w, h, i / 5)[0] for i in range(n)]
    n = len(frames)
    h, w = frames[0].shape[:2]
    time_base = Fraction(1, 1000) if times is not None or start else Fraction(1) / fps
    duration = times[-1] + 1 / float(fps) if times is not None else n / float(fps)
    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.codec_context.time_base = time_base
        if sar != 1:  # anamorphic: pixels shown wider (>1) or narrower than they are stored
            vs.codec_context.sample_aspect_ratio = sar
        if rotation:
            vs.set_display_rotation(rotation)
        if timecode:
            vs.metadata["timecode"] = timecode
        streams = [vs]
        for _ in range(audio_tracks if audio else 0):  # every stream before the first packet
            streams.append(c.add_stream(audio_codec, rate=48000))
            streams[-1].layout = layout
        for track, aus in enumerate(streams[1:]):
            to_codec = av.AudioResampler(format=aus.format.name, layout=layout, rate=48000)
            channels = aus.codec_context.layout.nb_channels
            total = int(48000 * duration)
            for k in range(0, total, 1024):
                m = min(1024, total - k)
                t = np.arange(k, k + m) / 48000
                x = (0.2 * np.sin(t * 2 * np.pi * 440 * (track + 1))).astype(np.float32)
                interleaved = np.repeat(x, channels)[None]  # packed: PyAV's planar 7.1 breaks
                af = av.AudioFrame.from_ndarray(interleaved, format="flt", layout=layout)
                af.sample_rate, af.pts = 48000, k + round(start * 48000)
                for rf in to_codec.resample(af):
                    for p in aus.encode(rf):
                        c.mux(p)
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
            t = i / float(fps) if times is None else times[i]
            vf.pts = round((start + t) / time_base)
            vf.time_base = time_base
            for p in vs.encode(vf):
                c.mux(p)
        for s in streams:
            for p in s.encode(None):
                c.mux(p)
    return path


def mux_video(container, stream, frames) -> None:
    """Encode ``frames`` (``av.VideoFrame``), numbered 0, 1, 2 ..., into ``stream`` of the open
    ``container``, then flush the encoder."""
    for i, frame in enumerate(frames):
        frame.pts = i
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


@pytest.fixture
def clip(tmp_path) -> Path:
    return write_clip(tmp_path / "in.mp4")


@pytest.fixture
def background_png(tmp_path) -> Path:
    import cv2

    yy, xx = np.mgrid[0:80, 0:120].astype(np.float32)
    img = np.stack([200 - xx, 120 + 0 * xx, 60 + yy], -1).astype(np.uint8)
    path = tmp_path / "bg.png"
    cv2.imwrite(str(path), img)
    return path


def leftovers(folder: Path) -> list[str]:
    """Temporary files a writer would leave behind if it did not clean up."""
    return sorted(p.name for p in folder.rglob("*") if ".partial-" in p.name)
