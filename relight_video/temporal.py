"""Temporal consistency for the diffusion engine (DESIGN.md, "Temporal consistency").

1. Shared noise: the engine draws one seeded initial noise per clip.
2. Flow: forward and backward flow between consecutive *input* frames at working resolution
   (:func:`relight_video.flow.flow_pair`; DIS by default, RAFT from a local weights file), with
   the forward–backward occlusion test of Sundaram, Brox & Keutzer (ECCV 2010).
3. Guidance: during the first ``fraction`` of the sampling steps the predicted clean residual
   ``x0`` is blended with the previous frame's ``x0`` *of the same step* warped into this frame
   (both frames start from the shared noise, so the two are equally far along), on foreground
   pixels the occlusion test marks visible (the cross-frame constraint of Rerender-A-Video, Yang
   et al. SIGGRAPH Asia 2023, applied to x0 as in its "shape-aware fusion"); the rest of the
   frame, and the later steps, denoise freely.
   Where the *keyed* light changed since the last frame (the video loop sets
   ``last_keys_plate``), the frame is also run under the last frame's keys (in the same batch,
   with the same noise), and the fusion moves x0 by ``m · (warped previous x0 − x0 under the
   last keys)``: what the keys changed passes at once (an average would ease it in a few
   frames late), what else changed is smoothed.
4. The low-frequency gain of the detail transfer is also smoothed over time by the same warp
   (and, under a keyed change, the same way).
5. The subject's full-resolution pixels are stabilised (:class:`Stabilizer`): before the gain is
   applied, each visible foreground pixel of the footage is pulled towards the last frame's
   stabilised pixel brought here along the same flow (a motion-compensated recursive filter,
   as temporal noise reducers work; the goal and the measure are Lai et al.'s, ECCV 2018).
   The detail transfer keeps the footage's own frame-to-frame change, grain and compression
   noise included, so without this step the output can be no steadier than the footage.
   It filters the footage, not the light: keyed light changes pass at once.

Only the previous input frame, its per-step ``x0`` (a few model-size tensors), the gain and
one full-resolution frame (the stabilised subject) are kept: memory is flat in clip length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relight_video.config import stabilize_weight
from relight_video.errors import InputError


@dataclass
class TemporalState:
    frame: np.ndarray  # (h, w, 3) uint8, previous input at working size
    x0: list | None = None  # per sampling step, torch (1, C, mh, mw): previous frame's x0
    window: tuple[int, int, int, int] | None = None  # the model's window (engine.window)


def _resize_flow(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(2, h, w)`` flow → ``(2, H, W)`` at ``size = (W, H)``, vectors rescaled."""
    import cv2

    _, h, w = flow.shape
    W, H = size
    fx = cv2.resize(flow[0], (W, H), interpolation=cv2.INTER_LINEAR) * (W / w)
    fy = cv2.resize(flow[1], (W, H), interpolation=cv2.INTER_LINEAR) * (H / h)
    return np.stack([fx, fy]).astype(np.float32)


class FlowGuidedEngine:
    """Wraps an engine that accepts an ``x0_hook`` (the diffusion engine) with flow guidance.

    Args:
        engine: the wrapped engine (``harmonize``, ``reset``, ``x0_hook``, ``model_size``).
        fraction: share of the sampling steps during which x0 is fused (0..1).
        weight: blend weight of the warped previous x0 on visible foreground pixels (0..1).
        gain_smoothing: weight of the warped previous gain in the detail transfer (0..1).
        stabilize: weight of the last frame's stabilised subject in this frame's (0 <= k < 1;
            0 turns :class:`Stabilizer` off); the video loop reads it.
        backend / weights: optical flow backend (``dis``, ``raft_small``, ``raft_large``).
    """

    def __init__(
        self,
        engine,
        *,
        fraction: float = 0.6,
        weight: float = 0.8,
        gain_smoothing: float = 0.5,
        stabilize: float = 0.5,
        backend: str = "dis",
        weights: str | None = None,
        device: str = "cpu",
    ):
        if not hasattr(engine, "x0_hook"):
            raise InputError(f"temporal guidance needs the diffusion engine, not {engine.name!r}")
        for name, v in (
            ("fraction", fraction),
            ("weight", weight),
            ("gain_smoothing", gain_smoothing),
        ):
            if not 0.0 <= v <= 1.0:
                raise InputError(f"temporal.{name}: expected 0..1, got {v}")
        self.stabilize = stabilize_weight(stabilize)
        self.engine, self.name = engine, engine.name
        self.fraction, self.weight, self.gain_smoothing = fraction, weight, gain_smoothing
        self.backend, self.weights, self.device = backend, weights, device
        self.state: TemporalState | None = None
        self._flow_ws = None  # backward flow at working size: current frame -> previous frame
        self._visible_ws = None
        self._gain: np.ndarray | None = None  # the last frame's smoothed detail-transfer gain
        # set by the video loop before each frame when the *keyed* light changed since the
        # last frame: this frame's plate under the last frame's keys (see harmonize)
        self.last_keys_plate: np.ndarray | None = None
        self._env_last = None  # the last frame's env-map light (the engine's input) or None
        self._relit = None  # (fg, output, alpha) of this frame under the last frame's keys

    def reset(self) -> None:
        self.engine.reset()
        self.state = None
        self._gain = None
        self._env_last = None
        self._relit = None

    def _env_input(self):
        """The env-map light the engine holds (its prepared model input), or None."""
        return getattr(self.engine, "_env_input", None)

    @property
    def supports_env(self) -> bool:
        return self.engine.supports_env

    def set_env(self, env, exposure: float | None = None) -> None:
        self.engine.set_env(env, exposure)

    def harmonize(self, fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray) -> np.ndarray:
        """Same contract as the wrapped engine, with guidance from the previous frame."""
        import torch

        from relight_video.flow import flow_pair, warp

        frame = (np.clip(fg, 0, 1) * 255 + 0.5).astype(np.uint8)
        win = self.engine.window(alpha) if hasattr(self.engine, "window") else None
        win = win or (0, 0, frame.shape[1], frame.shape[0])
        wx0, wy0, wx1, wy1 = win
        mw, mh = self.engine.model_size(wx1 - wx0, wy1 - wy0)
        self._flow_ws = None
        mask = flow_m = prev_x0 = None
        if self.state is not None and self.state.x0 is not None:
            # flow from this frame to the previous one, to pull the previous result here
            fwd, bwd, visible = flow_pair(
                frame,
                self.state.frame,
                backend=self.backend,
                weights=self.weights,
                device=self.device,
            )
            self._flow_ws, self._visible_ws = fwd, visible & (alpha > 0.5)
            px0, py0, px1, py1 = self.state.window
            if (px1 - px0, py1 - py0) == (wx1 - wx0, wy1 - wy0):  # else: no x0 fusion
                import cv2

                # the model's x0 lives in its window: window pixel q is frame pixel q + o_cur,
                # whose previous position q + o_cur + flow sits at that minus o_prev in the
                # previous window
                offset = np.array([wx0 - px0, wy0 - py0], np.float32)[:, None, None]
                flow_win = fwd[:, wy0:wy1, wx0:wx1] + offset
                flow_m = torch.from_numpy(_resize_flow(flow_win, (mw, mh)))[None]
                vis_m = cv2.resize(
                    self._visible_ws[wy0:wy1, wx0:wx1].astype(np.float32),
                    (mw, mh),
                    interpolation=cv2.INTER_AREA,
                )
                mask = torch.from_numpy(vis_m)[None, None] * self.weight
                flow_m = flow_m.to(self.state.x0[0].device)
                prev_x0 = self.state.x0
        fraction, steps_x0 = self.fraction, []

        def fuse(i: int, n: int, x0: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
            # step i is fused with the previous frame's x0 *at the same step*: both frames
            # start from one shared noise, so their step-i predictions are equally far along
            # (fusing an early x0 with a finished one feeds back and over-sharpens, frame
            # after frame). x0 moves towards the warped previous x0 by m times its difference
            # from ref, this frame's x0 under the last frame's keyed light: a keyed change of
            # light passes at once, what else changed (motion, the matte, a moving plate)
            # is smoothed.
            if prev_x0 is not None and i < fraction * n and i < len(prev_x0):
                prev = warp(prev_x0[i], flow_m).to(x0.dtype)
                m = mask.to(x0.device, x0.dtype)
                x0 = x0 * (1 - m) + prev * m if ref is x0 else x0 + m * (prev - ref)
            return x0

        self._relit = None
        if prev_x0 is not None and self.last_keys_plate is not None:
            # one batch: this frame under this light and under the last frame's keyed light

            def hook(i: int, n: int, x0: torch.Tensor) -> torch.Tensor:
                now, last = x0.chunk(2)
                now = fuse(i, n, now, last)
                steps_x0.append(now.detach().clone())
                return torch.cat([now, fuse(i, n, last, last)])

            self.engine.x0_hook = hook
            alt = (self.last_keys_plate, self._env_last)
            out, out_last = self.engine.harmonize(fg, alpha, bg, alt=alt)
            self._relit = (fg, out_last, alpha)  # lowfreq_gain's order
        else:

            def hook(i: int, n: int, x0: torch.Tensor) -> torch.Tensor:
                x0 = fuse(i, n, x0, x0)
                steps_x0.append(x0.detach().clone())
                return x0

            self.engine.x0_hook = hook
            out = self.engine.harmonize(fg, alpha, bg)
        self.state = TemporalState(frame=frame, x0=steps_x0, window=win)
        self._env_last = self._env_input()
        return out

    def motion(self) -> tuple[np.ndarray, np.ndarray] | None:
        """This frame's motion for :class:`Stabilizer`: ``(flow, visible)`` at working size (the
        flow from this input frame to the last one; visible: the occlusion test passed on the
        foreground), or None on a clip's or a shot's first frame."""
        if self._flow_ws is None:
            return None
        return self._flow_ws, self._visible_ws

    def smooth_gain(self, gain: np.ndarray) -> np.ndarray:
        """Blend this frame's detail-transfer gain with the previous one warped here (as the
        x0 fusion: by its difference from this frame's gain under the last frame's keys, where
        the keyed light changed)."""
        from relight_video.detail import lowfreq_gain
        from relight_video.flow import warp

        prev = self._gain
        if prev is not None and self._flow_ws is not None and prev.shape == gain.shape:
            warped = warp(prev, self._flow_ws)
            k = self.gain_smoothing * self._visible_ws[..., None].astype(np.float32)
            if self._relit is None:
                gain = gain * (1 - k) + warped * k
            else:  # minus what the change of light did
                gain = gain + k * (warped - lowfreq_gain(*self._relit))
        self._gain = gain
        return gain


class Stabilizer:
    """Motion-compensated recursive filter of the subject at full resolution.

    ``out_t = fg_t + k · v · (c · warp(out_{t−1}, flow_t) − fg_t)``, with ``v`` the visibility of
    the foreground (occlusion test ∧ matte > 0.5, at working size, upsampled), ``k`` the weight
    and ``c`` a colour gain per channel that matches the warped frame's mean to this frame's
    over the blended pixels (so the footage's own exposure or colour changes are not delayed):
    where the subject moved, its last stabilised pixels are brought here along the input's flow
    (bicubic, so a sub-pixel warp repeated frame after frame softens detail less than bilinear
    would) and blended in; disoccluded pixels, the background and the matte's edge keep this
    frame's footage. The footage's frame-to-frame noise (grain, compression) falls by about
    ``(1 − k) / (1 + k)`` in variance on still content; the light is not touched (it is the gain
    applied afterwards), so keyed changes of light pass at once.

    One full-resolution frame is kept. A frame without motion (``None``: a clip's first frame
    or a cut) starts afresh.
    """

    def __init__(self, weight: float):
        self.weight = stabilize_weight(weight)
        self._last: np.ndarray | None = None

    def __call__(self, fg: np.ndarray, motion: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
        """``fg (H, W, 3) uint8`` (this frame's footage) → the stabilised footage, uint8."""
        import cv2

        last, self._last = self._last, fg
        if motion is None or last is None or last.shape != fg.shape or self.weight == 0:
            return fg
        flow_ws, visible_ws = motion
        rows, cols = np.flatnonzero(visible_ws.any(1)), np.flatnonzero(visible_ws.any(0))
        if rows.size == 0:
            return fg
        H, W = fg.shape[:2]
        h, w = visible_ws.shape
        sx, sy = W / w, H / h
        # the subject's box, with one working pixel of margin: working columns c0..c1 cover
        # full-resolution columns x0..x1 (to within a pixel, where W / w is fractional; the
        # flow and the visibility are smooth at that scale)
        c0, c1 = max(0, cols[0] - 1), min(w, cols[-1] + 2)
        r0, r1 = max(0, rows[0] - 1), min(h, rows[-1] + 2)
        x0, x1 = round(c0 * sx), min(W, round(c1 * sx))
        y0, y1 = round(r0 * sy), min(H, round(r1 * sy))
        size = (x1 - x0, y1 - y0)

        def up(a: np.ndarray, scale: float) -> np.ndarray:  # the box of a working-size map,
            small = a[r0:r1, c0:c1].astype(np.float32) * np.float32(scale)  # at full size
            return cv2.resize(small, size, interpolation=cv2.INTER_LINEAR)  # (one channel at
            # a time: OpenCV resizes a 3-channel float image 7x slower than three single ones)

        map_x = up(flow_ws[0], sx) + np.arange(x0, x1, dtype=np.float32)
        map_y = up(flow_ws[1], sy) + np.arange(y0, y1, dtype=np.float32)[:, None]
        warped = cv2.remap(last, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        k = up(visible_ws, self.weight)
        # the footage's own global changes (an exposure ramp, a white-balance drift) are
        # picture, not noise: the warped last frame is matched to this one's mean colour on
        # the blended pixels first (on about 2^16 of them), so they pass at once
        step = max(1, int((size[0] * size[1] / 65536) ** 0.5))
        sub = np.s_[::step, ::step]
        kw = k[sub][..., None]
        num = (fg[y0:y1, x0:x1][sub].astype(np.float32) * kw).sum((0, 1))
        den = (warped[sub].astype(np.float32) * kw).sum((0, 1))
        match = np.clip((num + 1.0) / (den + 1.0), 0.5, 2.0).astype(np.float32)
        # as a per-channel table: the same rounding as cv2.multiply, about 5x faster
        table = np.clip(np.rint(np.arange(256, dtype=np.float32)[:, None] * match), 0, 255)
        warped = cv2.LUT(warped, table.astype(np.uint8).reshape(256, 1, 3))
        out = fg.copy()
        out[y0:y1, x0:x1] = cv2.blendLinear(warped, fg[y0:y1, x0:x1], k, 1.0 - k)
        self._last = out
        return out
