"""Where the alpha comes from: a chroma key, an alpha clip or PNG folder, the clip's own alpha
channel, or a person segmenter. Every source yields, per input frame, ``(alpha, foreground)``:
``alpha (H, W) float32`` in [0, 1] and the ``(H, W, 3) uint8`` foreground colour to composite
(despilled for a chroma key, the frame itself otherwise).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from relight_video import io
from relight_video.config import RunConfig
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


def mattes(cfg: RunConfig, input_path: Path, info: io.VideoInfo) -> Iterator[tuple]:
    """Iterate ``(alpha, foreground)`` for each frame of ``input_path`` (streaming), times the
    garbage matte when there is one."""
    if cfg.garbage is None:
        yield from _mattes(cfg, input_path, info)
        return
    mask = garbage_matte(cfg.garbage, info.width, info.height)
    for alpha, fg in _mattes(cfg, input_path, info):
        yield alpha * mask, fg


def _mattes(cfg: RunConfig, input_path: Path, info: io.VideoInfo) -> Iterator[tuple]:
    if cfg.alpha == "self":
        if not info.has_alpha:
            raise InputError(f"--alpha self: {input_path} has no alpha channel")
        for rgba in io.read_frames(input_path, alpha=True):
            yield rgba[..., 3].astype(np.float32) / 255.0, np.ascontiguousarray(rgba[..., :3])
        return
    frames = io.read_frames(input_path)
    if cfg.alpha is not None:
        yield from _file_mattes(Path(cfg.alpha), frames, info)
    elif cfg.matte == "person":
        from relight_video.person_matte import PersonMatte

        segment = PersonMatte(cfg.matte_model)
        for frame in frames:
            yield segment(frame), frame
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
        for frame in frames:
            yield keyer(frame)


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


def _file_mattes(path: Path, frames: Iterator[np.ndarray], info: io.VideoInfo) -> Iterator[tuple]:
    ainfo = check_alpha_clip(path, info)
    # a folder is read with an alpha channel (opaque where the masks have none) and its
    # frames' sizes checked by read_frames; alpha_from_image takes the luma of opaque masks
    alpha_frames = io.read_frames(path, alpha=ainfo.has_alpha or path.is_dir(), backend="pyav")
    for frame, a in zip(frames, alpha_frames):
        yield alpha_from_image(a), frame
