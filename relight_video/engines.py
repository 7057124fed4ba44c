"""Engines by name. Every engine has ``reset()`` (new clip) and
``harmonize(fg, alpha, bg) -> fg'`` on ``(h, w, 3) float32`` sRGB in [0, 1] at working size."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from relight_video.config import ENGINES, RunConfig
from relight_video.errors import InputError


class Engine(Protocol):
    name: str

    def reset(self) -> None: ...

    def harmonize(self, fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray) -> np.ndarray: ...


def make_engine(cfg: RunConfig) -> Engine:
    """Build the engine ``cfg.engine`` names."""
    from relight_video.classical import ClassicalEngine, CompositeEngine

    if cfg.engine == "classical":
        return ClassicalEngine(cfg.classical)
    if cfg.engine == "composite":
        return CompositeEngine()
    if cfg.engine == "diffusion":
        from relight_video.diffusion_engine import DiffusionEngine

        engine = DiffusionEngine(
            cfg.diffusion,
            cfg.checkpoint,
            cfg.device,
            cfg.seed,
            shared_noise=cfg.temporal.noise == "shared",
        )
        if cfg.temporal.mode == "none":
            return engine
        from relight_video.temporal import FlowGuidedEngine

        t = cfg.temporal
        return FlowGuidedEngine(
            engine,
            fraction=t.fraction,
            weight=t.weight,
            gain_smoothing=t.gain_smoothing,
            stabilize=t.stabilize,
            backend=t.flow_backend,
            weights=t.flow_weights,
            device=cfg.device,
        )
    raise InputError(f"engine: expected one of {', '.join(ENGINES)}, got {cfg.engine!r}")
