"""Optical flow between consecutive frames, backward warping and the fwd–bwd occlusion test.

Every backend shares one signature, :func:`estimate`, and is chosen by name:

- ``"dis"``: OpenCV's Dense Inverse Search (Kroeger et al., "Fast Optical Flow using Dense
  Inverse Search", ECCV 2016), medium preset, on grey images. No weights, CPU only; the offline
  default.
- ``"raft_small"`` / ``"raft_large"``: RAFT (Teed & Deng, "RAFT: Recurrent All-Pairs Field
  Transforms for Optical Flow", ECCV 2020) as built by ``torchvision.models.optical_flow``, with
  its state dict read from a local file. Nothing is ever downloaded.

Convention used throughout: a flow from frame ``a`` to frame ``b`` is a ``(2, H, W)`` float32
array with ``flow[:, y, x] = (dx, dy)`` such that ``a(x, y) ≈ b(x + dx, y + dy)``; so
``warp(b, flow)`` brings ``b`` into ``a``'s frame.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from relight_video.errors import InputError

if TYPE_CHECKING:
    import torch

BACKENDS = ("dis", "raft_small", "raft_large")
_RAFT_MIN_SIZE = 128


# ----------------------------------------------------------------------------- input checks


def _as_rgb_uint8(frame: np.ndarray, name: str) -> np.ndarray:
    """``(H, W, 3)`` uint8, or float in [0, 1] (converted) → ``(H, W, 3)`` uint8."""
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise InputError(f"{name}: expected an (H, W, 3) RGB frame, got shape {frame.shape}")
    if frame.dtype == np.uint8:
        return frame
    if np.issubdtype(frame.dtype, np.floating):
        return np.clip(np.rint(frame * 255.0), 0, 255).astype(np.uint8)
    raise InputError(f"{name}: expected uint8 or float in [0, 1], got dtype {frame.dtype}")


def _check_flow(flow: np.ndarray, name: str, hw: tuple[int, int] | None = None) -> np.ndarray:
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[0] != 2:
        raise InputError(f"{name}: expected a (2, H, W) flow, got shape {flow.shape}")
    if hw is not None and flow.shape[1:] != hw:
        raise InputError(f"{name}: flow is {flow.shape[1:]} but the image is {hw}")
    return flow.astype(np.float32, copy=False)


# ----------------------------------------------------------------------------- DIS backend


@functools.lru_cache(maxsize=8)
def _dis(preset: int, shape: tuple[int, int]) -> Any:
    """One OpenCV DIS object per preset and image size, created on first use (never at import).

    Not one per preset: a DIS object keeps state from the sizes it has seen, and after a
    32x40 pair its flow on a 48x64 pair differed by 0.05 px from a fresh object's, so a clip's
    output depended on what the process had processed before (a batch worker vs a fresh run).
    Within one size the result does not depend on history, and reusing the object saves its
    buffers (1.6 against 3.6 ms per 480x270 pair)."""
    import cv2

    return cv2.DISOpticalFlow_create(preset)


DIS_MIN_SIDE = 32  # OpenCV's DIS crashes (SIGSEGV) on images under ~16 px on a side


def _estimate_dis(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import cv2

    grey_a = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)
    grey_b = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
    h, w = grey_a.shape
    scale = max(1, -(-DIS_MIN_SIDE // min(h, w)))  # a thin frame is enlarged, then shrunk back
    if scale > 1:
        grey_a, grey_b = (
            cv2.resize(g, (w * scale, h * scale), interpolation=cv2.INTER_LINEAR)
            for g in (grey_a, grey_b)
        )
    dis = _dis(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, grey_a.shape)
    flow = dis.calc(grey_a, grey_b, None)  # (H, W, 2)
    if scale > 1:
        flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_AREA) / scale
    return np.ascontiguousarray(flow.transpose(2, 0, 1), dtype=np.float32)


# ----------------------------------------------------------------------------- RAFT backend


def _read_state_dict(path: Path) -> dict[str, Any]:
    """Tensors of a ``.safetensors`` file, or of a ``.pth``/``.pt`` file (``weights_only``)."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except Exception as err:  # a corrupt or foreign file: one line for the user
            raise InputError(f"weights {path}: not a readable safetensors file ({err})") from err
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch's own text is a paragraph about pickles: not for users
        raise InputError(
            f"weights {path}: not a torch state dict that loads safely (weights only) "
            f"({type(err).__name__})"
        ) from err
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise InputError(f"weights {path}: expected a state dict, got {type(state).__name__}")
    # Checkpoints saved from nn.DataParallel prefix every key with "module.".
    return {k.removeprefix("module."): v for k, v in state.items()}


def _check_fits(model: torch.nn.Module, state: dict[str, Any], path: Path, backend: str) -> None:
    """Raise one clear :class:`InputError` unless ``state`` has exactly ``model``'s tensors."""
    import torch

    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        k
        for k in expected
        if k in state
        and (not isinstance(state[k], torch.Tensor) or state[k].shape != expected[k].shape)
    ]
    if missing or unexpected or wrong:
        example = (missing or unexpected or wrong)[0]
        raise InputError(
            f"weights {path}: not a torchvision {backend} state dict "
            f"({len(missing)} missing, {len(unexpected)} unexpected, {len(wrong)} wrong-shape "
            f"keys, e.g. {example!r})"
        )


@functools.lru_cache(maxsize=4)
def _raft(backend: str, path: str, mtime_ns: int, device: str) -> torch.nn.Module:
    """A RAFT model in eval mode with the weights of ``path``; cached per file version/device."""
    import torch
    from torchvision.models import optical_flow

    build = optical_flow.raft_small if backend == "raft_small" else optical_flow.raft_large
    model = build(weights=None, progress=False)  # random init: never fetches anything
    state = _read_state_dict(Path(path))
    _check_fits(model, state, Path(path), backend)
    model.load_state_dict(state, strict=True)
    return model.to(torch.device(device)).eval()


def _estimate_raft(
    a: np.ndarray, b: np.ndarray, backend: str, weights: str | Path | None, device: str
) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    if weights is None:
        raise InputError(
            f"backend {backend!r} needs weights=PATH (a local .pth/.pt/.safetensors state dict "
            "of torchvision's model); nothing is downloaded"
        )
    path = Path(weights).expanduser()
    if not path.is_file():
        raise InputError(f"weights {path}: no such file")
    model = _raft(backend, str(path.resolve()), path.stat().st_mtime_ns, device)

    h, w = a.shape[:2]
    # RAFT needs H and W divisible by 8, and at least 128 px: its 4-level correlation pyramid
    # halves the 1/8-resolution feature maps 3 times and needs 2 values left at the top.
    ph, pw = max(_RAFT_MIN_SIZE, h + -h % 8) - h, max(_RAFT_MIN_SIZE, w + -w % 8) - w
    top, left = ph // 2, pw // 2
    pad = (left, pw - left, top, ph - top)

    def prepare(frame: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(frame).permute(2, 0, 1)[None].float().to(device)
        x = x / 127.5 - 1.0  # [0, 255] → [-1, 1], as torchvision's OpticalFlow preset
        return F.pad(x, pad, mode="replicate") if ph or pw else x

    with torch.inference_mode():
        flow = model(prepare(a), prepare(b))[-1]  # the last refinement, (1, 2, H', W')
    flow = flow[0, :, top : top + h, left : left + w]
    return np.ascontiguousarray(flow.float().cpu().numpy(), dtype=np.float32)


# ----------------------------------------------------------------------------- public API


def estimate(
    frame_a: np.ndarray,
    frame_b: np.ndarray,
    backend: str = "dis",
    *,
    weights: str | Path | None = None,
    device: str = "cpu",
) -> np.ndarray:
    """Dense optical flow from ``frame_a`` to ``frame_b``.

    Args:
        frame_a, frame_b: ``(H, W, 3)`` RGB, uint8 (or float in [0, 1], converted to uint8).
        backend: ``"dis"`` (OpenCV DIS, Kroeger et al. ECCV 2016, medium preset on grey images),
            ``"raft_small"`` or ``"raft_large"`` (RAFT, Teed & Deng ECCV 2020, torchvision).
        weights: RAFT only: a local ``.pth``/``.pt`` (read with ``weights_only=True``) or
            ``.safetensors`` file holding the torchvision model's state dict. Never downloaded.
        device: torch device for RAFT (``"cpu"``, ``"cuda"``, ...); DIS always runs on CPU.

    Returns:
        ``(2, H, W)`` float32 flow in pixels: ``flow[:, y, x] = (dx, dy)`` with
        ``a(x, y) ≈ b(x + dx, y + dy)``. For RAFT the frames are mapped to [-1, 1], padded
        (edge-replicated, centred) to multiples of 8 and at least 128 × 128, and the last of the
        12 refinements is cropped back to ``(H, W)``.

    Raises:
        InputError: bad frames, unknown backend, missing weights file, or a state dict that does
            not fit the chosen RAFT model.
    """
    # 1. check inputs
    if backend not in BACKENDS:
        raise InputError(f"flow backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    a = _as_rgb_uint8(frame_a, "frame_a")
    b = _as_rgb_uint8(frame_b, "frame_b")
    if a.shape != b.shape:
        raise InputError(f"frame_a is {a.shape} but frame_b is {b.shape}; they must match")
    # 2. estimate
    if backend == "dis":
        if weights is not None:
            raise InputError("weights: the 'dis' backend takes no weights")
        return _estimate_dis(a, b)
    return _estimate_raft(a, b, backend, weights, device)


def warp(
    image: np.ndarray | torch.Tensor, flow: np.ndarray | torch.Tensor
) -> np.ndarray | torch.Tensor:
    """Backward warping: sample ``image`` at ``x + flow(x)`` (bilinear, border padding).

    With ``image`` = frame ``b`` and ``flow`` from ``a`` to ``b``, the result is ``b`` brought
    into ``a``'s frame. Uses ``torch.nn.functional.grid_sample`` with ``align_corners=True`` (pixel
    centres at integer coordinates ``0 … W-1``); samples that fall outside the image repeat the
    border.

    Args:
        image: numpy ``(H, W, C)`` or ``(H, W)``, uint8 or float (any range); or a torch tensor
            ``(B, C, H, W)`` float.
        flow: numpy ``(2, H, W)`` with a numpy image; torch ``(B, 2, H, W)`` (or ``(2, H, W)``,
            broadcast over the batch) with a tensor image. Pixels, ``(dx, dy)``.

    Returns:
        numpy in: an array of ``image``'s shape, uint8 (rounded) for uint8 input, else float32.
        torch in: a ``(B, C, H, W)`` tensor with ``image``'s dtype and device.
    """
    import torch

    if isinstance(image, torch.Tensor):
        if not isinstance(flow, torch.Tensor):
            flow = torch.as_tensor(np.asarray(flow))
        return _warp_tensor(image, flow)

    arr = np.asarray(image)
    if arr.ndim not in (2, 3):
        raise InputError(f"image: expected (H, W) or (H, W, C), got shape {arr.shape}")
    flow_np = _check_flow(np.asarray(flow), "flow", arr.shape[:2])
    planes = arr[..., None] if arr.ndim == 2 else arr
    x = torch.from_numpy(np.ascontiguousarray(planes, dtype=np.float32)).permute(2, 0, 1)[None]
    out = _warp_tensor(x, torch.from_numpy(flow_np)[None])[0].permute(1, 2, 0).numpy()
    out = out[..., 0] if arr.ndim == 2 else out
    if arr.dtype == np.uint8:
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(out, dtype=np.float32)


def _warp_tensor(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``image (B, C, H, W)`` sampled at ``x + flow``; ``flow (B, 2, H, W)`` or ``(2, H, W)``."""
    import torch
    import torch.nn.functional as F

    if image.ndim != 4:
        raise InputError(f"image: expected a (B, C, H, W) tensor, got shape {tuple(image.shape)}")
    if flow.ndim == 3:
        flow = flow[None]
    b, _, h, w = image.shape
    if flow.ndim != 4 or flow.shape[1] != 2 or flow.shape[-2:] != (h, w):
        raise InputError(f"flow: expected (B, 2, {h}, {w}), got shape {tuple(flow.shape)}")
    if flow.shape[0] not in (1, b):
        raise InputError(f"flow: batch {flow.shape[0]} does not match the image's batch {b}")
    # Sample in float32: half-precision grids lose sub-pixel accuracy on large frames.
    flow = flow.to(device=image.device, dtype=torch.float32)
    ys, xs = torch.meshgrid(
        torch.arange(h, device=image.device, dtype=torch.float32),
        torch.arange(w, device=image.device, dtype=torch.float32),
        indexing="ij",
    )
    gx = (xs + flow[:, 0]) * (2.0 / max(w - 1, 1)) - 1.0
    gy = (ys + flow[:, 1]) * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack((gx, gy), dim=-1).expand(b, h, w, 2)
    out = F.grid_sample(
        image.float(), grid, mode="bilinear", padding_mode="border", align_corners=True
    )
    return out.to(image.dtype)


def occlusion_mask(
    flow_fwd: np.ndarray, flow_bwd: np.ndarray, alpha1: float = 0.01, alpha2: float = 0.5
) -> np.ndarray:
    """Visibility by the forward–backward consistency check.

    Sundaram, Brox & Keutzer, "Dense Point Trajectories by GPU-Accelerated Large Displacement
    Optical Flow", ECCV 2010 (eq. 5): with ``f`` the flow a→b at ``x`` and ``b̃ = b(x + f)`` the
    flow b→a sampled there (bilinear), ``x`` is occluded where

        |f + b̃|² > alpha1 · (|f|² + |b̃|²) + alpha2

    Pixels whose target ``x + f`` falls outside frame ``b`` have no correspondence and are marked
    not visible as well.

    Args:
        flow_fwd: ``(2, H, W)`` flow from a to b (pixels).
        flow_bwd: ``(2, H, W)`` flow from b to a (pixels).
        alpha1: relative tolerance (0.01 in the paper).
        alpha2: absolute tolerance in px² (0.5 in the paper).

    Returns:
        ``(H, W)`` bool in ``a``'s frame, True where visible (consistent) in both frames.
    """
    fwd = _check_flow(flow_fwd, "flow_fwd")
    bwd = _check_flow(flow_bwd, "flow_bwd", fwd.shape[1:])
    bwd_at = warp(bwd.transpose(1, 2, 0), fwd).transpose(2, 0, 1)  # b(x + f), (2, H, W)
    mismatch = ((fwd + bwd_at) ** 2).sum(0)
    tolerance = alpha1 * ((fwd**2).sum(0) + (bwd_at**2).sum(0)) + alpha2
    h, w = fwd.shape[1:]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    tx, ty = xs + fwd[0], ys + fwd[1]
    inside = (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
    return (mismatch <= tolerance) & inside


def flow_pair(
    frame_a: np.ndarray,
    frame_b: np.ndarray,
    backend: str = "dis",
    *,
    weights: str | Path | None = None,
    device: str = "cpu",
    alpha1: float = 0.01,
    alpha2: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forward flow, backward flow and visibility of ``frame_a`` in ``frame_b``.

    Args:
        frame_a, frame_b: ``(H, W, 3)`` RGB uint8 (see :func:`estimate`).
        backend, weights, device: as for :func:`estimate`.
        alpha1, alpha2: tolerances of :func:`occlusion_mask`.

    Returns:
        ``(fwd, bwd, visible)``: ``fwd`` a→b and ``bwd`` b→a, each ``(2, H, W)`` float32;
        ``visible`` ``(H, W)`` bool in ``a``'s frame (True where the fwd–bwd check passes).
    """
    fwd = estimate(frame_a, frame_b, backend, weights=weights, device=device)
    bwd = estimate(frame_b, frame_a, backend, weights=weights, device=device)
    return fwd, bwd, occlusion_mask(fwd, bwd, alpha1, alpha2)
