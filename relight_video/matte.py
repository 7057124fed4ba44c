"""Where the alpha comes from: a chroma key, an alpha clip or PNG folder, the clip's own alpha
channel, or a person segmenter. Every source yields, per input frame, a :class:`MatteFrame`:
``alpha (H, W) float32`` in [0, 1], the ``(H, W, 3) uint8`` foreground colour to composite
(despilled for a chroma key, the frame itself otherwise) and whether the frame starts a new shot
(:mod:`relight_video.cuts`; the key and the person matte forget the last shot there, and so
must the engine).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from relight_video import io
from relight_video.config import RunConfig
from relight_video.cuts import CutDetector
from relight_video.errors import InputError


def alpha_from_image(img: np.ndarray) -> np.ndarray:
    """A mask image (grey, RGB or RGBA) → ``(H, W) float32`` alpha in [0, 1].

    RGBA uses its alpha channel, unless that is fully opaque (a white-on-black mask saved with
    an alpha channel): then, as RGB and grey, its luma (white = foreground).
    """
    if img.ndim == 2:
        a = img
    elif img.shape[2] == 4 and img[..., 3].min() < 255:
        a = img[..., 3]
    else:
        a = 0.299 * img[..., 0] + 0.587 * img[..., 1] + 0.114 * img[..., 2]  # RGB(A)
    return np.asarray(a, dtype=np.float32) / 255.0


def describe_source(cfg: RunConfig) -> str:
    if cfg.alpha is not None:
        return "alpha channel" if cfg.alpha == "self" else f"alpha from {cfg.alpha}"
    if cfg.matte is not None:
        return "person matte"
    return f"{cfg.key or 'auto'} chroma key"


def garbage_matte(path: str | Path, width: int, height: int) -> np.ndarray:
    """The garbage matte ``path`` (a mask image, black where the subject can never be) as
    ``(height, width) float32`` in [0, 1]; a mask of another size with the frame's shape is
    scaled to it."""
    import cv2

    if not Path(path).is_file():
        raise InputError(f"garbage matte not found (a mask image): {path}")
    mask = alpha_from_image(io.read_image(path))
    h, w = mask.shape
    if (w, h) != (width, height):
        if abs(w / h - width / height) > 0.01 * width / height:
            raise InputError(f"garbage matte {path} is {w}x{h}, the frames are {width}x{height}")
        mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
    return mask


class MatteFrame(NamedTuple):
    alpha: np.ndarray  # (H, W) float32 in [0, 1]
    fg: np.ndarray  # (H, W, 3) uint8
    cut: bool  # the first frame of a new shot (never the clip's first frame)


def mattes(cfg: RunConfig, input_path: Path, info: io.VideoInfo) -> Iterator[MatteFrame]:
    """Iterate a :class:`MatteFrame` for each frame of ``input_path`` (streaming), its alpha
    times the garbage matte when there is one."""
    mask = None if cfg.garbage is None else garbage_matte(cfg.garbage, info.width, info.height)
    c = cfg.cuts
    detector = CutDetector(c.threshold, c.histogram, c.ratio) if c.detect else None
    for alpha, fg, cut in _mattes(cfg, input_path, info, detector):
        yield MatteFrame(alpha if mask is None else alpha * mask, fg, cut)


def _cuts(frames: Iterator[np.ndarray], detector: CutDetector | None, matter=None):
    """``(frame, cut)`` pairs; ``matter.reset()`` (a keyer's or segmenter's state) on a cut."""
    for frame in frames:
        cut = detector is not None and detector(frame[..., :3])
        if cut and matter is not None:
            matter.reset()
        yield frame, cut


def _mattes(
    cfg: RunConfig, input_path: Path, info: io.VideoInfo, detector: CutDetector | None
) -> Iterator[tuple]:
    if cfg.alpha == "self":
        if not info.has_alpha:
            raise InputError(f"--alpha self: {input_path} has no alpha channel")
        for rgba, cut in _cuts(io.read_frames(input_path, alpha=True), detector):
            yield rgba[..., 3].astype(np.float32) / 255.0, np.ascontiguousarray(rgba[..., :3]), cut
        return
    frames = io.read_frames(input_path)
    if cfg.alpha is not None:
        yield from _file_mattes(Path(cfg.alpha), _cuts(frames, detector), info)
    elif cfg.matte == "person":
        from relight_video.person_matte import PersonMatte

        segment = PersonMatte(cfg.matte_model)
        for frame, cut in _cuts(frames, detector, segment):
            yield segment(frame), frame, cut
    else:
        from relight_video.keying import ChromaKeyer

        k = cfg.keying
        keyer = ChromaKeyer(
            cfg.key or "auto",
            smooth=k.smooth,
            fg_level=k.fg_level,
            bg_level=k.bg_level,
            spill=k.spill,
            matte_blur=k.matte_blur,
            edge_alpha=k.edge_alpha,
        )
        for frame, cut in _cuts(frames, detector, keyer):
            yield *keyer(frame), cut


def check_alpha_clip(path: Path, info: io.VideoInfo) -> io.VideoInfo:
    """Validate an alpha clip / folder against the input before any work."""
    if not path.exists():
        raise InputError(f"alpha not found: {path}")
    ainfo = io.probe(path)
    if (ainfo.width, ainfo.height) != (info.width, info.height):
        raise InputError(
            f"alpha {path} is {ainfo.width}x{ainfo.height}, input is {info.width}x{info.height}"
        )
    if ainfo.num_frames != info.num_frames:
        raise InputError(f"alpha {path} has {ainfo.num_frames} frames, input has {info.num_frames}")
    return ainfo


def _file_mattes(path: Path, frames: Iterator[tuple], info: io.VideoInfo) -> Iterator[tuple]:
    """``frames``: ``(frame, cut)`` pairs."""
    ainfo = check_alpha_clip(path, info)
    # a folder is read with an alpha channel (opaque where the masks have none) and its
    # frames' sizes checked by read_frames; alpha_from_image takes the luma of opaque masks
    alpha_frames = io.read_frames(path, alpha=ainfo.has_alpha or path.is_dir(), backend="pyav")
    for (frame, cut), a in zip(frames, alpha_frames):
        yield alpha_from_image(a), frame, cut
